"""Parse a FHIR search query string into criteria and result parameters.

Nothing is matched here: this only says what was asked, in terms of the registry's parameters, and
which parameters are unknown (the caller decides: 400 under `Prefer: handling=strict`, else a
warning in the Bundle).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from core.outcome import invalid, not_supported
from federation.fhir.spec import served_resource_types
from federation.search.registry import SearchParameter, parameters_for

RESULT_PARAMETERS = frozenset(
    {
        "_count",
        "_sort",
        "_include",
        "_revinclude",
        "_summary",
        "_elements",
        "_total",
        "_page_token",
        "_format",
        "_pretty",
    }
)
MAX_COUNT = 1000
DEFAULT_COUNT = 20
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
SUMMARY_MODES = ("true", "false", "count", "data", "text")
TOTAL_MODES = ("none", "estimate", "accurate")
TOKEN_MODIFIERS = frozenset({"not", "text", "of-type", "missing"})
STRING_MODIFIERS = frozenset({"exact", "contains", "missing"})
URI_MODIFIERS = frozenset({"above", "below", "missing"})
OTHER_MODIFIERS = frozenset({"missing"})
TERMINOLOGY_MODIFIERS = frozenset({"in", "not-in", "above", "below"})
HAS_PATTERN = re.compile(r"^_has:(?P<type>[A-Z][A-Za-z]+):(?P<reference>[A-Za-z0-9\-_]+):(?P<rest>.+)$")


@dataclass(frozen=True)
class ChainLink:
    """One hop of a chain: follow `parameter` (a reference) to resources of `target_type`."""

    parameter: SearchParameter
    target_type: str


@dataclass(frozen=True)
class ReverseLink:
    """One hop of `_has`: resources of `source_type` whose `reference` parameter points here."""

    source_type: str
    reference: SearchParameter


@dataclass(frozen=True)
class Criterion:
    """One parameter occurrence: values OR together; occurrences AND together."""

    parameter: SearchParameter
    modifier: str | None
    values: tuple[str, ...]
    chain: tuple[ChainLink, ...] = ()
    reverse: tuple[ReverseLink, ...] = ()
    raw: str = ""


@dataclass(frozen=True)
class Include:
    source_type: str
    parameter: SearchParameter | None  # None for the `*` wildcard
    target_type: str | None
    iterate: bool


@dataclass(frozen=True)
class SortKey:
    parameter: SearchParameter
    descending: bool


@dataclass
class SearchQuery:
    resource_type: str
    criteria: list[Criterion] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    sort: list[SortKey] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    revincludes: list[Include] = field(default_factory=list)
    summary: str = "false"
    elements: tuple[str, ...] = ()
    total: str | None = None
    page_token: str | None = None
    unknown: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)  # the pairs that were understood, for links


def parse_query(resource_type: str, pairs: list[tuple[str, str]]) -> SearchQuery:
    """Read (name, value) pairs of a search on `resource_type`."""
    query = SearchQuery(resource_type=resource_type)
    for name, value in pairs:
        if name.partition(":")[0] in RESULT_PARAMETERS:
            _result_parameter(query, name, value)
        else:
            criterion = parse_criterion(resource_type, name, value)
            if criterion is None:
                query.unknown.append(name)
                continue
            query.criteria.append(criterion)
        if name not in ("_format", "_pretty", "_page_token"):
            query.kept.append((name, value))
    return query


def query_pairs(query_string: str) -> list[tuple[str, str]]:
    return parse_qsl(query_string, keep_blank_values=True)


def parse_criterion(resource_type: str, name: str, value: str) -> Criterion | None:
    """A criterion, or None when the parameter is unknown on this type."""
    if name.startswith("_has:"):
        return _reverse_chain(resource_type, name, value)
    head, _, chained = name.partition(".")
    code, _, modifier = head.partition(":")
    parameter = parameters_for(resource_type).get(code)
    if parameter is None:
        return None
    if chained:
        return _chain(parameter, modifier or None, chained, value, name)
    _check_modifier(parameter, modifier or None)
    return Criterion(parameter=parameter, modifier=modifier or None, values=split_values(value), raw=name)


def _chain(parameter: SearchParameter, modifier: str | None, chained: str, value: str, raw: str) -> Criterion | None:
    if parameter.type != "reference":
        raise invalid(f"'{raw}': only reference parameters can be chained; '{parameter.code}' is {parameter.type}.")
    targets = [modifier] if modifier else list(parameter.targets)
    if modifier and modifier not in parameter.targets:
        raise invalid(f"'{raw}': '{parameter.code}' cannot point at {modifier}.")
    next_name, _, _ = chained.partition(".")
    next_code = next_name.partition(":")[0]
    candidates = [target for target in targets if next_code in parameters_for(target)]
    if not candidates:
        raise invalid(f"'{raw}': no target of '{parameter.code}' has a parameter '{next_code}'.")
    if len(candidates) > 1:
        raise invalid(f"'{raw}' is ambiguous: name the target type, e.g. {parameter.code}:{candidates[0]}.{chained}.")
    target_type = candidates[0]
    inner = parse_criterion(target_type, chained, value)
    if inner is None:
        return None
    link = ChainLink(parameter=parameter, target_type=target_type)
    return Criterion(
        parameter=inner.parameter,
        modifier=inner.modifier,
        values=inner.values,
        chain=(link, *inner.chain),
        reverse=inner.reverse,
        raw=raw,
    )


def _reverse_chain(resource_type: str, name: str, value: str) -> Criterion | None:
    match = HAS_PATTERN.match(name)
    if match is None:
        raise invalid(f"'{name}': _has takes the form _has:Type:reference:parameter=value.")
    source_type = match["type"]
    if source_type not in served_resource_types():
        raise invalid(f"'{name}': unknown resource type {source_type}.")
    reference = parameters_for(source_type).get(match["reference"])
    if reference is None or reference.type != "reference":
        raise invalid(f"'{name}': {source_type} has no reference parameter '{match['reference']}'.")
    if reference.targets and resource_type not in reference.targets:
        raise invalid(f"'{name}': {source_type}.{reference.code} cannot point at {resource_type}.")
    inner = parse_criterion(source_type, match["rest"], value)
    if inner is None:
        return None
    link = ReverseLink(source_type=source_type, reference=reference)
    return Criterion(
        parameter=inner.parameter,
        modifier=inner.modifier,
        values=inner.values,
        chain=inner.chain,
        reverse=(link, *inner.reverse),
        raw=name,
    )


def _check_modifier(parameter: SearchParameter, modifier: str | None) -> None:
    if modifier is None:
        return
    kind = parameter.type
    if kind == "reference":
        if modifier in ("missing", "identifier") or modifier in served_resource_types():
            return
    elif (
        (kind == "token" and modifier in TOKEN_MODIFIERS)
        or (kind == "string" and modifier in STRING_MODIFIERS)
        or (kind == "uri" and modifier in URI_MODIFIERS)
        or modifier in OTHER_MODIFIERS
    ):
        return
    if kind == "token" and modifier in TERMINOLOGY_MODIFIERS:
        raise not_supported(
            f"'{parameter.code}:{modifier}' needs a terminology service, which this server does not have."
        )
    raise invalid(f"Modifier ':{modifier}' cannot be used on '{parameter.code}' ({kind}).")


def split_values(value: str, separator: str = ",") -> tuple[str, ...]:
    """Split on an unescaped separator; escapes (\\, \\$ \\| \\\\) stay for the type's parser."""
    if "\\" not in value:  # the common case, and a hot one (every conditional write): nothing escaped
        return tuple(value.split(separator))
    parts, current, index = [], "", 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            current += value[index : index + 2]
            index += 2
            continue
        if char == separator:
            parts.append(current)
            current = ""
        else:
            current += char
        index += 1
    parts.append(current)
    return tuple(parts)


