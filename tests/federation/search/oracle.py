"""A plain-Python oracle for FHIR R4 search, for differential tests of the search engine.

The engine answers searches from index tables; this module answers the same query by evaluating each
search parameter's FHIRPath expression (fhirpathpy) over the stored JSON.  It shares no code with the
engine on purpose: a bug has to be made twice, independently, to go unnoticed.  It is slow and simple,
and it never ignores what it does not understand: an unknown parameter, modifier or result parameter
raises `Unsupported`; a malformed value raises `InvalidQueryError` (a server answers 400 to those).

API: ``evaluate(resources, resource_type, query, now=None) -> set of ids``.  ``resources`` is every live
resource of every type (chains and ``_has`` follow references through them).

Semantics (FHIR R4 search, plus this server's decisions where the spec leaves room):

Query string
    Decoded like Django's QueryDict (``application/x-www-form-urlencoded``: ``%xx`` and ``+`` = space);
    a space where a date's time-zone sign belongs is read as ``+``.  Repeating a parameter is AND, a
    comma is OR; ``\\,`` ``\\|`` ``\\$`` ``\\\\`` escape.  A parameter with an empty value is ignored;
    an empty OR-alternative (``a,,b``) is invalid.

Parameters
    Definitions come from federation/fhir/spec/search-parameters.json plus the JP Core ones below.  Of a
    multi-type expression (``A.x | B.y``) only the parts that start with the searched type (or with
    ``Resource``) are used.  ``X.where(resolve() is T)`` keeps the references whose string is ``T/id``
    (optionally ``/_history/v``) or an absolute URL ending in ``T/id``.  A parameter ``:missing=true``
    matches a resource for which the parameter yields no searchable value at all (a reference with only
    a display, or an Observation without value for ``code-value-quantity``, yield none); ``false`` is
    the complement.

string
    Match when some string STARTS WITH the term, both normalised: NFKC, case-fold, strip accents (NFD,
    drop combining marks but KEEP the kana voicing marks U+3099/U+309A so that だ != た, NFC), then
    katakana U+30A1..U+30F6 -> hiragana.  ー, small kana and variant kanji (髙/高, 﨑/崎) are left alone.
    HumanName: text, family, given, prefix, suffix; Address: text, line, city, district, state,
    postalCode, country.  ``:exact`` = equality with the raw string; ``:contains`` = normalised substring.

token
    ``code`` any system; ``system|code``; ``|code`` no system; ``system|`` any code.  Codes are
    case-sensitive.  Coding, CodeableConcept (any coding), Identifier (system/value); ContactPoint,
    code, boolean (``true``/``false``), string, id and uri values have NO system, so a non-empty system
    part never matches them.  ``:text`` = normalised prefix match on CodeableConcept.text,
    Coding.display, Identifier.type.text.  ``:of-type`` = ``type-system|type-code|value`` on
    Identifiers.  ``:not`` = the resources of the type that have no value matching any alternative
    (including resources with no value).

date
    Each value is an interval [low, high] given by its precision (``2026-03`` = 2026-03-01T00:00 ..
    2026-03-31T23:59:59.999999); values without a zone are in Asia/Tokyo (with its historic DST).
    Period: [start.low, end.high], open (-inf/+inf) where start/end is missing; a Period with neither
    is no value.  Timing: its event instants.  With search interval S and target T:
    ``eq`` S.low <= T.low and T.high <= S.high; ``ne`` not eq; ``gt`` T.high > S.high;
    ``lt`` T.low < S.low; ``ge`` gt or eq; ``le`` lt or eq; ``sa`` T.low > S.high;
    ``eb`` T.high < S.low; ``ap`` T overlaps S widened on both sides by max(1 day,
    |now - S.low| / 10).  A resource matches when ANY of its values satisfies the prefix (so ``ne``
    is "has a value not equal", not "has no equal value").

number / quantity
    The search number has an implicit precision by its last significant digit: ``100`` ->
    [99.5, 100.5), ``100.0`` -> [99.95, 100.05), ``1e2`` -> [50, 150).  ``eq``: target in the range;
    ``ne``: outside; ``gt``/``sa`` target > n; ``lt``/``eb`` target < n; ``ge`` >=; ``le`` <=;
    ``ap``: |target - n| <= |n| / 10.  Targets are exact.  Quantity: ``n``, ``n||code`` (code equals
    Quantity.code or Quantity.unit, any system), ``n|system|code`` (system and code equal); no unit
    conversion, and a stored comparator is ignored.

reference
    ``Type/id`` matches relative references to that resource (a ``/_history/v`` suffix is ignored);
    ``id`` matches relative references with that id and any type (``:Type`` restricts the type); an
    absolute URL matches the identical reference string.  ``:identifier`` = token match on
    Reference.identifier.  Chains (``subject:Patient.name``, ``subject.name``, multi-level) follow
    relative references to stored resources, through the target types that define the chained
    parameter; ``_has:Type:ref:param`` (nested too) is the reverse.

uri
    Exact; ``:below`` = the value equals the search uri or extends it by path segments; ``:above`` =
    the search uri equals the value or extends it by path segments.

composite
    ``a$b``: some instance of the composite's expression has every component matching (components are
    token, string, date, number, quantity or uri; prefixes apply inside components).

Control parameters: only ``_id``, ``_lastUpdated``, ``_tag``, ``_profile``, ``_security``,
``_source`` and ``_has``; everything else starting with ``_`` is Unsupported.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models as fhirpath_models

SPEC_FILE = Path(__file__).resolve().parents[3] / "federation" / "fhir" / "spec" / "search-parameters.json"
TOKYO = ZoneInfo("Asia/Tokyo")
R4_MODEL: dict[str, Any] = fhirpath_models["r4"]

EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
JP_INSURED_PERSON = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPerson"

JP_CORE_PARAMETERS: tuple[dict[str, Any], ...] = (
    {
        "code": "jp-kana-sort",
        "type": "string",
        "base": ["Patient"],
        "expression": f"Patient.name.where(extension('{EN_REPRESENTATION}').value.as(code)='SYL' and use='usual').text",
    },
    *(
        {
            "code": f"jp-insured-person{suffix.lower()}",
            "type": "string",
            "base": ["Coverage"],
            "expression": f"Coverage.extension.where(url='{JP_INSURED_PERSON}{suffix}').value.as(string)",
        }
        for suffix in ("Number", "SubNumber", "Symbol")
    ),
)

CONTROL_PARAMETERS = frozenset({"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source", "_has"})
PREFIXES = frozenset({"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"})
MODIFIERS: dict[str, frozenset[str | None]] = {
    "string": frozenset({None, "exact", "contains"}),
    "token": frozenset({None, "text", "of-type"}),
    "date": frozenset({None}),
    "number": frozenset({None}),
    "quantity": frozenset({None}),
    "uri": frozenset({None, "below", "above"}),
    "composite": frozenset({None}),
    "reference": frozenset({None, "identifier"}),
}

MIN_DATETIME = datetime.min.replace(tzinfo=UTC)
MAX_DATETIME = datetime.max.replace(tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)


class Unsupported(Exception):  # noqa: N818 - the name the differential tests agreed on
    """The oracle cannot evaluate this parameter or modifier; it never silently ignores one."""

    def __init__(self, name: str, reason: str = "") -> None:
        super().__init__(f"{name}: {reason}" if reason else name)
        self.name = name
        self.reason = reason


class InvalidQueryError(ValueError):
    """The query is malformed (a server answers 400): bad date or number, bad :missing value, etc."""


# --------------------------------------------------------------------------------------------------
# Search parameter definitions


@dataclass(frozen=True)
class Expression:
    """One FHIRPath expression, with the `where(resolve() is T)` that fhirpathpy cannot run taken out."""

    fhirpath: str
    reference_type: str | None = None


@dataclass(frozen=True)
class Component:
    type: str
    expression: str


@dataclass(frozen=True)
class ParamDef:
    """A search parameter as it applies to one resource type."""

    code: str
    type: str
    expressions: tuple[Expression, ...]
    targets: tuple[str, ...] = ()
    components: tuple[Component, ...] = ()


@functools.cache
def _definitions() -> tuple[dict[str, Any], ...]:
    bundle = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    return tuple(entry["resource"] for entry in bundle["entry"]) + JP_CORE_PARAMETERS


@functools.cache
def _definitions_by_base() -> dict[tuple[str, str], dict[str, Any]]:
    by_base: dict[tuple[str, str], dict[str, Any]] = {}
    for definition in _definitions():
        for base in definition["base"]:
            by_base.setdefault((base, definition["code"]), definition)
    return by_base


@functools.cache
def _definitions_by_url() -> dict[str, dict[str, Any]]:
    return {d["url"]: d for d in _definitions() if "url" in d}


@functools.cache
def resource_types() -> frozenset[str]:
    """Every resource type that some search parameter is defined on."""
    bases = {base for definition in _definitions() for base in definition["base"]}
    return frozenset(bases - {"Resource", "DomainResource"})


def _raw_definition(resource_type: str, code: str) -> dict[str, Any] | None:
    by_base = _definitions_by_base()
    for base in (resource_type, "DomainResource", "Resource"):
        if (base, code) in by_base:
            return by_base[(base, code)]
    return None


def has_parameter(resource_type: str, code: str) -> bool:
    return code == "_has" or _raw_definition(resource_type, code) is not None


@functools.cache
def param_def(resource_type: str, code: str) -> ParamDef:
    """The definition of `code` on `resource_type`; Unsupported when there is none usable."""
    raw = _raw_definition(resource_type, code)
    if raw is None or not raw.get("expression"):
        raise Unsupported(code, f"no search parameter with an expression on {resource_type}")
    if raw["type"] not in MODIFIERS:
        raise Unsupported(code, f"{raw['type']} parameters")
    specialised = (_specialise(part, resource_type) for part in _split_union(raw["expression"]))
    expressions = tuple(_expression(part, code) for part in specialised if part is not None)
    components = tuple(_component(component, code) for component in raw.get("component", ()))
    return ParamDef(code, raw["type"], expressions, tuple(raw.get("target", ())), components)


def _component(component: dict[str, Any], code: str) -> Component:
    definition = _definitions_by_url().get(component["definition"])
    if definition is None or definition["type"] not in {"token", "string", "date", "number", "quantity", "uri"}:
        raise Unsupported(code, "composite component of an unsupported type")
    return Component(definition["type"], _fix_type_names(component["expression"]))


def _split_union(expression: str) -> list[str]:
    """Split `A.x | (B.y as T)` at top-level `|` (not inside parentheses or string literals)."""
    parts: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in expression:
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        if char == "|" and depth == 0 and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts


_HEAD = re.compile(r"^\(*\s*([A-Za-z]+)\b")


def _specialise(part: str, resource_type: str) -> str | None:
    """The part of a multi-type expression for `resource_type`, or None when it is for another type."""
    match = _HEAD.match(part)
    if match is None:
        return None
    head = match.group(1)
    if head in {"Resource", "DomainResource"}:
        part = part[: match.start(1)] + resource_type + part[match.end(1) :]
    elif head != resource_type:
        return None
    return _fix_type_names(part)


def _fix_type_names(expression: str) -> str:
    """The spec writes `as(DateTime)` (the System type), which never matches a FHIR dateTime."""
    return expression.replace("as(DateTime)", "as(dateTime)")


_RESOLVE_IS = re.compile(r"\.where\(resolve\(\) is ([A-Za-z]+)\)(\)?)$")


def _expression(part: str, code: str) -> Expression:
    match = _RESOLVE_IS.search(part)
    if match is None:
        expression = Expression(part)
    else:
        expression = Expression(part[: match.start()] + match.group(2), match.group(1))
    if "resolve()" in expression.fhirpath:
        raise Unsupported(code, "resolve() other than where(resolve() is Type)")
    return expression


# --------------------------------------------------------------------------------------------------
# FHIRPath evaluation


@dataclass(frozen=True)
class Node:
    """A FHIRPath result: the FHIR type from the R4 model (or a backbone path) and the JSON value."""

    type: str | None
    value: Any


_SYSTEM_TYPES = {
    "System.String": "string",
    "System.Boolean": "boolean",
    "System.Integer": "integer",
    "System.Decimal": "decimal",
    "System.Date": "date",
    "System.DateTime": "dateTime",
}


@functools.cache
def _compiled(fhirpath: str) -> Callable[..., list[Any]]:
    return fhirpathpy.compile(fhirpath, model=R4_MODEL, options={"returnRawData": True})


def _to_nodes(items: Iterable[Any]) -> list[Node]:
    nodes: list[Node] = []
    for item in items:
        type_name, value = (item.path, item.data) if isinstance(item, ResourceNode) else (None, item)
        if value is None:
            continue
        if isinstance(value, bool):
            type_name = "boolean"
        type_name = _SYSTEM_TYPES.get(type_name or "", type_name)
        if not isinstance(value, dict | list | str | int | float | Decimal):
            value = str(value)
        nodes.append(Node(type_name, value))
    return nodes


def _evaluate(resource: dict[str, Any], expression: Expression) -> list[Node]:
    nodes = _to_nodes(_compiled(expression.fhirpath)(resource, {"resource": resource}))
    if expression.reference_type is None:
        return nodes
    return [node for node in nodes if _points_at(node, expression.reference_type)]


def _evaluate_relative(resource: dict[str, Any], root: Node, fhirpath: str) -> list[Node]:
    """Evaluate a composite component's expression relative to one instance of the composite."""
    items = fhirpathpy.evaluate(
        root.value,
        {"expression": fhirpath, "base": root.type},
        {"resource": resource},
        model=R4_MODEL,
        options={"returnRawData": True},
    )
    return _to_nodes(items)


