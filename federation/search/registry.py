"""The search-parameter registry: the FHIR R4 definitions plus JP Core's, per resource type.

Nothing here is a hand-picked list: every parameter comes from a SearchParameter definition
(federation/fhir/spec/). A definition the engine cannot serve (no expression, type `special`) is
left out, so the CapabilityStatement never lists it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from federation.fhir.spec import SPEC_DIR, served_resource_types
from federation.search.hashing import hash64

SPEC_FILES = ("search-parameters.json", "jp-core-search-parameters.json")
SERVED_TYPES = frozenset({"number", "date", "string", "token", "reference", "composite", "quantity", "uri"})
ABSTRACT_BASES = frozenset({"Resource", "DomainResource"})
COMMON = "Resource"  # the registry entry holding the parameters every type has, for system search
# Served from columns of the resource row (logical_id, last_updated), not from index tables.
COLUMN_PARAMETERS = frozenset({"_id", "_lastUpdated"})


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


def definitions() -> list[dict[str, Any]]:
    """Every SearchParameter definition from the vendored specification files."""
    found: list[dict[str, Any]] = []
    for name in SPEC_FILES:
        bundle = json.loads((SPEC_DIR / name).read_text(encoding="utf-8"))
        found += [entry["resource"] for entry in bundle["entry"]]
    return found


@cache
def _registry() -> dict[str, dict[str, SearchParameter]]:
    by_type: dict[str, dict[str, SearchParameter]] = {name: {} for name in served_resource_types() | {COMMON}}
    for definition in definitions():
        if definition.get("type") not in SERVED_TYPES or not definition.get("expression"):
            continue
        for base in definition["base"]:
            bases = served_resource_types() | {COMMON} if base in ABSTRACT_BASES else {base} & served_resource_types()
            for resource_type in bases:
                by_type[resource_type][definition["code"]] = _parameter(definition, resource_type)
    return by_type


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


def parameters_for(resource_type: str) -> dict[str, SearchParameter]:
    """The parameters searchable on a type (or on every type: "Resource"), by code."""
    return _registry().get(resource_type, {})


def parameter_by_url(url: str, resource_type: str) -> SearchParameter | None:
    """A composite's component, found by its definition URL, for the same type."""
    for parameter in parameters_for(resource_type).values():
        if parameter.url == url:
            return parameter
    return None


def index_key(parameter: SearchParameter, suffix: str = "") -> int:
    """The 64-bit key of a parameter's rows (`suffix` for derived rows: `:text`, `$0`...)."""
    return hash64(parameter.key_type, parameter.code + suffix)


def searchable(parameter: SearchParameter) -> bool:
    """Whether the engine can answer this parameter (a composite needs every component's definition)."""
    if parameter.type != "composite":
        return True
    return all(
        parameter_by_url(component.definition, parameter.resource_type) is not None
        for component in parameter.components
    )
