"""FHIR JSON text: decimals stay exact (1.50 stays 1.50), NaN and Infinity are refused.

FHIR says a decimal's precision is significant, so numbers with a fraction are read as Decimal
and written back digit for digit (simplejson can write Decimal as a JSON number; json cannot).
Text is read by msgspec where it reads what the standard library reads (see loads); compact text is
written by orjson where it gives what simplejson gives (see _compact).
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import orjson
import simplejson


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in FHIR JSON")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse_constant)
_FAST_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def loads(raw: str | bytes) -> Any:
    """What json.loads gives with those hooks, read by msgspec where it can (see `loads_utf8`); what msgspec
    refuses goes to the standard library's decoder, which reads it the same way or raises the error callers
    report."""
    try:
        return _FAST_DECODER.decode(raw)
    except (ValueError, RecursionError):  # msgspec.DecodeError is a ValueError
        pass
    if isinstance(raw, str) and not raw.startswith("\ufeff"):  # json.loads refuses a BOM
        return _DECODER.decode(raw)  # one decoder made once: json.loads makes one per call when given hooks
    return json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)


def loads_utf8(raw: bytes) -> Any:
    """The JSON value of UTF-8 text, read by msgspec in half the time of decoding and then parsing it with the
    standard library (a resource's line: 3.3 against 7.0 µs), with the same values (numbers with a fraction or
    an exponent as Decimal, integers of any size as int). It raises ValueError or RecursionError for anything
    else, including what the standard library would still read (a lone surrogate escape, a BOM): a caller that
    must say why a value is refused, or read those too, goes on to `loads` with the decoded text."""
    return _FAST_DECODER.decode(raw)


def dumps(value: Any, *, pretty: bool = False, sort_keys: bool = False) -> str:
    if pretty:
        return _simplejson_dumps(value, sort_keys=sort_keys, indent=2)
    return _compact(value, sort_keys=sort_keys)


def canonical(value: Any) -> str:
    """The text content hashes are taken of: sorted keys, no spaces, decimals as written."""
    return _compact(value, sort_keys=True)


def _simplejson_dumps(value: Any, *, sort_keys: bool, indent: int | None = None) -> str:
    return simplejson.dumps(
        value,
        use_decimal=True,
        ensure_ascii=False,
        sort_keys=sort_keys,
        indent=indent,
        separators=None if indent else (",", ":"),
    )


# Written in place of each Decimal by the standard library's encoder, then replaced (see _stdlib_compact).
_DECIMAL_STAND_IN = "\x00"
_WRITTEN_STAND_IN = '"\\u0000"'


def _compact(value: Any, *, sort_keys: bool) -> str:
    """The text simplejson writes with no spaces, written several times faster.

    orjson writes it, each Decimal as its digits, for values made only of what it writes exactly as simplejson
    does: objects with text keys, arrays, text, integers, booleans, null and decimals (a float it writes in
    another notation: 1e-05 is its 0.00001). Else, or where orjson refuses (an integer beyond 64 bits, a lone
    surrogate, nesting past its limit), the standard library's encoder writes it (see _stdlib_compact)."""
    written = _orjson_compact(value, sort_keys=sort_keys)
    return _stdlib_compact(value, sort_keys=sort_keys) if written is None else written.decode()


def _compact_utf8(value: Any, *, sort_keys: bool, plain_json: bool = False) -> bytes:
    """`_compact`'s text in UTF-8, as orjson writes it: hashing needs no decoding and encoding again."""
    written = _orjson_compact(value, sort_keys=sort_keys, plain_json=plain_json)
    return _stdlib_compact(value, sort_keys=sort_keys).encode() if written is None else written


def _orjson_compact(value: Any, *, sort_keys: bool, plain_json: bool = False) -> bytes | None:
    """orjson's text of `value` where it is simplejson's (see _compact); None where it is not. `plain_json`: the
    caller knows that `value` holds only what `_orjson_alike` lets through, and it is not walked again."""
    try:
        if plain_json or _orjson_alike(value):
            return orjson.dumps(value, default=_decimal_digits, option=_ORJSON_OPTIONS[sort_keys])
    except orjson.JSONEncodeError:
        pass
    return None