_RELATIVE_REFERENCE = re.compile(r"^([A-Z][A-Za-z]*)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$")
_ABSOLUTE_TAIL = re.compile(r"/([A-Z][A-Za-z]*)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$")


def _points_at(node: Node, resource_type: str) -> bool:
    """`resolve() is T` without resolving: the reference string names type T."""
    reference = node.value.get("reference") if isinstance(node.value, dict) else node.value
    if not isinstance(reference, str):
        return False
    match = _RELATIVE_REFERENCE.match(reference)
    if match is None and _is_absolute(reference):
        match = _ABSOLUTE_TAIL.search(reference)
    return match is not None and match.group(1) == resource_type


def _is_absolute(reference: str) -> bool:
    return "://" in reference or reference.startswith("urn:")


def local_target(reference: str | None) -> tuple[str, str] | None:
    """(type, id) of a relative reference, the only kind that resolves to a stored resource."""
    match = _RELATIVE_REFERENCE.match(reference or "")
    return (match.group(1), match.group(2)) if match else None


# --------------------------------------------------------------------------------------------------
# Searchable values ("entries") of a parameter, per parameter type


@dataclass(frozen=True)
class TokenValue:
    system: str | None
    code: str | None
    texts: tuple[str, ...] = ()
    identifier_types: tuple[tuple[str | None, str | None], ...] = ()
    is_identifier: bool = False


