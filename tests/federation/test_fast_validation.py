"""The fast structural check (federation.fhir.r4b_structure) never says valid where the model does not.

`r4b.validation_issues` asks `surely_valid` first and the model only when it says no, so its
answers must equal the model's (`r4b.model_issues`) for every input: the same issues, in the same
words, or the same exception. Checked over every resource in fixtures/, over random mutations of
the valid ones, and primitive by primitive.
"""

from __future__ import annotations

import copy
import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fhir_core.types import Date, DateTime, Instant, Time
from fhir_core.types import Decimal as FhirDecimal
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core import fhir_json
from federation.fhir import r4b_structure
from federation.fhir.r4b import model_issues, validation_issues
from federation.fhir.r4b_structure import surely_valid
from tests.conftest import FIXTURES
from tests.federation.test_index_snapshot import resources

FIXTURE_FILES = sorted(path for path in FIXTURES.rglob("*") if path.suffix in (".json", ".ndjson"))


def documents(path: Path) -> list[Any]:
    """The JSON in a fixture: the whole file, else each line that parses (NDJSON); [] for broken files."""
    raw = path.read_bytes()
    try:
        return [fhir_json.loads(raw)]
    except ValueError:
        pass
    parsed = []
    for line in raw.splitlines():
        try:
            parsed.append(fhir_json.loads(line))
        except ValueError:
            continue
    return parsed


def outcome(check: Any, resource: Any) -> Any:
    """What `check` answers for `resource`: its issues, or the type of what it raised."""
    try:
        return check(resource)
    except Exception as error:
        return type(error)


def assert_same_answers(resource: Any) -> None:
    expected = outcome(model_issues, resource)
    assert outcome(validation_issues, resource) == expected
    if surely_valid(resource):
        assert expected == [], expected
        assert fhir_json._orjson_alike(resource), "what the check vouches for is written without the writer's own walk"


@cache
def valid_examples() -> list[dict[str, Any]]:
    return [
        resource
        for path in FIXTURE_FILES
        for document in documents(path)
        for resource in resources(document)
        if outcome(model_issues, resource) == []
    ]


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda path: str(path.relative_to(FIXTURES)))
def test_fixture_resources_get_the_model_verdict_from_the_fast_check(path):
    for document in documents(path):
        for resource in resources(document):
            assert surely_valid(resource) == (outcome(model_issues, resource) == []), resource.get("id")
            assert_same_answers(resource)


def test_fixtures_hold_many_valid_resources():
    """The mutation test below starts from these; it is only as good as their variety."""
    examples = valid_examples()
    assert len(examples) > 1000
    assert len({resource["resourceType"] for resource in examples}) > 100


# Mutations: each replaces, drops or adds something at one place in a valid resource.

BAD_VALUES: list[Any] = [
    None,
    {},
    [],
    "",
    " ",
    "\ud800",
    True,
    0,
    -1,
    2**31,
    Decimal("1.5"),
    Decimal("NaN"),
    1.5,
    "true",
    "2024-02-30",
    "2024-13",
    "2024-01-01T10:00:00",
    "2024-01-01T23:59:60Z",
    "24:00:00",
    "a_b",
    "a" * 65,
    " a",
    "a  b",
    "a\u00a0b",
    "YQ",
    "urn:oid:1.02",
    {"text": "x"},
    {"resourceType": "Patient"},
    ["x"],
    [None],
    [{}],
]
CHOICE_VARIANTS = {"String": "x", "Boolean": True, "DateTime": "2024-01-01", "Quantity": {"value": 1}}
RESOURCE_TYPES = ["Patient", "Observation", "CodeableConcept", "Resource", "Nonsense", 5, None]
PRIMITIVE_EXTENSIONS = [{}, {"id": "a"}, {"extension": [{"url": "http://example.org", "valueCode": "x"}]}, [], None]


