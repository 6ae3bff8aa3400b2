"""Reading FHIR JSON: msgspec's fast reader gives exactly what the standard library's exact decoder gives.

The reference is `json.loads` with Decimal for numbers with a fraction or an exponent and NaN refused.
Values are compared with their types, since Decimal("1") == 1 in Python but 1 and 1.0 differ in FHIR.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from core import fhir_json
from tests.conftest import FIXTURES


def reference(raw: str | bytes) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not allowed in FHIR JSON")

    return json.loads(raw, parse_float=Decimal, parse_constant=refuse)


def typed(value: Any) -> Any:
    """The value with every item's type beside it."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, str(value))


def outcome(read: Any, raw: str | bytes) -> tuple[str, Any]:
    """("value", the typed value read), or ("error", the error's type and text)."""
    try:
        return "value", typed(read(raw))
    except (ValueError, RecursionError) as error:
        return "error", f"{type(error).__name__}: {error}"


def same_or_refused(raw: bytes) -> None:
    """`loads_utf8` may refuse (its caller reads again with `loads`); a value it gives is the reference's."""
    fast = outcome(fhir_json.loads_utf8, raw)
    if fast[0] == "value":
        assert fast == outcome(reference, raw), raw[:200]


AWKWARD_TEXTS = [
    '{"value": 1.50, "low": -0.0, "big": 1E+3, "int": 1, "exp": 2e-5, "huge": 123456789012345678901234567890}',
    '{"a": 1, "a": 2}',  # the last of a repeated key
    "[18446744073709551616, -9223372036854775809, 9223372036854775807]",
    ' \n\t{"spaces" : [ 1 , 2 ] }\r\n',
    '"\\ud83e\\ude7a"',  # a surrogate pair, escaped
    '"\\ud800"',  # a lone surrogate: msgspec refuses it, the standard library reads it
    '\ufeff{"bom": true}',  # refused as text; bytes with a BOM are read
    "1" * 5000,  # past Python's limit on digits
    "NaN",
    '{"value": Infinity}',
    '{"a": 1,}',
    "{} {}",
    '"tab\there"',
    "01",
    "",
    "[" * 100_000 + "]" * 100_000,
]


@pytest.mark.parametrize("text", AWKWARD_TEXTS, ids=range(len(AWKWARD_TEXTS)))
def test_loads_reads_awkward_text_as_the_standard_library_does(text):
    assert outcome(fhir_json.loads, text) == outcome(reference, text)
    raw = text.encode("utf-8", "surrogatepass")
    assert outcome(fhir_json.loads, raw) == outcome(reference, raw)


@pytest.mark.parametrize("text", AWKWARD_TEXTS, ids=range(len(AWKWARD_TEXTS)))
def test_loads_utf8_gives_the_same_value_or_refuses(text):
    same_or_refused(text.encode("utf-8", "surrogatepass"))


def test_the_fast_reader_refuses_what_only_the_standard_library_reads():
    with pytest.raises(msgspec.DecodeError):
        fhir_json.loads_utf8(b'"\\ud800"')
    assert fhir_json.loads(b'"\\ud800"') == "\ud800"
    assert fhir_json.loads(b'\xef\xbb\xbf{"bom": true}') == {"bom": True}


def fixture_texts() -> list[bytes]:
    """Every JSON document and NDJSON line of the fixtures, broken ones included."""
    texts = [path.read_bytes() for path in sorted(FIXTURES.rglob("*.json"))]
    for path in sorted(FIXTURES.rglob("*.ndjson")):
        texts += path.read_bytes().splitlines()
    return texts


def test_every_fixture_reads_as_the_standard_library_reads_it():
    texts = fixture_texts()
    assert len(texts) > 300
    for raw in texts:
        assert outcome(fhir_json.loads, raw) == outcome(reference, raw), raw[:200]
        same_or_refused(raw)


def test_mangled_lines_read_alike_or_both_fail():
    """Lines of real resources with a few bytes changed, dropped or put in: whatever msgspec accepts, the
    standard library accepts as the same value."""
    lines = [raw for raw in fixture_texts() if raw.startswith(b"{") and len(raw) < 20_000]
    shuffled = random.Random(5)
    alphabet = b'{}[]",:0123456789.eE-+ \\utfnal\x00\xe3'
    accepted = 0
    for _ in range(20_000):
        line = bytearray(shuffled.choice(lines))
        for _ in range(shuffled.randint(1, 3)):
            place = shuffled.randrange(len(line))
            change = shuffled.random()
            if change < 0.4:
                line[place] = shuffled.choice(alphabet)
            elif change < 0.7:
                del line[place]
            else:
                line.insert(place, shuffled.choice(alphabet))
        raw = bytes(line)
        assert outcome(fhir_json.loads, raw) == outcome(reference, raw), raw[:200]
        same_or_refused(raw)
        accepted += outcome(fhir_json.loads_utf8, raw)[0] == "value"
    assert accepted > 1_000  # the check was not empty