@dataclass(frozen=True)
class Interval:
    low: datetime
    high: datetime


@dataclass(frozen=True)
class QuantityValue:
    value: Decimal
    system: str | None
    code: str | None
    unit: str | None


@dataclass(frozen=True)
class ReferenceValue:
    reference: str | None
    identifier: dict[str, Any] | None


_STRING_PARTS = {
    "HumanName": ("text", "family", "given", "prefix", "suffix"),
    "Address": ("text", "line", "city", "district", "state", "postalCode", "country"),
}
_QUANTITY_TYPES = frozenset({"Quantity", "Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity"})


def _present(value: Any) -> str | None:
    """FHIR forbids empty strings; treat one as absent rather than as a value."""
    return value if isinstance(value, str) and value else None


def _string_entries(node: Node, code: str) -> list[str]:
    if isinstance(node.value, str):
        return [node.value] if node.value else []
    parts = _STRING_PARTS.get(node.type or "")
    if parts is None or not isinstance(node.value, dict):
        raise Unsupported(code, f"string search on {node.type}")
    values: list[str] = []
    for key in parts:
        item = node.value.get(key)
        values.extend(v for v in (item if isinstance(item, list) else [item]) if _present(v))
    return values


def _coding_token(coding: dict[str, Any]) -> TokenValue:
    display = _present(coding.get("display"))
    return TokenValue(_present(coding.get("system")), _present(coding.get("code")), (display,) if display else ())