def places(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in a JSON value, the root's children first."""
    found: list[tuple[Any, Any]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        found.append((node, key))
        found.extend(places(value))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    resource: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(valid_examples())))
    for _ in range(draw(st.integers(1, 3))):
        container, key = draw(st.sampled_from(places(resource)))
        value = container[key]
        kind = draw(
            st.sampled_from(
                ["drop", "replace", "text", "wrap", "unwrap", "add key", "underscore", "choice", "resourceType"]
            )
        )
        if kind == "drop":
            del container[key]
        elif kind == "replace":
            container[key] = copy.deepcopy(draw(st.sampled_from(BAD_VALUES)))
        elif kind == "text":
            container[key] = draw(st.text(max_size=12))
        elif kind == "wrap":
            container[key] = [value]
        elif kind == "unwrap" and isinstance(value, list) and value:
            container[key] = value[0]
        elif kind == "add key" and isinstance(value, dict):
            value[draw(st.sampled_from(["unknownElement", "fhir_comments", "resource_type", "_id", "id"]))] = "x"
        elif kind == "underscore" and isinstance(key, str):
            container[f"_{key.lstrip('_')}"] = copy.deepcopy(draw(st.sampled_from(PRIMITIVE_EXTENSIONS)))
        elif kind == "choice" and isinstance(key, str) and _choice_stem(key):
            variant = draw(st.sampled_from(sorted(CHOICE_VARIANTS)))
            container[_choice_stem(key) + variant] = copy.deepcopy(CHOICE_VARIANTS[variant])
        elif kind == "resourceType" and isinstance(value, dict) and "resourceType" in value:
            value["resourceType"] = draw(st.sampled_from(RESOURCE_TYPES))
        if not places(resource):
            break
    return resource


def _choice_stem(key: str) -> str:
    """`value` for valueQuantity, `effective` for effectiveDateTime; '' when the key has no type suffix."""
    for index, character in enumerate(key):
        if character.isupper():
            return key[:index]
    return ""


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(resource=mutated())
def test_mutated_resources_get_the_model_answer(resource):
    assert_same_answers(resource)


# Structure rules, one example each (the mutation test finds them too, but not by name).

OBSERVATION = {"resourceType": "Observation", "status": "final", "code": {"text": "BP"}}
ORDER = {
    "resourceType": "MedicationRequest",
    "status": "active",
    "intent": "order",
    "subject": {"reference": "Patient/1"},
}
EXTENSION = {"url": "http://example.org/x", "valueString": "x"}
STRUCTURE_CASES = {
    "minimal": (OBSERVATION, True),
    "required complex element missing": ({"resourceType": "Observation", "status": "final"}, False),
    "required primitive missing": ({"resourceType": "Observation", "code": {"text": "BP"}}, False),
    "two choice variants": ({**OBSERVATION, "valueString": "x", "valueBoolean": True}, False),
    "required choice missing": (ORDER, False),
    "required choice present": ({**ORDER, "medicationCodeableConcept": {"text": "aspirin"}}, True),
    "one choice variant": ({**OBSERVATION, "valueQuantity": {"value": Decimal("1.5"), "unit": "mmHg"}}, True),
    "single where a list is expected": ({**OBSERVATION, "category": {"text": "x"}}, False),
    "list where a single is expected": ({**OBSERVATION, "code": [{"text": "BP"}]}, False),
    "unknown key": ({**OBSERVATION, "colour": "red"}, False),
    "wrong resourceType": ({**OBSERVATION, "resourceType": "Patient"}, False),
    "contained resource": ({**OBSERVATION, "contained": [{"resourceType": "Patient", "id": "p"}]}, True),
    "contained of a wrong type": ({**OBSERVATION, "contained": [{"resourceType": "CodeableConcept"}]}, False),
    "contained invalid": ({**OBSERVATION, "contained": [{"resourceType": "Patient", "gender": ""}]}, False),
    "bundle entry": (
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": OBSERVATION}]},
        True,
    ),
    "empty list (fhir_core accepts it)": ({"resourceType": "Bundle", "type": "transaction", "entry": []}, True),
    "primitive extension": ({**OBSERVATION, "_status": {"extension": [EXTENSION]}}, True),
    "empty primitive extension": ({**OBSERVATION, "_status": {}}, False),
    "primitive list with extensions": (
        {"resourceType": "Patient", "name": [{"given": ["A", "B"], "_given": [{"id": "g1"}, {"id": "g2"}]}]},
        True,
    ),
    "extension on an extension's value": (
        {**OBSERVATION, "extension": [{**EXTENSION, "_valueString": {"extension": [EXTENSION]}}]},
        True,
    ),
    "extension without url": ({**OBSERVATION, "extension": [{"valueString": "x"}]}, False),
    "null in a complex list": ({**OBSERVATION, "category": [None]}, False),
    "narrative": ({**OBSERVATION, "text": {"status": "generated", "div": "<div>x</div>"}}, True),
}


