"""Example-based tests of the search oracle (expected ids computed by hand), and a hypothesis smoke test.

The differential tests trust the oracle, so every parameter type, modifier and prefix it claims to
support has at least one example here whose answer was worked out on paper from the FHIR R4 rules
written in the oracle's docstring.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.federation.search import strategies
from tests.federation.search.oracle import (
    TOKYO,
    InvalidQueryError,
    Unsupported,
    evaluate,
    implicit_range,
    normalise,
    parse_date,
    split_escaped,
    unescape,
)

NOW = datetime(2026, 1, 1, tzinfo=TOKYO)
EN = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
OID_A = "urn:oid:1.2.392.100495.20.3.51.11234567890"
OID_B = "urn:oid:1.2.392.100495.20.3.51.11310000001"
LOINC = "http://loinc.org"
JLAC10 = "urn:oid:1.2.392.200119.4.504"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
YJ = "urn:oid:1.2.392.100495.20.2.74"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
JP_PATIENT = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"
INSURED = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPerson"


def human_name(representation: str | None, family: str, given: str, **extra: Any) -> dict[str, Any]:
    name: dict[str, Any] = {"family": family, "given": [given], "text": f"{family} {given}", **extra}
    if representation:
        name["extension"] = [{"url": EN, "valueCode": representation}]
    return name


def jp_names(kanji: tuple[str, str], kana: tuple[str, str], *, usual: bool) -> list[dict[str, Any]]:
    kana_name = human_name("SYL", *kana, **({"use": "usual"} if usual else {}))
    return [human_name("IDE", *kanji, use="official"), kana_name]


def quantity(value: float, unit: str, *, code: str | None = None, system: str | None = UCUM) -> dict[str, Any]:
    result: dict[str, Any] = {"value": value, "unit": unit}
    if system:
        result |= {"system": system, "code": code or unit}
    return result


def loinc(code: str, display: str | None = None) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": code, **({"display": display} if display else {})}]}


PATIENTS: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {
            "lastUpdated": "2024-04-01T09:00:00.000+09:00",
            "tag": [{"system": "urn:oid:1.2.392.100495.20.1.99", "code": "vip"}],
            "profile": [JP_PATIENT],
            "source": "urn:tsunagi:hospital-a",
        },
        "identifier": [
            {
                "system": OID_A,
                "value": "00012345",
                "type": {"coding": [{"system": V2_0203, "code": "MR"}], "text": "診察券番号"},
            }
        ],
        "active": True,
        "name": jp_names(("山田", "太郎"), ("ヤマダ", "タロウ"), usual=True),
        "telecom": [{"system": "phone", "value": "03-1234-5678"}],
        "gender": "male",
        "birthDate": "1941-04-02",
        "address": [{"line": ["丸の内1-1-1"], "city": "千代田区", "postalCode": "100-0001"}],
        "managingOrganization": {"reference": "Organization/org1"},
    },
    {
        "resourceType": "Patient",
        "id": "p2",
        "meta": {"lastUpdated": "2025-01-15T12:30:00+09:00", "source": "http://hospital.example.jp/fhir/ehr/v2"},
        "identifier": [{"system": OID_B, "value": "00067890"}],
        "active": False,
        "name": jp_names(("髙橋", "一郎"), ("ﾀｶﾊｼ", "ｲﾁﾛｳ"), usual=False),
        "telecom": [{"system": "email", "value": "x@example.jp"}],
        "gender": "female",
        "birthDate": "1975-12",
        "address": [{"line": ["梅田2-4-9, 3F"], "city": "大阪市北区"}],
        "managingOrganization": {"reference": "Organization/org2"},
    },
    {
        "resourceType": "Patient",
        "id": "p3",
        "meta": {
            "lastUpdated": "2025-01-15T03:30:00Z",
            "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}],
            "profile": [f"{JP_PATIENT}_Extra"],
        },
        "name": jp_names(("高橋", "直美"), ("たかはし", "なおみ"), usual=True),
        "gender": "female",
        "birthDate": "2000",
    },
    {
        "resourceType": "Patient",
        "id": "p4",
        "meta": {"lastUpdated": "2024-04-01T00:00:00Z"},
        "name": jp_names(("山﨑", "美咲"), ("ヤマザキ", "ミサキ"), usual=False),
    },
    {
        "resourceType": "Patient",
        "id": "p5",
        "meta": {"lastUpdated": "2024-04-02T23:59:59.999+09:00"},
        "identifier": [{"value": "X-1"}],
        "name": [human_name(None, "García", "José", prefix=["Dr."], suffix=["Jr."])],
        "gender": "other",
        "birthDate": "1949-07-01",
        "address": [{"city": "Ōsaka"}],
    },
    {
        "resourceType": "Patient",
        "id": "p6",
        "meta": {"lastUpdated": "2024-04-01T00:00:00Z"},
        "name": jp_names(("伊藤", "ジョージ"), ("イトウ", "ジョージ"), usual=False),
        "gender": "male",
    },
]
ORGANIZATIONS: list[dict[str, Any]] = [
    {"resourceType": "Organization", "id": "org1", "name": "東京中央病院", "address": [{"city": "千代田区"}]},
    {"resourceType": "Organization", "id": "org2", "name": "ﾖｺﾊﾏ整形外科"},
]
OBSERVATIONS: list[dict[str, Any]] = [
    {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {
            "coding": [
                {"system": JLAC10, "code": "3D046000001906202", "display": "HbA1c\uff08NGSP\uff09"},
                {"system": LOINC, "code": "4548-4"},
            ],
            "text": "ヘモグロビンA1c",
        },
        "valueQuantity": quantity(6.5, "%"),
        "effectiveDateTime": "2024-03-01T10:00:00+09:00",
    },
    {
        "resourceType": "Observation",
        "id": "o2",
        "status": "preliminary",
        "subject": {"reference": "Patient/p2"},
        "code": loinc("29463-7", "Body weight"),
        "valueQuantity": quantity(70, "kg"),
        "effectivePeriod": {"start": "2024-03-01"},
    },
    {
        "resourceType": "Observation",
        "id": "o3",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": loinc("2345-7"),
        "valueQuantity": quantity(100.4, "mg/dL"),
        "effectiveDateTime": "2024-03-02T00:30:00",
    },
    {
        "resourceType": "Observation",
        "id": "o4",
        "status": "amended",
        "subject": {"reference": "Patient/ghost"},
        "code": loinc("2345-7"),
        "valueString": "陰性",
        "effectiveDateTime": "2024-03-01T15:00:00Z",
    },
    {
        "resourceType": "Observation",
        "id": "o5",
        "status": "final",
        "subject": {"reference": "Group/g1"},
        "code": loinc("85354-9"),
        "component": [
            {"code": loinc("8480-6"), "valueQuantity": quantity(120, "mm[Hg]")},
            {"code": loinc("8462-4"), "valueQuantity": quantity(80, "mm[Hg]")},
        ],
    },
    {
        "resourceType": "Observation",
        "id": "o6",
        "status": "final",
        "subject": {"reference": "http://other.example.org/fhir/Patient/p1"},
        "code": loinc("29463-7"),
        "valueQuantity": quantity(100, "kg", system=None),
        "effectiveDateTime": "2025-01",
    },
]
CONDITIONS: list[dict[str, Any]] = [
    {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"reference": "Patient/p1/_history/3"},
        "code": {"coding": [{"system": ICD10, "code": "E11", "display": "2型糖尿病"}]},
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
        "onsetDateTime": "2020",
        "recordedDate": "2024-03-01",
    },
    {
        "resourceType": "Condition",
        "id": "c2",
        "subject": {"reference": "Patient/p3"},
        "code": {"coding": [{"system": ICD10, "code": "I10", "display": "本態性高血圧症"}]},
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "resolved"}]},
        "onsetPeriod": {"start": "2019-01-01", "end": "2019-06-30"},
    },
    {"resourceType": "Condition", "id": "c3", "subject": {"reference": "Patient/p2"}, "code": {"text": "不明の発熱"}},
]
MEDICATION_REQUESTS: list[dict[str, Any]] = [
    {"resourceType": "Medication", "id": "med1", "code": {"coding": [{"system": YJ, "code": "2149039F1020"}]}},
    {
        "resourceType": "MedicationRequest",
        "id": "mr1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationReference": {"reference": "Medication/med1"},
        "authoredOn": "2024-03-01T09:00:00+09:00",
        "dosageInstruction": [{"timing": {"event": ["2024-03-05T08:00:00+09:00", "2024-03-06T08:00:00+09:00"]}}],
    },
    {
        "resourceType": "MedicationRequest",
        "id": "mr2",
        "status": "stopped",
        "intent": "order",
        "subject": {"reference": "Patient/p2"},
        "medicationCodeableConcept": {"coding": [{"system": YJ, "code": "3969007F1021"}], "text": "メトホルミン"},
    },
]
ENCOUNTERS: list[dict[str, Any]] = [
    {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2024-03-01T09:00:00+09:00", "end": "2024-03-01T10:00:00+09:00"},
    },
    {
        "resourceType": "Encounter",
        "id": "e2",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"identifier": {"system": OID_A, "value": "00012345"}, "display": "山田"},
    },
    {
        "resourceType": "Encounter",
        "id": "e3",
        "status": "planned",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"display": "匿名"},
    },
]
CHARGE_ITEMS: list[dict[str, Any]] = [
    {"resourceType": "ChargeItem", "id": cid, **({"factorOverride": value} if value is not None else {})}
    for cid, value in [("ci1", 100), ("ci2", 100.4), ("ci3", 99.96), ("ci4", 150), ("ci5", 0.8), ("ci6", None)]
]
COVERAGES: list[dict[str, Any]] = [
    {
        "resourceType": "Coverage",
        "id": "cv1",
        "extension": [
            {"url": f"{INSURED}Number", "valueString": "12345"},
            {"url": f"{INSURED}SubNumber", "valueString": "01"},
            {"url": f"{INSURED}Symbol", "valueString": "記号ＡＢ"},
        ],
    },
    {"resourceType": "Coverage", "id": "cv2"},
]
ALL = PATIENTS + ORGANIZATIONS + OBSERVATIONS + CONDITIONS + MEDICATION_REQUESTS + ENCOUNTERS + CHARGE_ITEMS + COVERAGES


def ids(resource_type: str, query: str, resources: list[dict[str, Any]] | None = None) -> set[str]:
    return evaluate(ALL if resources is None else resources, resource_type, query, now=NOW)


def cases(resource_type: str, table: list[tuple[str, str]]) -> list[Any]:
    """Parametrize rows: (query, space-separated expected ids)."""
    return [pytest.param(resource_type, q, set(expected.split()), id=f"{resource_type}?{q}") for q, expected in table]


def check(resource_type: str, query: str, expected: set[str]) -> None:
    assert ids(resource_type, query) == expected


# --------------------------------------------------------------------------------------------------
# Building blocks


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("ヤマダ", "やまだ"),
        ("ﾔﾏﾀﾞ", "やまだ"),  # half-width katakana + separate voicing mark
        ("やまだ", "やまだ"),
        ("ヴ", "ゔ"),
        ("ジョージ", "じょーじ"),  # the prolonged sound mark and small kana stay as they are
        ("ＧＡＲＣÍＡ", "garcia"),
        ("Straße", "strasse"),
        ("HbA1c\uff08NGSP\uff09", "hba1c(ngsp)"),
        ("髙橋", "髙橋"),  # variant kanji are distinct characters, not folded
        ("山﨑", "山﨑"),
        ("ヤマダ\u3000タロウ", "やまだ たろう"),
    ],
)
def test_normalise(text: str, key: str) -> None:
    assert normalise(text) == key


def test_normalise_keeps_kana_voicing() -> None:
    assert normalise("だ") != normalise("た")
    assert normalise("ぱ") != normalise("は")


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("2026", "2025-12-31T15:00:00+00:00", "2026-12-31T14:59:59.999999+00:00"),
        ("2026-03", "2026-02-28T15:00:00+00:00", "2026-03-31T14:59:59.999999+00:00"),
        ("2024-02", "2024-01-31T15:00:00+00:00", "2024-02-29T14:59:59.999999+00:00"),
        ("2026-03-15", "2026-03-14T15:00:00+00:00", "2026-03-15T14:59:59.999999+00:00"),
        ("2026-03-15T10:00", "2026-03-15T01:00:00+00:00", "2026-03-15T01:00:59.999999+00:00"),
        ("2026-03-15T10:00:00Z", "2026-03-15T10:00:00+00:00", "2026-03-15T10:00:00.999999+00:00"),
        ("2026-03-15T10:00:00.5-05:00", "2026-03-15T15:00:00.500000+00:00", "2026-03-15T15:00:00.599999+00:00"),
        ("2026-03-15T10:00:00.123+09:00", "2026-03-15T01:00:00.123000+00:00", "2026-03-15T01:00:00.123999+00:00"),
        ("2026-12", "2026-11-30T15:00:00+00:00", "2026-12-31T14:59:59.999999+00:00"),
    ],
)
def test_parse_date_precision_intervals(text: str, low: str, high: str) -> None:
    interval = parse_date(text)
    assert (interval.low.isoformat(), interval.high.isoformat()) == (low, high)


def test_parse_date_uses_tokyo_including_its_historic_summer_time() -> None:
    # Japan kept summer time (UTC+10) in 1948-1951: local midnight of 1949-07-01 is 14:00 UTC.
    assert parse_date("1949-07-01").low == datetime(1949, 6, 30, 14, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-13", "2026-02-30", "tomorrow", "2026-3-1", "2026-03-01T25:00:00Z"])
def test_parse_date_rejects_malformed_dates(text: str) -> None:
    with pytest.raises(InvalidQueryError):
        parse_date(text)


@pytest.mark.parametrize(
    ("number", "low", "high"),
    [("100", "99.5", "100.5"), ("100.0", "99.95", "100.05"), ("1e2", "50", "150"), ("0.8", "0.75", "0.85")],
)
def test_implicit_range(number: str, low: str, high: str) -> None:
    assert implicit_range(Decimal(number)) == (Decimal(low), Decimal(high))


def test_split_escaped_and_unescape() -> None:
    pieces = split_escaped(r"a\,b,c\|d|e\\,f", ",")
    assert pieces == [r"a\,b", r"c\|d|e\\", "f"]
    assert [unescape(p) for p in pieces] == ["a,b", "c|d|e\\", "f"]
    assert split_escaped(r"x\$y$z", "$") == [r"x\$y", "z"]


# --------------------------------------------------------------------------------------------------
# string


@pytest.mark.parametrize(
    ("resource_type", "query", "expected"),
    cases(
        "Patient",
        [
            ("name=やまだ", "p1"),
            ("name=ﾔﾏﾀﾞ", "p1"),
            ("name=ヤマダ", "p1"),
            ("name=山田", "p1"),
            ("name=やまた", ""),  # voiced and unvoiced kana differ
            ("name=たかはし", "p2 p3"),  # stored half-width (p2) and hiragana (p3)
            ("name=ﾀｶﾊｼ", "p2 p3"),
            ("name=高橋", "p3"),  # 髙橋 (p2) is another character
            ("name=髙橋", "p2"),
            ("name=山崎", ""),  # p4 is 山﨑
            ("name=山﨑", "p4"),
            ("name=山", "p1 p4"),
            ("name=garcia", "p5"),
            ("name=ＧＡＲＣ", "p5"),  # noqa: RUF001 - full-width on purpose
            ("name=jose", "p5"),
            ("name=dr", "p5"),  # HumanName.prefix
            ("name=jr", "p5"),  # HumanName.suffix
            ("name=ヤマダ タロウ", "p1"),  # HumanName.text
            ("name=ヤマダ\u3000タロウ", "p1"),
            ("name=タロウ", "p1"),  # given
            ("name=ろう", ""),  # a prefix, not a substring
            ("name:contains=ろう", "p1 p2"),
            ("name:contains=ARC", "p5"),
            ("name:exact=García", "p5"),
            ("name:exact=garcía", ""),
            ("name:exact=Garcia", ""),
            ("name:exact=ヤマダ", "p1"),
            ("name:exact=やまだ", ""),
            ("name:exact=ﾀｶﾊｼ", "p2"),
            ("given=じょーじ", "p6"),
            ("given=じょうじ", ""),  # ー is not folded to a vowel
            ("given=じよ", ""),  # small ょ is not よ
            ("given=じょ", "p6"),
            ("given=みさ", "p4"),
            ("family=やま", "p1 p4"),
            ("family=たろう", ""),  # given, not family
            ("family:missing=true", ""),
            ("address-city=千代田", "p1"),
            ("address-city=osaka", "p5"),
            ("address-city:missing=true", "p3 p4 p6"),
            ("address=丸の内", "p1"),  # Address.line
            ("address=大阪", "p2"),  # Address.city
            ("address-postalcode=100", "p1"),
            ("address:exact=梅田2-4-9\\, 3F", "p2"),
            ("address:exact=梅田2-4-9, 3F", ""),  # unescaped comma: two exact alternatives
            ("address:missing=false", "p1 p2 p5"),
            ("jp-kana-sort=やまだ", "p1"),
            ("jp-kana-sort=たかはし", "p3"),  # p2's kana name has no use=usual
            ("jp-kana-sort:missing=true", "p2 p4 p5 p6"),
        ],
    ),
)
def test_string(resource_type: str, query: str, expected: set[str]) -> None:
    check(resource_type, query, expected)


@pytest.mark.parametrize(
    ("resource_type", "query", "expected"),
    cases(
        "Coverage",
        [
            ("jp-insured-personnumber=123", "cv1"),
            ("jp-insured-personnumber=23", ""),
            ("jp-insured-personsubnumber:exact=01", "cv1"),
            ("jp-insured-personsymbol=記号ab", "cv1"),
            ("jp-insured-personnumber:missing=true", "cv2"),
        ],
    )
    + cases("Organization", [("name=よこはま", "org2"), ("name=東京", "org1")]),
)
def test_string_jp_core_and_organization(resource_type: str, query: str, expected: set[str]) -> None:
    check(resource_type, query, expected)


# --------------------------------------------------------------------------------------------------
# token


@pytest.mark.parametrize(
    ("resource_type", "query", "expected"),
    cases(
        "Patient",
        [
            ("gender=male", "p1 p6"),
            ("gender=Male", ""),  # codes are case-sensitive
            ("gender=female", "p2 p3"),
            ("gender=|male", "p1 p6"),  # a code has no system
            ("gender=http://hl7.org/fhir/administrative-gender|male", ""),
            ("gender:not=female", "p1 p4 p5 p6"),  # includes p4, which has no gender
            ("gender:missing=true", "p4"),
            ("gender=male,other", "p1 p5 p6"),
            ("active=true", "p1"),
            ("active=false", "p2"),
            ("active:not=true", "p2 p3 p4 p5 p6"),
            ("identifier=00012345", "p1"),
            (f"identifier={OID_A}|00012345", "p1"),
            (f"identifier={OID_B}|00012345", ""),
            (f"identifier={OID_B}|", "p2"),
            ("identifier=|X-1", "p5"),
            ("identifier=|00012345", ""),
            (f"identifier:of-type={V2_0203}|MR|00012345", "p1"),
            (f"identifier:of-type={V2_0203}|MR|00067890", ""),
            ("identifier:text=診察", "p1"),
            ("identifier:missing=true", "p3 p4 p6"),
            ("telecom=03-1234-5678", "p1"),
            ("telecom=|03-1234-5678", "p1"),
            ("telecom=phone|03-1234-5678", ""),  # ContactPoint.system is no token system
            ("telecom=x@example.jp", "p2"),
            ("phone=x@example.jp", ""),  # phone only looks at system=phone contact points
            ("phone=03-1234-5678", "p1"),
            ("_id=p1,p3", "p1 p3"),
            ("_id:not=p1", "p2 p3 p4 p5 p6"),
            ("_tag=vip", "p1"),
            ("_tag=urn:oid:1.2.392.100495.20.1.99|vip", "p1"),
            ("_tag:missing=true", "p2 p3 p4 p5 p6"),
            ("_security=http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R", "p3"),
        ],
    )
    + cases(
        "Observation",
        [
            ("code=4548-4", "o1"),
            (f"code={JLAC10}|3D046000001906202", "o1"),
            (f"code={LOINC}|3D046000001906202", ""),
            (f"code={LOINC}|", "o1 o2 o3 o4 o5 o6"),
            ("code=2345-7,29463-7", "o2 o3 o4 o6"),
            ("code:not=2345-7", "o1 o2 o5 o6"),
            ("code:text=ヘモ", "o1"),  # CodeableConcept.text
            ("code:text=hba1c(", "o1"),  # Coding.display, NFKC folds the full-width parenthesis
            ("code:text=body", "o2"),
            ("code:text=ght", ""),
            ("status=final", "o1 o3 o5 o6"),
            ("status:not=final", "o2 o4"),
        ],
    )
    + cases(
        "Condition",
        [
            ("code=E11", "c1"),
            ("code:text=不明", "c3"),
            ("code:missing=false", "c1 c2 c3"),  # a CodeableConcept with only text is a value
            ("clinical-status=active", "c1"),
            ("clinical-status:not=active", "c2 c3"),
            ("clinical-status:missing=true", "c3"),
        ],
    )
    + cases("Encounter", [("class=AMB", "e1 e3"), ("class:not=AMB", "e2")]),
)
def test_token(resource_type: str, query: str, expected: set[str]) -> None:
    check(resource_type, query, expected)


# --------------------------------------------------------------------------------------------------
# date


@pytest.mark.parametrize(
    ("resource_type", "query", "expected"),
    cases(
        "Patient",
        [
            # p1 1941-04-02, p2 1975-12, p3 2000, p5 1949-07-01; p4 and p6 have none
            ("birthdate=1941", "p1"),
            ("birthdate=1941-04", "p1"),
            ("birthdate=eq1941-04-02", "p1"),
            ("birthdate=1941-04-02T10:00:00+09:00", ""),  # a second does not contain a whole day
            ("birthdate=1975", "p2"),
            ("birthdate=1975-12-15", ""),
            ("birthdate=ne1975", "p1 p3 p5"),
            ("birthdate=gt1975-12-15", "p2 p3"),
            ("birthdate=lt1975-12-15", "p1 p2 p5"),
            ("birthdate=ge1975-12-15", "p2 p3"),
            ("birthdate=ge1975-12", "p2 p3"),
            ("birthdate=le1975", "p1 p2 p5"),
            ("birthdate=sa1975-12-15", "p3"),
            ("birthdate=eb1975-12-15", "p1 p5"),
            ("birthdate=sa1975", "p3"),
            ("birthdate=eb1975", "p1 p5"),
            ("birthdate=ap1941-04-10", "p1 p5"),  # margin: a tenth of ~84.7 years
            ("birthdate=1941,2000", "p1 p3"),
            ("birthdate=ge1941&birthdate=lt1950", "p1 p5"),
            ("birthdate:missing=true", "p4 p6"),
            # lastUpdated p1 09:00:00.000+09:00 (millisecond precision) = 00:00:00.000Z
            ("_lastUpdated=2024-04-01", "p1 p4 p6"),
            ("_lastUpdated=2024-04-01T00:00:00Z", "p1 p4 p6"),
            ("_lastUpdated=gt2024-04-01T00:00:00Z", "p2 p3 p5"),
            ("_lastUpdated=2025-01-15", "p2 p3"),
        ],
    )
    + cases(
        "Observation",
        [
            # o1 2024-03-01T01:00Z; o2 [2024-02-29T15:00Z, open); o3 2024-03-02T00:30 Tokyo;
            # o4 2024-03-01T15:00Z = 2024-03-02T00:00 Tokyo; o5 none; o6 2025-01
            ("date=2024-03-01", "o1"),
            ("date=2024-03-02", "o3 o4"),
            ("date=2024-03", "o1 o3 o4"),
            ("date=2024-03-01T15:00:00Z", "o4"),
            ("date=2024-03-02T00:00:00%2B09:00", "o4"),
            ("date=2024-03-02T00:00:00+09:00", "o4"),  # an unencoded + decodes to a space
            ("date=2024-03-02T00:00:00", "o4"),  # no zone: Tokyo
            ("date=gt2024-12-31", "o2 o6"),  # o2 is ongoing
            ("date=lt2024-03-02", "o1 o2"),
            ("date=ge2024-03-02", "o2 o3 o4 o6"),
            ("date=le2024-03-01", "o1"),  # o2 starts exactly there and is not contained
            ("date=sa2024-03-01", "o3 o4 o6"),
            ("date=eb2024-03-02", "o1"),
            ("date=ne2024-03-02", "o1 o2 o6"),
            ("date:missing=true", "o5"),
        ],
    )
    + cases(
        "Encounter",
        [
            ("date=2024-03-01", "e1"),
            ("date=2024-03-01T09:30:00+09:00", ""),
            ("date=ge2024-03-01T09:30:00+09:00", "e1"),
            ("date:missing=true", "e2 e3"),
        ],
    )
    + cases(
        "MedicationRequest",
        [
            ("date=2024-03-05", "mr1"),  # Timing.event
            ("date=2024-03-07", ""),
            ("date:missing=true", "mr2"),
            ("authoredon=2024-03-01", "mr1"),
        ],
    )
    + cases(
        "Condition",
        [
            ("onset-date=2020", "c1"),
            ("onset-date=2019", "c2"),  # the Period lies in 2019
            ("onset-date=2019-03", ""),
            ("onset-date=ap2019-03-01", "c2"),
            ("recorded-date=2024-03-01", "c1"),
        ],
    ),
)
def test_date(resource_type: str, query: str, expected: set[str]) -> None:
    check(resource_type, query, expected)


def births(*dates: str) -> list[dict[str, Any]]:
    return [{"resourceType": "Patient", "id": date, "birthDate": date} for date in dates]


def test_date_ap_near_now_widens_by_at_least_a_day() -> None:
    # now 2026-01-01T00:00 Tokyo: the distance is 2 days, the margin 1 day -> 2025-12-29 .. 2025-12-31.
    resources = births("2025-12-28", "2025-12-29", "2025-12-31", "2026-01-01")
    assert ids("Patient", "birthdate=ap2025-12-30", resources) == {"2025-12-29", "2025-12-31"}


def test_date_ap_far_from_now_widens_by_a_tenth_of_the_distance() -> None:
    # 3653 days before now: margin 365.3 days -> 2014-12-31T16:48 .. 2017-01-01T07:12 Tokyo.
    resources = births("2014-06", "2015-02", "2016-11", "2017-06")
    assert ids("Patient", "birthdate=ap2016-01-01", resources) == {"2015-02", "2016-11"}


def test_date_default_now_is_the_current_time() -> None:
    today = datetime.now(TOKYO).date().isoformat()
    assert evaluate(births(today, "1900-01-01"), "Patient", f"birthdate=ap{today}") == {today}


# --------------------------------------------------------------------------------------------------
# number and quantity


@pytest.mark.parametrize(
    ("resource_type", "query", "expected"),
    cases(
        "ChargeItem",
        [
            # ci1 100, ci2 100.4, ci3 99.96, ci4 150, ci5 0.8, ci6 none
            ("factor-override=100", "ci1 ci2 ci3"),
            ("factor-override=100.0", "ci1 ci3"),
            ("factor-override=1e2", "ci1 ci2 ci3"),  # [50, 150): 150 is out
            ("factor-override=1.5e2", "ci4"),
            ("factor-override=eq0.8", "ci5"),
            ("factor-override=ne100", "ci4 ci5"),
            ("factor-override=gt100", "ci2 ci4"),
            ("factor-override=ge100", "ci1 ci2 ci4"),
            ("factor-override=lt100", "ci3 ci5"),
            ("factor-override=le100", "ci1 ci3 ci5"),
            ("factor-override=sa100", "ci2 ci4"),
            ("factor-override=eb100", "ci3 ci5"),
            ("factor-override=ap100", "ci1 ci2 ci3"),
            ("factor-override=ap150", "ci4"),
            ("factor-override=gt99&factor-override=lt100.2", "ci1 ci3"),
            ("factor-override:missing=true", "ci6"),
        ],
    )
    + cases(
        "Observation",
        [
            # o1 6.5 %, o2 70 kg, o3 100.4 mg/dL, o6 100 unit "kg" (no system, no code)
            ("value-quantity=6.5", "o1"),
            ("value-quantity=6.5|http://unitsofmeasure.org|%25", "o1"),
            ("value-quantity=100", "o3 o6"),
            ("value-quantity=100||kg", "o6"),  # code or unit
            ("value-quantity=100||mg/dL", "o3"),
            ("value-quantity=100|http://unitsofmeasure.org|kg", ""),
            ("value-quantity=70|http://unitsofmeasure.org|kg", "o2"),
            ("value-quantity=gt50||kg", "o2 o6"),
            ("value-quantity=lt10", "o1"),
            ("value-quantity=ap100", "o3 o6"),
            ("value-quantity=le70", "o1 o2"),
            ("value-quantity:missing=true", "o4 o5"),
        ],
    ),
)
def test_number_and_quantity(resource_type: str, query: str, expected: set[str]) -> None:
    check(resource_type, query, expected)


# --------------------------------------------------------------------------------------------------
# reference, chains, _has


@pytest.mark.parametrize(
    ("resource_type", "query", "expected"),
    cases(
        "Observation",
        [
            ("subject=Patient/p1", "o1 o3"),  # not o6: an absolute URL on another server
            ("subject=p1", "o1 o3"),
            ("subject:Patient=p1", "o1 o3"),
            ("subject:Group=g1", "o5"),
            ("subject=g1", "o5"),
            ("subject=Patient/p1/_history/2", "o1 o3"),
            ("subject=http://other.example.org/fhir/Patient/p1", "o6"),
            ("patient=p1", "o1 o3"),
            ("patient=g1", ""),  # patient keeps only references to Patients
            ("patient=http://other.example.org/fhir/Patient/p1", "o6"),
            ("patient:missing=true", "o5"),
            ("subject:Patient.name=やまだ", "o1 o3"),
            ("subject.name=やまだ", "o1 o3"),
            ("patient.birthdate=1941", "o1 o3"),
            ("subject.gender=female", "o2"),
            ("subject:Patient.organization.name=東京", "o1 o3"),
            ("subject:Patient.organization.name=よこはま", "o2"),
            ("patient.name:exact=ﾀｶﾊｼ", "o2"),
            ("subject:Patient._has:Condition:subject:code=E11", "o1 o3"),
        ],
    )
    + cases(
        "Condition",
        [
            ("subject=Patient/p1", "c1"),  # the stored reference has a _history suffix
            ("subject.name=高橋", "c2"),
            ("patient.identifier=00067890", "c3"),
        ],
    )
    + cases(
        "Encounter",
        [
            (f"subject:identifier={OID_A}|00012345", "e2"),
            ("subject:identifier=00012345", "e2"),
            ("subject:missing=true", "e3"),  # a display alone is nothing to search on
        ],
    )
    + cases(
        "MedicationRequest",
        [
            ("medication=Medication/med1", "mr1"),
            ("medication:missing=true", "mr2"),
            ("medication.code=2149039F1020", "mr1"),
            ("medication.code=3969007F1021", ""),  # mr2 names it inline, not by reference
            ("code=3969007F1021", "mr2"),
        ],
    )
    + cases(
        "Patient",
        [
            ("organization=org1", "p1"),
            ("_has:Observation:patient:code=4548-4", "p1"),
            ("_has:Observation:subject:code=2345-7", "p1"),  # o4's patient was never stored
            ("_has:Observation:patient:code=29463-7", "p2"),  # o6 is absolute and does not resolve
            ("_has:Condition:subject:code=E11", "p1"),
            ("_has:Observation:patient:code:text=ヘモ", "p1"),
            ("_has:Observation:patient:code=4548-4&_has:Condition:subject:code=E11", "p1"),
            ("_has:Observation:patient:code=4548-4,29463-7", "p1 p2"),
            ("_has:Observation:patient:status:not=final", "p2"),  # o2; o4 points at no stored patient
        ],
    )
    + cases(
        "Organization",
        [
            ("_has:Patient:organization:gender=male", "org1"),
            ("_has:Patient:organization:_has:Observation:patient:code=29463-7", "org2"),
        ],
    ),
)
def test_reference(resource_type: str, query: str, expected: set[str]) -> None:
    check(resource_type, query, expected)


# --------------------------------------------------------------------------------------------------
# uri and composite


@pytest.mark.parametrize(
    ("resource_type", "query", "expected"),
    cases(
        "Patient",
        [
            (f"_profile={JP_PATIENT}", "p1"),
            ("_profile:below=http://jpfhir.jp/fhir/core/StructureDefinition", "p1 p3"),
            (f"_profile:below={JP_PATIENT}", "p1"),  # JP_Patient_Extra is no path below JP_Patient
            ("_source=urn:tsunagi:hospital-a", "p1"),
            ("_source:below=http://hospital.example.jp/fhir", "p2"),
            ("_source:above=http://hospital.example.jp/fhir/ehr/v2/extra", "p2"),
            ("_source:above=http://hospital.example.jp/fhir", ""),
            ("_profile:missing=true", "p2 p4 p5 p6"),
        ],
    )
    + cases(
        "Observation",
        [
            (f"code-value-quantity={LOINC}|4548-4$gt6", "o1"),
            ("code-value-quantity=4548-4$lt6", ""),
            ("code-value-quantity=29463-7$70||kg", "o2"),
            ("code-value-quantity=29463-7$ge70", "o2 o6"),
            ("code-value-quantity=2345-7$100,4548-4$6.5", "o1 o3"),
            ("code-value-string=2345-7$陰", "o4"),
            ("component-code-value-quantity=8480-6$gt100", "o5"),
            ("component-code-value-quantity=8462-4$120", ""),  # each component is matched on its own
            ("combo-code-value-quantity=8480-6$120", "o5"),
            ("combo-code-value-quantity=4548-4$6.5", "o1"),
            ("code-value-quantity:missing=true", "o4 o5"),
        ],
    ),
)
def test_uri_and_composite(resource_type: str, query: str, expected: set[str]) -> None:
    check(resource_type, query, expected)


def test_composite_escaped_dollar_and_date_component() -> None:
    resources = [
        {"resourceType": "Observation", "id": "a", "code": {"coding": [{"code": "x-1"}]}, "valueString": "US$ 5"},
        {"resourceType": "Observation", "id": "b", "code": {"coding": [{"code": "x-2"}]}, "valueDateTime": "2024-05"},
    ]
    assert ids("Observation", "code-value-string=x-1$US\\$", resources) == {"a"}
    assert ids("Observation", "code-value-date=x-2$2024", resources) == {"b"}
    assert ids("Observation", "code-value-date=x-2$2024-05-01", resources) == set()


def test_escaped_separators_in_tokens() -> None:
    resources = [
        {"resourceType": "Patient", "id": "a", "identifier": [{"system": "urn:x", "value": "1|2,3\\4"}]},
        {"resourceType": "Patient", "id": "b", "identifier": [{"system": "urn:x", "value": "1"}]},
    ]
    assert ids("Patient", "identifier=urn:x|1\\|2\\,3\\\\4", resources) == {"a"}
    assert ids("Patient", "identifier=urn:x|1", resources) == {"b"}


# --------------------------------------------------------------------------------------------------
# the query string


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?name=%E3%82%84%E3%81%BE%E3%81%A0", {"p1"}),
        ("name=ヤマダ+タロウ", {"p1"}),  # + is a space
        ("name=ヤマダ%20タロウ", {"p1"}),
        ("name=", {"p1", "p2", "p3", "p4", "p5", "p6"}),  # an empty parameter is ignored
        ("", {"p1", "p2", "p3", "p4", "p5", "p6"}),
        ("name=やまだ&name=たろう", {"p1"}),
        ("gender=female&birthdate=2000", {"p3"}),
        ("gender=female&gender=male", set()),
        ("gender%3Anot=female", {"p1", "p4", "p5", "p6"}),
    ],
)
def test_query_string(query: str, expected: set[str]) -> None:
    assert ids("Patient", query) == expected


def test_evaluate_leaves_the_resources_alone() -> None:
    before = copy.deepcopy(ALL)
    ids("Observation", "subject:Patient.name=やまだ&code-value-quantity=4548-4$6.5")
    assert before == ALL


def test_only_the_searched_type_is_returned() -> None:
    assert ids("Encounter", "_id=p1") == set()
    assert ids("Basic", "") == set()


@pytest.mark.parametrize(
    ("resource_type", "query"),
    [
        ("Patient", "_sort=name"),
        ("Patient", "_count=10"),
        ("Patient", "_include=Patient:organization"),
        ("Patient", "_revinclude=Observation:subject"),
        ("Patient", "_summary=count"),
        ("Patient", "_elements=id"),
        ("Patient", "_total=accurate"),
        ("Patient", "_text=x"),
        ("Patient", "_content=x"),
        ("Patient", "_list=x"),
        ("Patient", "_type=Patient"),
        ("Patient", "_filter=x"),
        ("Patient", "_query=x"),
        ("Patient", "_format=json"),
        ("Patient", "_count="),
        ("Patient", "nonexistent=x"),
        ("Patient", "nonexistent="),
        ("Patient", "name:text=x"),
        ("Patient", "name:below=x"),
        ("Patient", "gender:in=http://example.org/vs"),
        ("Patient", "gender:not-in=http://example.org/vs"),
        ("Patient", "gender:exact=male"),
        ("Observation", "code:above=4548-4"),
        ("Observation", "code:below=4548-4"),
        ("Patient", "birthdate:exact=2000"),
        ("Observation", "subject:below=Patient/p1"),
        ("Observation", "subject.nonexistent=x"),
        ("Location", "near=35.6|139.7|10|km"),
    ],
)
def test_unsupported(resource_type: str, query: str) -> None:
    with pytest.raises(Unsupported):
        ids(resource_type, query)


@pytest.mark.parametrize(
    ("resource_type", "query"),
    [
        ("Patient", "birthdate=1941-13"),
        ("Patient", "birthdate=tomorrow"),
        ("Patient", "gender:missing=maybe"),
        ("Patient", "gender=male,,female"),
        ("Patient", "identifier=|"),
        ("Patient", "identifier:of-type=a|b"),
        ("Observation", "value-quantity=abc"),
        ("Observation", "value-quantity=5|a"),
        ("Observation", "code-value-quantity=4548-4"),
        ("Observation", "subject:Medication=x"),
        ("Observation", "subject=Medication:x/y/z"),
        ("Observation", "code.name=x"),
        ("Patient", "_has:Observation:patient=x"),
        ("Patient", "_has:Observation:code:code=x"),
        ("Patient", "_has:Nothing:patient:code=x"),
    ],
)
def test_invalid(resource_type: str, query: str) -> None:
    with pytest.raises(InvalidQueryError):
        ids(resource_type, query)


# --------------------------------------------------------------------------------------------------
# strategies


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies.region())
def test_region_is_a_small_consistent_population(resources: list[dict[str, Any]]) -> None:
    keys = [(r["resourceType"], r["id"]) for r in resources]
    assert len(keys) == len(set(keys))
    assert len(resources) <= 45
    assert all(parse_date(r["meta"]["lastUpdated"]) for r in resources)
    assert any(r["resourceType"] == "Patient" for r in resources)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_generated_queries_are_supported(data: st.DataObject) -> None:
    resources = data.draw(strategies.region())
    resource_type = data.draw(st.sampled_from(strategies.RESOURCE_TYPES))
    query = data.draw(strategies.query(resource_type))
    now = data.draw(st.sampled_from([NOW, NOW + timedelta(days=400)]))
    found = evaluate(resources, resource_type, query, now=now)
    assert found <= {r["id"] for r in resources if r["resourceType"] == resource_type}


def test_kana_forms() -> None:
    assert strategies.to_hiragana("ヤマダ ジョージ") == "やまだ じょーじ"
    assert strategies.to_halfwidth("ヤマダ ジョージ") == "ﾔﾏﾀﾞ ｼﾞｮｰｼﾞ"
    assert normalise(strategies.to_halfwidth("ガルシア")) == normalise("がるしあ")