def _identifier_token(identifier: dict[str, Any]) -> TokenValue:
    id_type = identifier.get("type") or {}
    type_text = _present(id_type.get("text"))
    types = tuple((_present(c.get("system")), _present(c.get("code"))) for c in id_type.get("coding", ()))
    return TokenValue(
        _present(identifier.get("system")),
        _present(identifier.get("value")),
        (type_text,) if type_text else (),
        types,
        is_identifier=True,
    )


def _token_entries(node: Node, code: str) -> list[TokenValue]:
    value = node.value
    if isinstance(value, bool):
        return [TokenValue(None, "true" if value else "false")]
    if isinstance(value, str | int | float):
        return [TokenValue(None, str(value))] if str(value) else []
    if node.type == "Coding":
        tokens = [_coding_token(value)]
    elif node.type == "CodeableConcept":
        tokens = [_coding_token(coding) for coding in value.get("coding", ())]
        if _present(value.get("text")):
            tokens.append(TokenValue(None, None, (value["text"],)))
    elif node.type == "Identifier":
        tokens = [_identifier_token(value)]
    elif node.type == "ContactPoint":
        tokens = [TokenValue(None, _present(value.get("value")))]
    else:
        raise Unsupported(code, f"token search on {node.type}")
    return [t for t in tokens if t.system or t.code or t.texts]


def _date_entries(node: Node, code: str) -> list[Interval]:
    value = node.value
    if isinstance(value, str):
        return [parse_date(value)]
    if node.type == "Period":
        start, end = _present(value.get("start")), _present(value.get("end"))
        if start is None and end is None:
            return []
        low = parse_date(start).low if start else MIN_DATETIME
        high = parse_date(end).high if end else MAX_DATETIME
        return [Interval(low, high)]
    if node.type == "Timing":
        return [parse_date(event) for event in value.get("event", ()) if _present(event)]
    raise Unsupported(code, f"date search on {node.type}")


def _number_entries(node: Node, code: str) -> list[Decimal]:
    if isinstance(node.value, int | float | Decimal) and not isinstance(node.value, bool):
        return [Decimal(str(node.value))]
    raise Unsupported(code, f"number search on {node.type}")


def _quantity_entries(node: Node, code: str) -> list[QuantityValue]:
    if node.type not in _QUANTITY_TYPES or not isinstance(node.value, dict):
        raise Unsupported(code, f"quantity search on {node.type}")
    value = node.value
    if not isinstance(value.get("value"), int | float | Decimal):
        return []
    return [
        QuantityValue(
            Decimal(str(value["value"])),
            _present(value.get("system")),
            _present(value.get("code")),
            _present(value.get("unit")),
        )
    ]