@pytest.mark.parametrize(("resource", "valid"), STRUCTURE_CASES.values(), ids=STRUCTURE_CASES.keys())
def test_structure_rules(resource, valid):
    assert_same_answers(resource)
    assert (outcome(model_issues, resource) == []) is valid
    assert surely_valid(resource) is valid


@pytest.mark.parametrize(
    "resource",
    [
        {**OBSERVATION, "valueString": None},  # a null: fhir_core accepts it; the fast check asks
        {**OBSERVATION, "code": {}},  # an empty object: likewise
        {**OBSERVATION, "fhir_comments": ["x"]},
        {**OBSERVATION, "extension": [{**EXTENSION, "_valueNonsense": {"id": "x"}}]},
    ],
)
def test_what_the_fast_check_leaves_to_the_model(resource):
    assert not surely_valid(resource)
    assert_same_answers(resource)


# Primitives: each is tried as an extension's value[x] (Extension has every primitive type).

PRIMITIVES: dict[str, tuple[list[Any], list[Any]]] = {
    # FHIR type -> (values the fast check must accept, values to try whatever the model says of them)
    "Boolean": ([True, False], [1, 0, "true", None]),
    "Integer": ([0, -(2**31), 2**31 - 1], [2**31, -(2**31) - 1, True, 1.0, "1", Decimal("1")]),
    "PositiveInt": ([1, 2**31 - 1], [0, -1, 2**31]),
    "UnsignedInt": ([0, 2**31 - 1], [-1, 2**31]),
    "Decimal": (
        [0, -3, Decimal("1.50"), Decimal("-0.001"), Decimal("1E+2")],
        [True, "1.5", Decimal("NaN"), Decimal("Infinity"), 2.5, float("inf"), float("nan"), 10**1001],
    ),
    "Date": (["2024", "2024-02", "2024-02-29", "0001-01-01"], ["2023-02-29", "2024-02-30", "2024-13", "2024-1-01"]),
    "DateTime": (
        ["2024", "2024-02", "2024-02-29", "2024-01-01T10:00:00Z", "2024-01-01T10:00:00.123456789+14:00"],
        ["2024-01-01T10:00:00", "2024-02-30T10:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T23:59:60Z"],
    ),
    "Instant": (["2024-01-01T10:00:00Z", "2024-01-01T10:00:00.5-05:00"], ["2024-01-01", "2024-12-31T23:59:60Z"]),
    "Time": (["00:00:00", "23:59:59.999"], ["24:00:00", "10:00", "23:59:60", "10:00:00Z"]),
    "String": (["x", " x ", "日本語"], ["", " ", "\t", "\x0b", "\u00a0", "\x1c", "a\ud800"]),
    "Code": (["x", "a b", "日本"], ["", " a", "a ", "a  b", "a\tb", "a\u00a0b", "a\x1c\x1cb"]),
    "Id": (["a", "A-1.b", "a" * 64], ["", "a_b", "a\n", "a" * 65, "a" * 255, "a" * 256]),
    "Uri": (["http://example.org", "urn:oid:1.2", ""], ["a b", "\ud800"]),
    "Url": (["http://example.org"], ["", "string", "a b"]),
    "Canonical": (["http://example.org|1.0"], ["", "a b"]),
    "Markdown": (["*x*", ""], [" ", "\ud800"]),
    "Oid": (["urn:oid:1.2.3"], ["urn:oid:1", "urn:oid:3.1", "urn:oid:1.02", "urn:oid:1.2\n"]),
    "Base64Binary": (["", "YQ==", "YWI=", "YWJj"], ["YQ", "Y", "!!!!", "Y Q = =", "YQ==YQ=="]),
    "Uuid": ([], ["urn:uuid:c757873d-ec9a-4326-a141-556f43239520", "urn:uuid:c757873d-ec9a-1326-a141-556f43239520"]),
}


