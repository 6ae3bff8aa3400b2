"""Turn typed FHIR values into index keys, one function per search-parameter type.

Each function takes a value found by a parameter's expression (see search.fhirpath) and gives the
keys its index table stores (lists, not generators: they run for every value of every write), each
a tuple of the table's value columns in order (indexing.COLUMNS): a row is the parameter's key and
group with the key appended. Values of a type that a parameter type cannot use give nothing (the
spec allows e.g. a date parameter over `onset[x]`, where onsetString has no date).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from federation.search.dates import date_interval
from federation.search.hashing import hash64
from federation.search.normalize import normalize_string

STRING_INDEX_LENGTH = 255
HUMAN_NAME_PARTS = ("text", "family", "given", "prefix", "suffix")
ADDRESS_PARTS = ("text", "line", "city", "district", "state", "postalCode", "country")
PRIMITIVE_TOKEN_TYPES = frozenset({"code", "string", "id", "uri", "url", "canonical", "oid", "uuid", "boolean"})
QUANTITY_TYPES = frozenset({"Quantity", "Age", "Duration", "Distance", "Count", "SimpleQuantity", "MoneyQuantity"})
URI_TYPES = frozenset({"uri", "url", "canonical", "oid", "uuid"})
DATE_TYPES = frozenset({"date", "dateTime", "instant"})
DERIVED_TOKEN_TYPES = frozenset({"CodeableConcept", "Coding", "Identifier"})  # with `:text` or `:of-type` keys
LOCAL_REFERENCE = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
# Keys kept per process: systems, codes, names and places come back with nearly every write, and
# hashing (blake2b) and normalising them again costs far more than the lookup. Bounded in count
# (least recently used out first) and in text length, so a few MB at most.
KEY_CACHE_SIZE = 8192
CACHED_TEXT_LENGTH = 256
SYSTEMS_KEPT = 1024  # code and identifier systems: a few dozen in practice
IDENTIFIERS_KEPT = 4096


class TokenKey(NamedTuple):
    """Named tuples, not frozen dataclasses: a key is made for every value of every write, and a frozen
    dataclass is built through object.__setattr__, several times slower."""

    system: int | None
    code: int


class StringKey(NamedTuple):
    normalized: str
    exact: int


class QuantityKey(NamedTuple):
    value: float
    system_code: int | None
    code: int | None
    unit: int | None


class ReferenceKey(NamedTuple):
    target_type: str | None
    target_id: str | None
    url: str | None


def token_key(system: str | None, code: str) -> TokenKey:
    """The hashed system (None when there is none) and code."""
    if len(code) + len(system or "") <= CACHED_TEXT_LENGTH:
        return _cached_token_key(system, code)
    return _token_key(system, code)


def _token_key(system: str | None, code: str) -> TokenKey:
    return TokenKey(_system_hash(system) if system else None, hash64(code))


def identifier_key(system: str | None, value: str) -> TokenKey:
    """token_key of an identifier, kept in a cache of its own: most values are a record's own number, seen
    once, which would churn the cache of codes; but some come back with nearly every write (a prescription's
    RP group number 1, 2..., an institution's number): half of those in the benchmark's JP Core export."""
    if len(value) + len(system or "") <= CACHED_TEXT_LENGTH:
        return _cached_identifier_key(system, value)
    return _token_key(system, value)


def string_key(value: str) -> StringKey:
    if len(value) <= CACHED_TEXT_LENGTH:
        return _cached_string_key(value)
    return _string_key(value)


def _string_key(value: str) -> StringKey:
    return StringKey(normalize_string(value)[:STRING_INDEX_LENGTH], hash64(value))


def reference_key(reference: str) -> ReferenceKey:
    """A literal reference as the index keeps it: type and id of a local one, else the whole URL."""
    if len(reference) <= CACHED_TEXT_LENGTH:
        return _cached_reference_key(reference)
    return _reference_key(reference)


def _reference_key(reference: str) -> ReferenceKey:
    local = LOCAL_REFERENCE.match(reference)
    if local:
        return ReferenceKey(local["type"], local["id"], None)
    named = named_target(reference)
    return ReferenceKey(None if named is None else named[0], None, reference)


def named_target(reference: str) -> tuple[str, str] | None:
    """The resource type and id a reference names by its path (`Type/id`, `.../Type/id`, `.../Type/id/_history/v`),
    as FHIRPath's `resolve() is Type` reads it without a lookup; None for what names none (urn:uuid:, `Type?x`).
    An absolute URL's row keeps the type too, so a narrowing (registry: Observation's patient) finds it among the
    wider parameter's rows by type."""
    segments = reference.split("/")
    if len(segments) >= 4 and segments[-2] == "_history":
        del segments[-2:]
    if len(segments) < 2 or not segments[-1] or not segments[-2][:1].isupper():
        return None
    return segments[-2], segments[-1]


_cached_token_key = functools.lru_cache(maxsize=KEY_CACHE_SIZE)(_token_key)
_cached_identifier_key = functools.lru_cache(maxsize=IDENTIFIERS_KEPT)(_token_key)
_cached_string_key = functools.lru_cache(maxsize=KEY_CACHE_SIZE)(_string_key)
_cached_reference_key = functools.lru_cache(maxsize=KEY_CACHE_SIZE)(_reference_key)
_system_hash = functools.lru_cache(maxsize=SYSTEMS_KEPT)(hash64)