def _reference_entries(node: Node, code: str) -> list[ReferenceValue]:
    if isinstance(node.value, str):
        return [ReferenceValue(node.value, None)] if node.value else []
    if node.type != "Reference" or not isinstance(node.value, dict):
        raise Unsupported(code, f"reference search on {node.type}")
    reference, identifier = _present(node.value.get("reference")), node.value.get("identifier")
    return [ReferenceValue(reference, identifier)] if reference or identifier else []


def _uri_entries(node: Node, code: str) -> list[str]:
    if isinstance(node.value, str):
        return [node.value] if node.value else []
    raise Unsupported(code, f"uri search on {node.type}")


_EXTRACTORS: dict[str, Callable[[Node, str], list[Any]]] = {
    "string": _string_entries,
    "token": _token_entries,
    "date": _date_entries,
    "number": _number_entries,
    "quantity": _quantity_entries,
    "reference": _reference_entries,
    "uri": _uri_entries,
}


def _extract(param_type: str, nodes: Iterable[Node], code: str) -> list[Any]:
    extractor = _EXTRACTORS[param_type]
    return [entry for node in nodes for entry in extractor(node, code)]


def entries(resource: dict[str, Any], param: ParamDef) -> list[Any]:
    """The values of `param` in `resource` that a search can match (empty = :missing)."""
    nodes = [node for expression in param.expressions for node in _evaluate(resource, expression)]
    if param.type != "composite":
        return _extract(param.type, nodes, param.code)
    instances = []
    for root in nodes:
        parts = tuple(
            _extract(component.type, _evaluate_relative(resource, root, component.expression), param.code)
            for component in param.components
        )
        if all(parts):
            instances.append(parts)
    return instances


# --------------------------------------------------------------------------------------------------
# Value syntax: escaping, strings, dates, numbers


def split_escaped(value: str, separator: str) -> list[str]:
    """Split on `separator` where it is not escaped by a backslash; escapes stay in the pieces."""
    pieces: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            current.append(value[index : index + 2])
            index += 2
            continue
        if char == separator:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    pieces.append("".join(current))
    return pieces


def unescape(value: str) -> str:
    return re.sub(r"\\([,|$\\])", r"\1", value)


_KANA_VOICING_MARKS = frozenset({"\u3099", "\u309a"})
_KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in range(0x30A1, 0x30F7)}