def unescape(value: str) -> str:
    return re.sub(r"\\([\\,$|])", r"\1", value)


def split_prefix(value: str) -> tuple[str, str]:
    """`ge2026-01-01` -> ("ge", "2026-01-01"); no prefix means eq."""
    if len(value) > 2 and value[:2] in PREFIXES and (value[2].isdigit() or value[2] in "-+."):
        return value[:2], value[2:]
    return "eq", value


def _result_parameter(query: SearchQuery, name: str, value: str) -> None:
    if name == "_count":
        if not value.isdigit():
            raise invalid(f"_count must be a whole number, not '{value}'.")
        query.count = max(0, min(int(value), MAX_COUNT))
    elif name == "_sort":
        query.sort = [_sort_key(query.resource_type, part) for part in value.split(",") if part]
    elif name.startswith(("_include", "_revinclude")):
        include = _include(name, value)
        (query.includes if name.startswith("_include") else query.revincludes).append(include)
    elif name == "_summary":
        if value not in SUMMARY_MODES:
            raise invalid(f"_summary must be one of {', '.join(SUMMARY_MODES)}.")
        query.summary = value
    elif name == "_elements":
        query.elements = tuple(element.strip() for element in value.split(",") if element.strip())
    elif name == "_total":
        if value not in TOTAL_MODES:
            raise invalid(f"_total must be one of {', '.join(TOTAL_MODES)}.")
        query.total = value
    elif name == "_page_token":
        query.page_token = value


def _sort_key(resource_type: str, part: str) -> SortKey:
    descending = part.startswith("-")
    code = part.lstrip("-")
    parameter = parameters_for(resource_type).get(code)
    if parameter is None:
        raise invalid(f"_sort: {resource_type} has no search parameter '{code}'.")
    if parameter.type not in ("string", "date", "number", "quantity", "reference", "uri", "token"):
        raise invalid(f"_sort: '{code}' ({parameter.type}) cannot be sorted on.")
    return SortKey(parameter=parameter, descending=descending)


def _include(name: str, value: str) -> Include:
    modifier_name, _, modifier = name.partition(":")
    if modifier not in ("", "iterate", "recurse"):
        raise invalid(f"{name}: unknown modifier ':{modifier}'; use :iterate.")
    iterate = bool(modifier)
    parts = value.split(":")
    source_type = parts[0]
    if source_type not in served_resource_types():
        raise invalid(f"{modifier_name}={value}: unknown resource type '{source_type}'.")
    if len(parts) < 2 or parts[1] == "*":
        return Include(source_type=source_type, parameter=None, target_type=None, iterate=iterate)
    parameter = parameters_for(source_type).get(parts[1])
    if parameter is None or parameter.type != "reference":
        raise invalid(f"{modifier_name}={value}: {source_type} has no reference parameter '{parts[1]}'.")
    target_type = parts[2] if len(parts) > 2 else None
    if target_type is not None and target_type not in served_resource_types():
        raise invalid(f"{modifier_name}={value}: unknown resource type '{target_type}'.")
    return Include(source_type=source_type, parameter=parameter, target_type=target_type, iterate=iterate)