@functools.lru_cache(maxsize=SYSTEMS_KEPT)  # a few units (mg, mL, mmHg...) come back with every result
def unit_system_code(system: str | None, code: str) -> int:
    """A quantity's unit as `system|code` hashed together (an empty system for none), as `value|system|code`
    searches it."""
    return hash64(system or "", code)


_NONE: tuple[Any, ...] = ()  # what a value of a type the parameter cannot use gives


def tokens(fhir_type: str, value: Any) -> Sequence[TokenKey]:
    if fhir_type == "CodeableConcept":
        return [
            token_key(coding.get("system"), str(coding["code"]))
            for coding in value.get("coding", ())
            if "code" in coding
        ]
    if fhir_type == "Coding":
        return [token_key(value.get("system"), str(value["code"]))] if "code" in value else _NONE
    if fhir_type == "Identifier":
        return [identifier_key(value.get("system"), str(value["value"]))] if "value" in value else _NONE
    if fhir_type == "ContactPoint":
        return [token_key(None, str(value["value"]))] if "value" in value else _NONE
    if fhir_type in PRIMITIVE_TOKEN_TYPES:
        return [token_key(None, "true" if value is True else "false" if value is False else str(value))]
    return _NONE


def token_texts(fhir_type: str, value: Any) -> Sequence[str]:
    """What `:text` matches: CodeableConcept.text, Coding.display, Identifier.type.text."""
    if fhir_type == "CodeableConcept":
        texts = [value["text"]] if "text" in value else []
        texts += [coding["display"] for coding in value.get("coding", ()) if "display" in coding]
        return texts
    if fhir_type == "Coding" and "display" in value:
        return [value["display"]]
    if fhir_type == "Identifier" and "text" in value.get("type", {}):
        return [value["type"]["text"]]
    return _NONE


def identifier_types(fhir_type: str, value: Any) -> Sequence[TokenKey]:
    """For `:of-type`: one key per type coding, `type-system|type-code|value` as system|code."""
    if fhir_type != "Identifier" or "value" not in value or "type" not in value:
        return _NONE
    return [
        token_key(f"{coding.get('system', '')}|{coding['code']}", str(value["value"]))
        for coding in value["type"].get("coding", ())
        if "code" in coding
    ]


def strings(fhir_type: str, value: Any) -> Sequence[StringKey]:
    if fhir_type in ("string", "markdown", "code", "id", "uri", "url", "canonical"):
        return [string_key(str(value))]
    if fhir_type in ("HumanName", "Address"):
        keys = []
        for part in HUMAN_NAME_PARTS if fhir_type == "HumanName" else ADDRESS_PARTS:
            found = value.get(part)
            keys += [string_key(str(text)) for text in (found if isinstance(found, list) else [found] if found else [])]
        return keys
    return _NONE


def dates(fhir_type: str, value: Any) -> Sequence[tuple[datetime | None, datetime | None]]:
    """Intervals; None on a side means open (a Period without start or end)."""
    if fhir_type in DATE_TYPES:
        interval = date_interval(str(value))
        return [interval] if interval else _NONE
    if fhir_type == "Period":
        start = date_interval(value["start"]) if "start" in value else None
        end = date_interval(value["end"]) if "end" in value else None
        return [(start[0] if start else None, end[1] if end else None)] if start or end else _NONE
    if fhir_type == "Timing":
        intervals = [interval for event in value.get("event", ()) for interval in dates("dateTime", event)]
        bounds = value.get("repeat", {}).get("boundsPeriod")
        return intervals + list(dates("Period", bounds)) if bounds else intervals
    return _NONE


def numbers(fhir_type: str, value: Any) -> Sequence[tuple[float]]:
    if fhir_type in ("decimal", "integer", "positiveInt", "unsignedInt") and not isinstance(value, bool):
        return [(float(value),)]
    return _NONE


def never_indexed(search_type: str, fhir_type: str) -> bool:
    """Whether values of `fhir_type` give no row to a parameter of `search_type`, whatever they hold (a quantity
    parameter over `value[x]` finds nothing in a SampledData). False where that is not known."""
    return search_type == "quantity" and fhir_type not in QUANTITY_TYPES and fhir_type != "Money"


def quantities(fhir_type: str, value: Any) -> Sequence[QuantityKey]:
    if fhir_type not in QUANTITY_TYPES and fhir_type != "Money":
        return _NONE
    if "value" not in value:
        return _NONE
    code = value.get("currency") if fhir_type == "Money" else value.get("code")
    system = "urn:iso:std:iso:4217" if fhir_type == "Money" else value.get("system")
    return [
        QuantityKey(
            float(value["value"]),
            unit_system_code(system, code) if code else None,
            token_key(None, code).code if code else None,  # a unit code hashes as a token's code does
            token_key(None, value["unit"]).code if "unit" in value else None,
        )
    ]


def references(fhir_type: str, value: Any) -> Sequence[ReferenceKey]:
    if fhir_type == "Reference":
        reference = value.get("reference")
        if not isinstance(reference, str) or reference.startswith("#"):
            return _NONE
        return [reference_key(reference)]
    if fhir_type in URI_TYPES:
        return [ReferenceKey(None, None, str(value))]
    return _NONE


def reference_identifiers(fhir_type: str, value: Any) -> Sequence[TokenKey]:
    """For `:identifier`: the logical reference's identifier."""
    if fhir_type == "Reference" and "identifier" in value:
        return tokens("Identifier", value["identifier"])
    return _NONE


def uris(fhir_type: str, value: Any) -> Sequence[tuple[str]]:
    return [(str(value),)] if fhir_type in URI_TYPES else _NONE