def normalise(text: str) -> str:
    """The string-search key: width, case, accents and katakana/hiragana do not matter."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFD", folded)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c) or c in _KANA_VOICING_MARKS)
    return unicodedata.normalize("NFC", kept).translate(_KATAKANA_TO_HIRAGANA)


_DATE = re.compile(
    r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<zone>Z|[+\- ]\d{2}:\d{2})?)?)?)?$"
)


def _zone(text: str | None) -> tzinfo:
    if text is None:
        return TOKYO
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))


def parse_date(text: str) -> Interval:
    """The interval a FHIR date/dateTime/instant (or a search date) covers at its precision."""
    match = _DATE.match(text.strip())
    if match is None:
        raise InvalidQueryError(f"not a date: {text!r}")
    parts = match.groupdict()
    zone = _zone(parts["zone"])
    year, month, day = int(parts["year"]), int(parts["month"] or 1), int(parts["day"] or 1)
    try:
        if parts["month"] is None:
            start, end = datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone)
        elif parts["day"] is None:
            start = datetime(year, month, 1, tzinfo=zone)
            end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
        elif parts["hour"] is None:
            start = datetime(year, month, day, tzinfo=zone)
            end = start + timedelta(days=1)
        else:
            start, step = _time_start(parts, zone, year, month, day)
            end = start + step
    except (ValueError, OverflowError) as error:
        raise InvalidQueryError(f"not a date: {text!r}") from error
    return Interval(start.astimezone(UTC), end.astimezone(UTC) - ONE_MICROSECOND)


def _time_start(
    parts: dict[str, str | None], zone: tzinfo, year: int, month: int, day: int
) -> tuple[datetime, timedelta]:
    """Start and length of a time of day at its precision: minute, second or fractional digits."""
    hour, minute = int(parts["hour"] or 0), int(parts["minute"] or 0)
    if parts["second"] is None:
        return datetime(year, month, day, hour, minute, tzinfo=zone), timedelta(minutes=1)
    second, fraction = int(parts["second"]), parts["fraction"] or ""
    if not fraction:
        return datetime(year, month, day, hour, minute, second, tzinfo=zone), timedelta(seconds=1)
    microsecond = int(fraction[:6].ljust(6, "0"))
    step = timedelta(microseconds=10 ** (6 - len(fraction))) if len(fraction) < 6 else ONE_MICROSECOND
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone), step


def split_prefix(piece: str) -> tuple[str, str]:
    """`ge2024` -> ("ge", "2024"); no prefix means eq."""
    if piece[:2] in PREFIXES and len(piece) > 2 and (piece[2].isdigit() or piece[2] in "+-."):
        return piece[:2], piece[2:]
    return "eq", piece


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def parse_number(text: str) -> Decimal:
    if not _NUMBER.match(text):
        raise InvalidQueryError(f"not a number: {text!r}")
    try:
        return Decimal(text)
    except InvalidOperation as error:  # pragma: no cover - the regex already guards
        raise InvalidQueryError(f"not a number: {text!r}") from error


def implicit_range(number: Decimal) -> tuple[Decimal, Decimal]:
    """[low, high) that a search number stands for, half a unit of its last significant digit around it."""
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    half = Decimal(5).scaleb(exponent - 1)
    return number - half, number + half


# --------------------------------------------------------------------------------------------------
# Matching one OR-alternative against a resource's entries

Predicate = Callable[[list[Any]], bool]


@dataclass(frozen=True)
class TokenQuery:
    system: str | None  # None: no `|` given (any system); "": explicitly no system
    code: str | None  # None: `system|` (any code)


def parse_token(piece: str) -> TokenQuery:
    parts = [unescape(part) for part in split_escaped(piece, "|")]
    if len(parts) == 1:
        return TokenQuery(None, parts[0])
    if len(parts) == 2 and (parts[0] or parts[1]):
        return TokenQuery(parts[0], parts[1] or None)
    raise InvalidQueryError(f"not a token: {piece!r}")


def token_matches(token: TokenValue, query: TokenQuery) -> bool:
    if query.system is None:
        return token.code == query.code
    if query.system == "":
        return token.system is None and token.code == query.code
    return token.system == query.system and (query.code is None or token.code == query.code)


def _string_predicate(modifier: str | None, piece: str) -> Predicate:
    term = unescape(piece)
    if modifier == "exact":
        return lambda values: term in values
    key = normalise(term)
    if modifier == "contains":
        return lambda values: any(key in normalise(v) for v in values)
    return lambda values: any(normalise(v).startswith(key) for v in values)


def _token_predicate(modifier: str | None, piece: str) -> Predicate:
    if modifier == "text":
        key = normalise(unescape(piece))
        return lambda tokens: any(normalise(text).startswith(key) for t in tokens for text in t.texts)
    if modifier == "of-type":
        parts = [unescape(part) for part in split_escaped(piece, "|")]
        if len(parts) != 3 or not all(parts):
            raise InvalidQueryError(f":of-type needs type-system|type-code|value, not {piece!r}")
        type_system, type_code, value = parts
        return lambda tokens: any(
            t.is_identifier and t.code == value and (type_system, type_code) in t.identifier_types for t in tokens
        )
    query = parse_token(piece)
    return lambda tokens: any(token_matches(t, query) for t in tokens)


def date_matches(prefix: str, search: Interval, target: Interval, now: datetime) -> bool:
    contains = search.low <= target.low and target.high <= search.high
    comparisons = {
        "eq": lambda: contains,
        "ne": lambda: not contains,
        "gt": lambda: target.high > search.high,
        "lt": lambda: target.low < search.low,
        "ge": lambda: target.high > search.high or contains,
        "le": lambda: target.low < search.low or contains,
        "sa": lambda: target.low > search.high,
        "eb": lambda: target.high < search.low,
        "ap": lambda: _overlaps(_widen(search, now), target),
    }
    return comparisons[prefix]()


def _overlaps(a: Interval, b: Interval) -> bool:
    return a.low <= b.high and b.low <= a.high


def _widen(search: Interval, now: datetime) -> Interval:
    margin = max(timedelta(days=1), abs(now - search.low) / 10)
    low = search.low - margin if search.low - MIN_DATETIME > margin else MIN_DATETIME
    high = search.high + margin if MAX_DATETIME - search.high > margin else MAX_DATETIME
    return Interval(low, high)


def _date_predicate(piece: str, now: datetime) -> Predicate:
    prefix, text = split_prefix(piece)
    search = parse_date(text.replace(" ", "+"))
    return lambda intervals: any(date_matches(prefix, search, t, now) for t in intervals)


def number_matches(prefix: str, number: Decimal, value: Decimal) -> bool:
    low, high = implicit_range(number)
    comparisons = {
        "eq": lambda: low <= value < high,
        "ne": lambda: not low <= value < high,
        "gt": lambda: value > number,
        "sa": lambda: value > number,
        "lt": lambda: value < number,
        "eb": lambda: value < number,
        "ge": lambda: value >= number,
        "le": lambda: value <= number,
        "ap": lambda: abs(value - number) <= abs(number) / 10,
    }
    return comparisons[prefix]()


def _number_predicate(piece: str) -> Predicate:
    prefix, text = split_prefix(piece)
    number = parse_number(text)
    return lambda values: any(number_matches(prefix, number, v) for v in values)


def _quantity_predicate(piece: str) -> Predicate:
    parts = split_escaped(piece, "|")
    if len(parts) not in (1, 3):
        raise InvalidQueryError(f"not a quantity: {piece!r}")
    prefix, text = split_prefix(parts[0])
    number = parse_number(text)
    system, code = (unescape(parts[1]), unescape(parts[2])) if len(parts) == 3 else ("", "")

    def unit_matches(q: QuantityValue) -> bool:
        if system:
            return q.system == system and (not code or q.code == code)
        return not code or code in (q.code, q.unit)

    return lambda values: any(unit_matches(q) and number_matches(prefix, number, q.value) for q in values)


def _reference_predicate(modifier: str | None, piece: str, targets: tuple[str, ...]) -> Predicate:
    value = unescape(piece)
    if modifier == "identifier":
        query = parse_token(piece)
        return lambda refs: any(r.identifier and token_matches(_identifier_token(r.identifier), query) for r in refs)
    if modifier is not None and targets and modifier not in targets:
        raise InvalidQueryError(f"{modifier} is not a target type of this parameter")
    if _is_absolute(value):
        return lambda refs: any(r.reference == value for r in refs)
    if "/" in value:
        wanted = local_target(value)
        if wanted is None or (modifier is not None and wanted[0] != modifier):
            raise InvalidQueryError(f"not a reference: {value!r}")
        return lambda refs: any(local_target(r.reference) == wanted for r in refs)

    def id_matches(ref: ReferenceValue) -> bool:
        target = local_target(ref.reference)
        return target is not None and target[1] == value and modifier in (None, target[0])

    return lambda refs: any(id_matches(r) for r in refs)


def _segments_extend(longer: str, prefix: str) -> bool:
    return longer == prefix or longer.startswith(prefix.rstrip("/") + "/")


def _uri_predicate(modifier: str | None, piece: str) -> Predicate:
    value = unescape(piece)
    if modifier == "below":
        return lambda uris: any(_segments_extend(uri, value) for uri in uris)
    if modifier == "above":
        return lambda uris: any(_segments_extend(value, uri) for uri in uris)
    return lambda uris: value in uris


def _composite_predicate(param: ParamDef, piece: str, now: datetime) -> Predicate:
    parts = split_escaped(piece, "$")
    if len(parts) != len(param.components):
        raise InvalidQueryError(f"{param.code} needs {len(param.components)} `$`-separated values")
    predicates = [
        _predicate(component.type, None, part, now) for component, part in zip(param.components, parts, strict=True)
    ]

    def matches(instance: tuple[list[Any], ...]) -> bool:
        return all(p(values) for p, values in zip(predicates, instance, strict=True))

    return lambda instances: any(matches(instance) for instance in instances)


def _predicate(
    param_type: str, modifier: str | None, piece: str, now: datetime, targets: tuple[str, ...] = ()
) -> Predicate:
    if not piece:
        raise InvalidQueryError("empty search value")
    match param_type:
        case "string":
            return _string_predicate(modifier, piece)
        case "token":
            return _token_predicate(modifier, piece)
        case "date":
            return _date_predicate(piece, now)
        case "number":
            return _number_predicate(piece)
        case "quantity":
            return _quantity_predicate(piece)
        case "reference":
            return _reference_predicate(modifier, piece, targets)
        case "uri":
            return _uri_predicate(modifier, piece)
    raise AssertionError(param_type)  # pragma: no cover - composites are built by _composite_predicate


# --------------------------------------------------------------------------------------------------
# Evaluating parameters: plain, :missing, :not, chains, _has

RESULT_PARAMETERS = frozenset(
    {"_count", "_sort", "_include", "_revinclude", "_summary", "_elements", "_total", "_contained", "_containedType"}
)


class _Store:
    """The stored resources by type and id, with each parameter's entries computed once."""

    def __init__(self, resources: Iterable[dict[str, Any]], now: datetime) -> None:
        self.now = now
        self.by_type: dict[str, dict[str, dict[str, Any]]] = {}
        for resource in copy.deepcopy(list(resources)):  # fhirpathpy may annotate what it walks
            self.by_type.setdefault(resource["resourceType"], {})[resource["id"]] = resource
        self._cache: dict[tuple[str, str, str], list[Any]] = {}

    def ids(self, resource_type: str) -> set[str]:
        return set(self.by_type.get(resource_type, {}))

    def entries(self, resource_type: str, resource_id: str, param: ParamDef) -> list[Any]:
        key = (resource_type, resource_id, param.code)
        if key not in self._cache:
            self._cache[key] = entries(self.by_type[resource_type][resource_id], param)
        return self._cache[key]

    def local_targets(self, resource_type: str, resource_id: str, param: ParamDef) -> set[tuple[str, str]]:
        refs = self.entries(resource_type, resource_id, param)
        return {target for ref in refs if (target := local_target(ref.reference)) is not None}