def carrying(type_name: str, value: Any) -> dict[str, Any]:
    extension = {"url": "http://example.org/x", f"value{type_name}": value}
    return {"resourceType": "Basic", "code": {"text": "x"}, "extension": [extension]}


@pytest.mark.parametrize(
    ("type_name", "value"),
    [(type_name, value) for type_name, (fast, _) in PRIMITIVES.items() for value in fast],
)
def test_primitive_values_the_fast_check_accepts(type_name, value):
    assert surely_valid(carrying(type_name, value))
    assert model_issues(carrying(type_name, value)) == []


@pytest.mark.parametrize(
    ("type_name", "value"),
    [(type_name, value) for type_name, (_, other) in PRIMITIVES.items() for value in other],
)
def test_primitive_values_at_the_edges(type_name, value):
    assert_same_answers(carrying(type_name, value))


TEMPORAL_TEXT = st.text(alphabet="0123456789-:.TZ+ ", max_size=32)
TEMPORAL = st.one_of(
    TEMPORAL_TEXT,
    st.dates().map(str),
    st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})\Z"),
    st.from_regex(r"\A[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,4})?\Z"),
)
NUMBERS = st.one_of(
    st.integers(),
    st.decimals(),
    st.floats(),
    st.booleans(),
    st.integers(min_value=-(2**32), max_value=2**32),
)
TEXT = st.one_of(st.text(max_size=16), st.text(alphabet=" \t\n\r\x0b\x1c\u00a0a_-.:/", max_size=8))
PRIMITIVE_VALUES = {
    "Date": TEMPORAL,
    "DateTime": TEMPORAL,
    "Instant": TEMPORAL,
    "Time": TEMPORAL,
    "Decimal": NUMBERS,
    "Integer": NUMBERS,
    "PositiveInt": NUMBERS,
    "UnsignedInt": NUMBERS,
    "Boolean": st.one_of(st.booleans(), NUMBERS, TEXT),
    "String": TEXT,
    "Code": TEXT,
    "Id": TEXT,
    "Uri": TEXT,
    "Oid": st.one_of(TEXT, st.from_regex(r"\Aurn:oid:[0-9.]{1,8}\Z")),
    "Base64Binary": st.one_of(TEXT, st.from_regex(r"\A[A-Za-z0-9+/=]{0,12}\Z")),
}


@settings(max_examples=1500, deadline=None)
@example(case=("Date", "2024-02-30"))
@example(case=("DateTime", "2024-02-29T23:59:60+01:00"))
@example(case=("Decimal", Decimal("-0E-7")))
@given(
    case=st.sampled_from(sorted(PRIMITIVE_VALUES)).flatmap(
        lambda type_name: st.tuples(st.just(type_name), PRIMITIVE_VALUES[type_name])
    )
)
def test_generated_primitive_values(case):
    assert_same_answers(carrying(*case))


# The shortcuts inside the primitive checks, each against the rule it stands for.


@settings(max_examples=500, deadline=None)
@given(value=st.decimals(allow_nan=True, allow_infinity=True) | st.decimals(places=3))
def test_a_decimal_passes_where_its_text_matches_the_pattern(value):
    assert r4b_structure._decimal(value) == (FhirDecimal.pattern.fullmatch(str(value)) is not None)


@settings(max_examples=1500, deadline=None)
@given(text=TEMPORAL)
def test_the_temporal_patterns_without_captures_match_what_fhir_core_matches(text):
    for fast, pattern in [
        (r4b_structure._DATE, Date.pattern),
        (r4b_structure._DATE_TIME, DateTime.pattern),
        (r4b_structure._INSTANT, Instant.pattern),
        (r4b_structure._TIME, Time.pattern),
    ]:
        assert (fast.fullmatch(text) is None) == (pattern.fullmatch(text) is None)


@pytest.mark.parametrize("year", ["0001", "1900", "2000", "2023", "2024", "9999"])
def test_the_calendar_shortcut_agrees_with_the_calendar(year):
    for month in range(1, 13):
        for day in range(1, 32):
            text = f"{year}-{month:02}-{day:02}"
            assert r4b_structure._is_day(text) is is_calendar_day(text), text


def is_calendar_day(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True
