"""The search-parameter registry: the FHIR R4 definitions, JP Core's, and stored ones, per type.

Nothing here is a hand-picked list: every parameter comes from a SearchParameter definition
(federation/fhir/spec/, or a SearchParameter resource taken in by reindex). A definition the engine
cannot serve (no expression, type `special`) is left out, so the CapabilityStatement never lists it.

Stored definitions change at runtime: each process re-reads them when their version changes,
checking at most every REFRESH_SECONDS (refresh_registry() forces it, e.g. after a reindex).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from typing import Any, NamedTuple

from django.db.models import Count, Max

from federation.fhir.spec import SPEC_DIR, served_resource_types
from federation.models import SearchParameterDefinition
from federation.search.fhirpath import ElementPath, selected_elements
from federation.search.hashing import hash64
from federation.search.values import never_indexed

SPEC_FILES = ("search-parameters.json", "jp-core-search-parameters.json")
SERVED_TYPES = frozenset({"number", "date", "string", "token", "reference", "composite", "quantity", "uri"})
ABSTRACT_BASES = frozenset({"Resource", "DomainResource"})
COMMON = "Resource"  # the registry entry holding the parameters every type has, for system search
# Served from the resource row, not from index tables: its columns (logical_id, last_updated), and its content's
# meta.source and meta.profile through expression indexes (federation.search.meta_parameters).
ROW_PARAMETERS = frozenset({"_id", "_lastUpdated", "_source", "_profile"})
REFRESH_SECONDS = 5.0


@dataclass(frozen=True)
class Component:
    """One part of a composite parameter: the component's definition and its relative expression."""

    definition: str
    expression: str


@dataclass(frozen=True)
class SearchParameter:
    """One parameter as it applies to one resource type."""

    code: str
    type: str
    resource_type: str
    key_type: str  # "Resource" for parameters every type shares (_tag...), so one key serves them all
    expression: str
    url: str
    targets: tuple[str, ...]
    components: tuple[Component, ...]
    description: str
    # The parameters whose rows are this one's too, when its expression is the union of theirs on this type
    # (Observation's combo-code is code | component-code): it has no rows of its own (see _with_unions).
    union_of: tuple[str, ...] = ()
    # The parameters whose rows are this composite's parts, one for each, when it is a composite of the resource
    # itself (Observation's code-value-quantity: code, value-quantity): no rows of its own (see _with_shared_parts).
    parts_from: tuple[str, ...] = ()
    # For a reference parameter that keeps another's references to one target type (Observation's patient is
    # `Observation.subject.where(resolve() is Patient)`): that parameter and the type. Its references are that
    # parameter's rows naming the type; only its `:identifier` rows are its own (see _with_narrowings).
    narrows: Narrowing | None = None


class Narrowing(NamedTuple):
    parameter: str  # the code of the parameter whose reference rows these are
    target_type: str


@cache
def spec_definitions() -> tuple[dict[str, Any], ...]:
    """Every SearchParameter definition from the vendored specification files."""
    found: list[dict[str, Any]] = []
    for name in SPEC_FILES:
        bundle = json.loads((SPEC_DIR / name).read_text(encoding="utf-8"))
        found += [entry["resource"] for entry in bundle["entry"]]
    return tuple(found)


@dataclass
class _Cache:
    version: tuple[int, Any] | None = None
    checked_at: float = float("-inf")
    searchable: dict[str, dict[str, SearchParameter]] | None = None
    indexed: dict[str, dict[str, SearchParameter]] | None = None


_cache = _Cache()


def refresh_registry() -> None:
    """Re-read stored definitions now (other processes follow within REFRESH_SECONDS)."""
    _cache.checked_at = float("-inf")
    _cache.version = None