_ORJSON_OPTIONS = {False: 0, True: orjson.OPT_SORT_KEYS}
_ORJSON_ALIKE = frozenset({dict, list, str, int, bool, type(None), Decimal})
_DEEPEST = 300  # levels; orjson refuses nesting past 255, and a value holding itself never ends


def _decimal_digits(item: Any) -> orjson.Fragment:
    if item.__class__ is not Decimal:
        raise TypeError(type(item).__name__)
    return orjson.Fragment(str(item))


def _orjson_alike(value: Any) -> bool:
    """Whether `value` holds only what orjson writes as simplejson does (exact classes: no subclasses).

    A walk in C, one level of the tree at a time: gc.get_referents gives the items of lists and the values
    of dicts, and the keys of a dict only when one is not exactly str (CPython keeps all-str keys apart
    and does not report them); a key that is no str either fails the type check or makes orjson refuse
    (an int). Scalars report nothing, so the walk ends below the deepest container."""
    if type(value) not in _ORJSON_ALIKE:
        return False
    level = [value]
    for _ in range(_DEEPEST):
        level = gc.get_referents(*level)
        if not level:
            return True
        if not _ORJSON_ALIKE.issuperset(map(type, level)):
            return False
    return False


def _stdlib_compact(value: Any, *, sort_keys: bool) -> str:
    """The standard library's encoder writes it in C, but cannot write a Decimal as a number. So each Decimal
    is written as a stand-in string and replaced by its digits afterwards. Where that could go wrong (a string
    holding NUL writes like the stand-in) or the standard library cannot write the value, simplejson does (it
    escapes each string in Python when it writes non-ASCII text: slow)."""
    decimals: list[str] = []

    def stand_in(item: Any) -> str:
        if not isinstance(item, Decimal):
            raise TypeError(type(item).__name__)
        decimals.append(str(item))
        return _DECIMAL_STAND_IN

    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=sort_keys, separators=(",", ":"), default=stand_in)
    except TypeError:
        return _simplejson_dumps(value, sort_keys=sort_keys)
    if not decimals:
        return text
    pieces = text.split(_WRITTEN_STAND_IN)
    if len(pieces) != len(decimals) + 1:
        return _simplejson_dumps(value, sort_keys=sort_keys)
    return "".join(piece + number for piece, number in zip(pieces, [*decimals, ""], strict=True))


# Written in place of the member that `canonical_utf8_with_member` varies, then replaced by each variant's text.
_SLOT = "\x00\x01"
_WRITTEN_SLOT = b'"\\u0000\\u0001"'


def canonical_utf8_with_member(value: dict[str, Any], key: str, *, plain_json: bool = False) -> Callable[[Any], bytes]:
    """A function giving the canonical text in UTF-8 of `value` with its member `key` set to its argument (None:
    without that member), the rest of `value` written once: a stored resource and its content hash differ only
    in their meta. Where a string of `value` writes like the stand-in, each variant is written whole.
    `plain_json`: `value` is known to hold only dicts, lists, str, int, bool and Decimal (see _orjson_compact)."""
    text = _compact_utf8({**value, key: _SLOT}, sort_keys=True, plain_json=plain_json)
    head, slot, tail = text.partition(_WRITTEN_SLOT)
    if not slot or _WRITTEN_SLOT in tail:
        rest = {name: item for name, item in value.items() if name != key}
        return lambda member: _compact_utf8(rest if member is None else {**rest, key: member}, sort_keys=True)
    name = _written_key(key)
    assert head.endswith(name), "the stand-in is the member's value"
    before = head[: -len(name)]
    without = before[:-1] + tail if before.endswith(b",") else before + tail.removeprefix(b",")
    return lambda member: without if member is None else head + _compact_utf8(member, sort_keys=True) + tail


@functools.lru_cache(maxsize=64)  # the keys come from code ("meta"); json.dumps makes an encoder per call
def _written_key(key: str) -> bytes:
    return (json.dumps(key, ensure_ascii=False) + ":").encode()


def canonical_sha256(value: Any) -> str:
    """Hex SHA-256 of the canonical text (sorted keys, no spaces, decimals as written): equal content, equal hash."""
    return hashlib.sha256(_compact_utf8(value, sort_keys=True)).hexdigest()


class FhirJsonDecoder(json.JSONDecoder):
    """For JSONField(decoder=...): stored resources come back with exact decimals."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("parse_float", Decimal)
        super().__init__(**kwargs)