def _check_control(code: str, name: str) -> None:
    if code in RESULT_PARAMETERS:
        raise Unsupported(name, "result parameters are not the oracle's job")
    if code.startswith("_") and code not in CONTROL_PARAMETERS:
        raise Unsupported(name, "control parameter")


def _reference_param(resource_type: str, code: str, name: str) -> ParamDef:
    param = param_def(resource_type, code)
    if param.type != "reference":
        raise InvalidQueryError(f"{name}: {code} is not a reference parameter on {resource_type}")
    return param


def search(store: _Store, resource_type: str, name: str, value: str) -> set[str]:
    """Ids of `resource_type` that match one `name=value` pair (one AND term)."""
    if name.startswith("_has:"):
        return _search_has(store, resource_type, name, value)
    head, dot, rest = name.partition(".")
    code, _, modifier = head.partition(":")
    _check_control(code, name)
    if code == "_has":
        raise InvalidQueryError(f"{name}: _has needs _has:Type:reference:parameter")
    if dot:
        return _search_chain(store, resource_type, code, modifier or None, rest, value, name)
    return _search_plain(store, resource_type, code, modifier or None, value, name)


def _search_plain(
    store: _Store, resource_type: str, code: str, modifier: str | None, value: str, name: str
) -> set[str]:
    param = param_def(resource_type, code)
    ids = store.ids(resource_type)
    pieces = split_escaped(value, ",")
    if modifier == "missing":
        return _search_missing(store, resource_type, param, pieces)
    if modifier == "not" and param.type == "token":
        return ids - _search_plain(store, resource_type, code, None, value, name)
    if not _modifier_allowed(param.type, modifier):
        raise Unsupported(name, f"modifier :{modifier} on a {param.type} parameter")
    if param.type == "composite":
        predicates = [_composite_predicate(param, piece, store.now) for piece in pieces]
    else:
        predicates = [_predicate(param.type, modifier, piece, store.now, param.targets) for piece in pieces]
    return {rid for rid in ids if any(p(store.entries(resource_type, rid, param)) for p in predicates)}