def _registry(*, for_indexing: bool = False) -> dict[str, dict[str, SearchParameter]]:
    now = time.monotonic()
    if now - _cache.checked_at > REFRESH_SECONDS:
        version = _stored_version()
        if version != _cache.version or _cache.searchable is None:
            stored = list(SearchParameterDefinition.objects.order_by("pk").values_list("definition", "active"))
            active = [definition for definition, is_active in stored if is_active]
            _cache.searchable = _build([*spec_definitions(), *active])
            # The same definitions (none waiting for a reindex, as most of the time): built once, shared.
            everything_active = len(active) == len(stored)
            _cache.indexed = (
                _cache.searchable if everything_active else _build([*spec_definitions(), *(d for d, _ in stored)])
            )
            _cache.version = version
        _cache.checked_at = now  # only once the registry is built: a failed read is retried
    registry = _cache.indexed if for_indexing else _cache.searchable
    assert registry is not None
    return registry


def _stored_version() -> tuple[int, Any]:
    summary = SearchParameterDefinition.objects.aggregate(count=Count("pk"), latest=Max("updated_at"))
    return summary["count"], summary["latest"]


def _build(all_definitions: list[dict[str, Any]]) -> dict[str, dict[str, SearchParameter]]:
    by_type: dict[str, dict[str, SearchParameter]] = {name: {} for name in served_resource_types() | {COMMON}}
    for definition in all_definitions:
        if definition.get("type") not in SERVED_TYPES or not definition.get("expression"):
            continue
        for base in definition["base"]:
            bases = served_resource_types() | {COMMON} if base in ABSTRACT_BASES else {base} & served_resource_types()
            for resource_type in bases:
                by_type[resource_type][definition["code"]] = _parameter(definition, resource_type)
    return {
        resource_type: _with_narrowings(_with_shared_parts(_with_unions(parameters, resource_type), resource_type))
        for resource_type, parameters in by_type.items()
    }


def _with_unions(parameters: dict[str, SearchParameter], resource_type: str) -> dict[str, SearchParameter]:
    """The parameters, those whose expression on this type is exactly the union of others' marked as such.

    Observation's combo-code (`Observation.code | Observation.component.code`) finds what code and
    component-code find, so it is searched on their rows: storing its own duplicated a tenth of an
    Observation's index rows. combo-code-value-quantity (`Observation | Observation.component`, parts code
    and value) is likewise code-value-quantity or component-code-value-quantity. Only parameters of one search
    type (composites: with the same parts), specific to the type, qualify; parameters are taken smallest first,
    so a member is never itself a union."""
    types = {parameter.url: parameter.type for parameter in parameters.values()}
    kinds = {code: kind for code, parameter in parameters.items() if (kind := _kind(types, parameter))}
    pieces = {
        code: found
        for code, parameter in parameters.items()
        if code in kinds and _may_share_rows(parameter) and (found := _pieces(parameter))
    }
    members_of: dict[str, tuple[str, ...]] = {}
    for code in sorted(pieces, key=lambda code: len(pieces[code])):
        own = pieces[code]
        members = tuple(
            sorted(
                other
                for other, theirs in pieces.items()
                if theirs < own and other not in members_of and kinds[other] == kinds[code]
            )
        )
        if len(own) > 1 and members and frozenset().union(*(pieces[member] for member in members)) == own:
            members_of[code] = members
    return {
        code: replace(parameter, union_of=members_of[code]) if code in members_of else parameter
        for code, parameter in parameters.items()
    }


def _with_shared_parts(parameters: dict[str, SearchParameter], resource_type: str) -> dict[str, SearchParameter]:
    """The parameters, composites of the resource itself marked with the parameters their parts' rows are.

    Observation's code-value-quantity (expression `Observation`, parts `code` and `value.as(Quantity)`) has one
    value a resource, the resource: its parts need no group to tie them, and each selects what a parameter of the
    type stores already (code; value-quantity, whose SampledData gives no quantity). Such a composite is searched
    on those parameters' rows (every part must match, each in its own): storing its own repeated a lab
    Observation's code and value, two rows in fifteen of an ingest. A part that selects otherwise (code-value-
    string's `value.as(string)`, where value-string also reads a CodeableConcept's text) keeps the composite's
    own rows."""
    by_url = {parameter.url: parameter for parameter in parameters.values()}
    marked = {}
    for code, parameter in parameters.items():
        # By its text first: what an expression selects is read off the type's model, and loading the models of
        # every type with a composite (the useContext ones) cost each ingest process 15 MB for nothing.
        if parameter.type != "composite" or not _may_share_rows(parameter) or _pieces(parameter) != {resource_type}:
            continue
        members = [_part_parameter(by_url, component, resource_type) for component in parameter.components]
        codes = tuple(member.code for member in members if member is not None)
        if codes and len(codes) == len(members):
            marked[code] = replace(parameter, parts_from=codes)
    return {**parameters, **marked}


