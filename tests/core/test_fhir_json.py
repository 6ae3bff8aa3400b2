"""Compact FHIR JSON and the canonical text behind content hashes: the fast writer gives exactly what
simplejson gives.

Stored content hashes were computed from simplejson's sorted compact text, so `canonical` must match it
character for character, or an unchanged resource would look changed; stored and served text must keep
decimals as written.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import simplejson

from core import fhir_json
from tests.conftest import FIXTURES


def nested(depth: int, value: Any) -> Any:
    for _ in range(depth):
        value = [value]
    return value


AWKWARD_VALUES = [
    {},
    [],
    {"b": 1, "a": {"d": [1, 2], "c": None}, "é": True, "日本": False},
    {"value": Decimal("1.50"), "low": Decimal("-0.0"), "big": Decimal("1E+3"), "int": 1, "float": 0.1},
    [Decimal("2"), Decimal("0.000001"), "2"],
    {"text": 'quote " backslash \\ newline \n tab \t bell \x07 delete \x7f line separator \u2028 ｶﾞ 🩺'},
    # Strings holding NUL, written like the writer's stand-in for a Decimal, with and without decimals.
    {"nul": "\x00"},
    {"nul": "\x00", "value": Decimal("3.0")},
    {"quoted nul": 'x"\x00', "value": Decimal("4.25")},
    ["\x00", Decimal("5.5"), "\x00"],
    # What orjson writes otherwise than simplejson, or refuses: floats in exponent notation, integers beyond 64 bits,
    # lone surrogates, keys that are not text, nesting past its limit.
    {"small": 1e-05, "large": 1e16, "value": Decimal("1.0")},
    {"big": 2**70, "value": Decimal("0.5")},
    {"surrogate": "\ud800", "value": Decimal("0.25")},
    {1: "one", "value": Decimal("7.5")},
    {"deep": nested(300, [Decimal("1.5")])},
]


def simplejson_compact(value: Any, *, sort_keys: bool) -> str:
    """The reference writer."""
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=False, sort_keys=sort_keys, separators=(",", ":"))


@pytest.mark.parametrize("value", AWKWARD_VALUES)
def test_canonical_and_compact_text_are_what_simplejson_writes(value):
    assert fhir_json.canonical(value) == simplejson_compact(value, sort_keys=True)
    assert fhir_json.dumps(value) == simplejson_compact(value, sort_keys=False)
    assert fhir_json.dumps(value, sort_keys=True) == fhir_json.canonical(value)


def fixture_values() -> list[tuple[Path, Any]]:
    """Every fixture file that is JSON (some are deliberately broken input)."""
    values = []
    for path in sorted(FIXTURES.rglob("*.json")):
        try:
            values.append((path, fhir_json.loads(path.read_bytes())))
        except ValueError:
            continue
    return values


def test_canonical_and_compact_text_match_simplejson_on_every_fixture():
    checked = fixture_values()
    assert len(checked) > 300
    for path, value in checked:
        assert fhir_json.canonical(value) == simplejson_compact(value, sort_keys=True), path
        assert fhir_json.dumps(value) == simplejson_compact(value, sort_keys=False), path


def test_canonical_sha256_hashes_the_canonical_utf8_text():
    value = {"name": [{"family": "山田"}], "valueQuantity": {"value": Decimal("72.50")}}
    expected = hashlib.sha256(simplejson_compact(value, sort_keys=True).encode()).hexdigest()
    assert fhir_json.canonical_sha256(value) == expected


class Text(str):
    pass


def cyclic() -> list[Any]:
    value: list[Any] = [Decimal("1.5")]
    value.append({"self": value})
    return value


@pytest.mark.parametrize(
    ("value", "alike"),
    [
        ({"a": [{"b": "x", "c": [1, True, None, Decimal("1.5")]}]}, True),
        ({"a": [{"b": [{"c": 0.5}]}]}, False),  # a float deep down
        ({"a": [{"b": ("x",)}]}, False),
        ({"a": {Text("key"): "x"}}, False),  # a key that is not exactly str
        ({"a": [Text("x")]}, False),
        (nested(400, "x"), False),  # deeper than orjson writes
    ],
)
def test_the_orjson_walk_lets_through_only_what_orjson_writes_as_simplejson(value, alike):
    assert fhir_json._orjson_alike(value) is alike
    assert fhir_json.canonical(value) == simplejson_compact(value, sort_keys=True)


def test_a_value_holding_itself_fails_as_before():
    with pytest.raises(ValueError, match="Circular reference"):
        fhir_json.canonical(cyclic())


def test_what_json_cannot_hold_fails_as_before():
    with pytest.raises(TypeError):
        fhir_json.canonical({"when": date(2026, 1, 1)})


def without(value: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: item for name, item in value.items() if name != key}


VARIED_VALUES = [
    {"resourceType": "Patient", "id": "1"},  # the member sorts last
    {"active": True},  # first, and alone once set
    {"meta": {"versionId": "1"}, "a": 1, "z": 2},  # in the middle, and replaced
    {"meta": {"source": "x"}},  # alone
    {"id": "x", "valueQuantity": {"value": Decimal("1.50")}, "contained": [{"meta": {"versionId": "9"}}]},
    # Strings that write like the stand-in: every variant is written whole.
    {"text": "\x00\x01"},
    {"text": '"\x00\x01', "value": Decimal("2.0")},
    {"text": "\x00", "value": Decimal("3.25")},
]


@pytest.mark.parametrize("value", VARIED_VALUES + [value for _, value in fixture_values() if isinstance(value, dict)])
def test_canonical_utf8_with_member_gives_the_canonical_text_of_each_variant(value):
    with_meta = fhir_json.canonical_utf8_with_member(value, "meta")
    for variant in (
        {"versionId": "2", "lastUpdated": "2026-01-01T00:00:00Z", "source": "s"},
        None,
        {},
        [Decimal("0.1")],
    ):
        assert with_meta(variant) == canonical_text(value, variant).encode()


def canonical_text(value: dict[str, Any], meta: Any) -> str:
    rest = without(value, "meta")
    return simplejson_compact(rest if meta is None else {**rest, "meta": meta}, sort_keys=True)