def _modifier_allowed(param_type: str, modifier: str | None) -> bool:
    if param_type == "reference" and modifier in resource_types():
        return True
    return modifier in MODIFIERS[param_type]


def _search_missing(store: _Store, resource_type: str, param: ParamDef, pieces: list[str]) -> set[str]:
    wanted = set()
    for piece in pieces:
        if piece not in ("true", "false"):
            raise InvalidQueryError(f":missing takes true or false, not {piece!r}")
        wanted.add(piece == "true")
    ids = store.ids(resource_type)
    return {rid for rid in ids if (not store.entries(resource_type, rid, param)) in wanted}


def _search_chain(
    store: _Store, resource_type: str, code: str, modifier: str | None, rest: str, value: str, name: str
) -> set[str]:
    param = _reference_param(resource_type, code, name)
    chained_code = re.split(r"[:.]", rest, maxsplit=1)[0]
    if modifier is not None:
        if modifier not in resource_types() or (param.targets and modifier not in param.targets):
            raise InvalidQueryError(f"{name}: {modifier} is not a target type of {code}")
        types = [modifier]
    else:
        types = [t for t in param.targets if has_parameter(t, chained_code)]
    if not types:
        raise Unsupported(name, f"no target type of {code} has a parameter {chained_code}")
    wanted = {(t, rid) for t in types for rid in search(store, t, rest, value)}
    ids = store.ids(resource_type)
    return {rid for rid in ids if store.local_targets(resource_type, rid, param) & wanted}


def _search_has(store: _Store, resource_type: str, name: str, value: str) -> set[str]:
    parts = name.split(":", 3)
    if len(parts) != 4 or not all(parts):
        raise InvalidQueryError(f"{name}: _has needs _has:Type:reference:parameter")
    _, source_type, reference_code, rest = parts
    if source_type not in resource_types():
        raise InvalidQueryError(f"{name}: unknown resource type {source_type}")
    param = _reference_param(source_type, reference_code, name)
    sources = search(store, source_type, rest, value)
    referenced = {
        target_id
        for source_id in sources
        for target_type, target_id in store.local_targets(source_type, source_id, param)
        if target_type == resource_type
    }
    return store.ids(resource_type) & referenced


def _check_name(resource_type: str, name: str) -> None:
    """An empty parameter is ignored (spec), but an unknown one still raises Unsupported."""
    code = name.partition(":")[0].partition(".")[0]
    _check_control(code, name)
    if code != "_has" and "." not in name:
        param_def(resource_type, code)


def parse_query(query: str) -> list[tuple[str, str]]:
    """(name, value) pairs, decoded the way Django decodes a query string."""
    return [(name, value) for name, value in parse_qsl(query.lstrip("?"), keep_blank_values=True) if name]


def evaluate(
    resources: list[dict[str, Any]], resource_type: str, query: str, *, now: datetime | None = None
) -> set[str]:
    """Logical ids of the `resource_type` resources that match `query` (see the module docstring)."""
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=TOKYO)
    store = _Store(resources, now)
    result = store.ids(resource_type)
    for name, value in parse_query(query):
        if value == "":
            _check_name(resource_type, name)
            continue
        result &= search(store, resource_type, name, value)
    return result