def _part_parameter(
    by_url: dict[str, SearchParameter], component: Component, resource_type: str
) -> SearchParameter | None:
    """The component's definition, if its own rows are what the component selects on the resource itself."""
    definition = by_url.get(component.definition)
    if definition is None or definition.type == "composite" or definition.union_of or not _may_share_rows(definition):
        return None
    stored = _indexed_elements(definition.expression, definition.type, resource_type)
    wanted = _indexed_elements(component.expression, definition.type, resource_type)
    return definition if stored is not None and stored == wanted else None


def _indexed_elements(expression: str, search_type: str, resource_type: str) -> frozenset[ElementPath] | None:
    """What an expression selects that a parameter of `search_type` makes rows of (fhirpath.selected_elements)."""
    selected = selected_elements(expression, resource_type)
    if selected is None:
        return None
    return frozenset(element for element in selected if not never_indexed(search_type, element[1]))


NARROWED = re.compile(r"^(?P<path>.+)\.where\(resolve\(\) is (?P<type>[A-Z][A-Za-z]*)\)$")


def _with_narrowings(parameters: dict[str, SearchParameter]) -> dict[str, SearchParameter]:
    """The parameters, those that keep another's references to one target type marked as such.

    Observation's patient (`Observation.subject.where(resolve() is Patient)`) finds what subject finds when it
    names a Patient: its reference rows are subject's rows whose target type is Patient (a local reference's
    type, or an absolute URL's type segment, as `resolve() is` reads them: values.reference_key), so it is
    searched on those and stores none: they repeated subject's, nearly one row a clinical resource. Its
    `:identifier` rows stay its own: an identifier-only reference names no type."""
    plain = {
        " | ".join(sorted(pieces)): code
        for code, parameter in parameters.items()
        if parameter.type == "reference" and _type_specific(parameter) and (pieces := _pieces(parameter))
    }
    marked = {}
    for code, parameter in parameters.items():
        pieces = _pieces(parameter) if parameter.type == "reference" and _type_specific(parameter) else frozenset()
        narrowed = NARROWED.match(next(iter(pieces))) if len(pieces) == 1 else None
        wider = plain.get(narrowed["path"]) if narrowed else None
        if narrowed and wider and wider != code:
            marked[code] = replace(parameter, narrows=Narrowing(wider, narrowed["type"]))
    return {**parameters, **marked}


def _type_specific(parameter: SearchParameter) -> bool:
    return parameter.key_type == parameter.resource_type and parameter.code not in ROW_PARAMETERS


def _may_share_rows(parameter: SearchParameter) -> bool:
    return parameter.type in ("token", "string", "date", "number", "quantity", "uri", "composite") and _type_specific(
        parameter
    )


def _kind(types: dict[str, str], parameter: SearchParameter) -> tuple[str, ...]:
    """What rows a parameter has: its search type, and a composite's parts (expression and search type each);
    empty for a composite with a part whose definition is not in `types` (the type's parameters', by URL)."""
    if parameter.type != "composite":
        return (parameter.type,)
    if any(component.definition not in types for component in parameter.components):
        return ()
    parts = (f"{component.expression} as {types[component.definition]}" for component in parameter.components)
    return (parameter.type, *parts)


def _pieces(parameter: SearchParameter) -> frozenset[str]:
    """The members of a parameter's expression (`A | B | ...` at its top level) that apply to its type; none when
    a member starts from no resource type (a constant, `%resource`)."""
    found, depth, quoted, start = [], 0, False, 0
    expression = parameter.expression
    for position, char in enumerate(expression):
        if char == "'" and (position == 0 or expression[position - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]":
            depth -= 1
        elif not quoted and depth == 0 and char == "|":
            found.append(expression[start:position].strip())
            start = position + 1
    found.append(expression[start:].strip())
    if any(_root(piece) is None for piece in found):
        return frozenset()
    return frozenset(piece for piece in found if _root(piece) == parameter.resource_type)


def _root(piece: str) -> str | None:
    """The resource type a member of a union starts from (`(Observation.value as Quantity)`, or a composite's
    `Observation`: Observation)."""
    name = piece.lstrip("(").split(".", 1)[0]
    return name if name[:1].isupper() and name.isalpha() else None


def _parameter(definition: dict[str, Any], resource_type: str) -> SearchParameter:
    return SearchParameter(
        code=definition["code"],
        type=definition["type"],
        resource_type=resource_type,
        key_type="Resource" if set(definition["base"]) & ABSTRACT_BASES else resource_type,
        expression=definition["expression"],
        url=definition["url"],
        targets=tuple(definition.get("target", ())),
        components=tuple(
            Component(definition=part["definition"], expression=part["expression"])
            for part in definition.get("component", ())
        ),
        description=definition.get("description", ""),
    )


def parameters_for(resource_type: str, *, for_indexing: bool = False) -> dict[str, SearchParameter]:
    """The parameters searchable on a type (or on every type: "Resource"), by code.

    `for_indexing` adds stored definitions still waiting for their reindex: writes index them
    already, searches offer them only once the reindex is done.
    """
    return _registry(for_indexing=for_indexing).get(resource_type, {})


def parameter_by_url(url: str, resource_type: str) -> SearchParameter | None:
    """A composite's component, found by its definition URL, for the same type."""
    for parameter in parameters_for(resource_type, for_indexing=True).values():
        if parameter.url == url:
            return parameter
    return None


def index_key(parameter: SearchParameter, suffix: str = "") -> int:
    """The 64-bit key of a parameter's rows (`suffix` for derived rows: `:text`, `$0`...)."""
    return _parameter_key(parameter.key_type, parameter.code, suffix)


def index_keys(parameter: SearchParameter, suffix: str = "") -> tuple[int, ...]:
    """The keys of the rows a search of the parameter reads: its own, its members' for a union, or for a narrowing
    the wider parameter's (of which `narrowed_rows` keeps those naming its type)."""
    if parameter.narrows is not None and not suffix:
        return (_parameter_key(parameter.key_type, parameter.narrows.parameter, ""),)
    if not parameter.union_of:
        return (index_key(parameter, suffix),)
    return tuple(_parameter_key(parameter.key_type, code, suffix) for code in parameter.union_of)


def narrowed_rows(parameter: SearchParameter) -> dict[str, str]:
    """What a reference parameter's rows (at `index_keys`) must hold besides: for a narrowing, the target type."""
    return {} if parameter.narrows is None else {"target_type": parameter.narrows.target_type}


class CompositeRows(NamedTuple):
    """Where one composite's values are: each part's rows' key, in the composite's order, and whether the parts
    of one value are tied by their group (not so for a composite of the resource itself: _with_shared_parts)."""

    keys: tuple[int, ...]
    grouped: bool


def composite_rows(parameter: SearchParameter) -> tuple[CompositeRows, ...]:
    """Where a composite's values are: its own rows, its parts' parameters' rows, or, for a union (combo-code-
    value-quantity), those of each of its members."""
    indexed = parameters_for(parameter.resource_type, for_indexing=True)
    found = []
    for member in [indexed[code] for code in parameter.union_of] or [parameter]:
        if member.parts_from:
            found.append(CompositeRows(tuple(index_key(indexed[code]) for code in member.parts_from), grouped=False))
        else:
            parts = range(len(member.components))
            found.append(CompositeRows(tuple(index_key(member, f"${number}") for number in parts), grouped=True))
    return tuple(found)


@lru_cache(maxsize=4096)  # asked for several times for every resource written; a few hundred in use
def _parameter_key(key_type: str, code: str, suffix: str) -> int:
    return hash64(key_type, code + suffix)


def searchable(parameter: SearchParameter) -> bool:
    """Whether the engine can answer this parameter (a composite needs every component's definition)."""
    if parameter.type != "composite":
        return True
    return all(
        parameter_by_url(component.definition, parameter.resource_type) is not None
        for component in parameter.components
    )
