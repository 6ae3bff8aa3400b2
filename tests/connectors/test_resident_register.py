"""The resident register connector: golden files, valid FHIR, households, precise problems, a generated region."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ParsedRecord, SourceInfo
from connectors.resident_register.connector import CONNECTOR
from connectors.resident_register.parser import COLUMNS, RESIDENTS
from core import fhir_json
from federation.fhir.r4b import validation_issues
from synthetic.region import RegionSpec, region_generate
from tests.connectors.golden import as_json, assert_references_located, problems

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "resident-register"
RESIDENT_SYSTEM = "https://tsunagi.example.jp/fhir/IdSystem/resident/229990"
SOURCE = SourceInfo(
    "municipality",
    "resident-register",
    "綱木市",
    "https://tsunagi.example.jp/fhir/IdSystem/local-government-code",
    "229990",
    RESIDENT_SYSTEM,
)
INPUTS = sorted(FIXTURES.glob("*.csv"))
HEADER = ",".join(COLUMNS[RESIDENTS])
ROW = (
    "0000000001,H1,世帯主,綱木 花子,ツナギ ハナコ,19410402,2,428-0011,静岡県綱木市本町一丁目1番1号,本町一丁目,"
    "19700401,住民,,0548-00-0000,0000000018,国保,229989,つ26,0000075,00"
)


def _records(*lines: str, origin: str = "residents.csv") -> list[ParsedRecord]:
    data = "".join(f"{line}\r\n" for line in lines).encode("cp932")
    return list(CONNECTOR.records(SOURCE, io.BytesIO(data), origin))


def _with(row: str, **changes: str) -> str:
    fields = dict(zip(COLUMNS[RESIDENTS], next(csv.reader([row])), strict=True)) | changes
    return ",".join(fields.values())


def _resources(records: list[ParsedRecord], resource_type: str) -> list[dict[str, Any]]:
    return [
        entry["resource"]
        for record in records
        for entry in record.entries
        if entry["resource"]["resourceType"] == resource_type
    ]


@pytest.mark.parametrize("path", INPUTS, ids=lambda path: path.name)
def test_golden_file(path):
    with path.open("rb") as data:
        records = list(CONNECTOR.records(SOURCE, data, path.name))
    expected = fhir_json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))
    assert as_json(records) == expected
    assert_references_located(records)


@pytest.mark.parametrize("path", INPUTS, ids=lambda path: path.name)
def test_every_entry_is_valid_fhir_and_deterministic(path):
    first = list(CONNECTOR.records(SOURCE, io.BytesIO(path.read_bytes()), path.name))
    again = list(CONNECTOR.records(SOURCE, io.BytesIO(path.read_bytes()), path.name))
    assert as_json(first) == as_json(again)
    for record in first:
        for entry in record.entries:
            assert validation_issues(entry["resource"]) == [], (record.location, entry["resource"])
            assert entry["fullUrl"].startswith("urn:uuid:")


def test_a_resident_row_is_a_jp_core_patient_updated_on_the_resident_number():
    (record, _) = _records(HEADER, ROW)
    patient, insurer, coverage = (entry["resource"] for entry in record.entries)
    assert record.entries[0]["request"] == {
        "method": "PUT",
        "url": f"Patient?identifier={RESIDENT_SYSTEM}|0000000001",
    }
    assert patient["identifier"] == [
        {"system": RESIDENT_SYSTEM, "value": "0000000001", "period": {"start": "1970-04-01"}},
        # The municipality's 地方公共団体コード 229990 makes it 介護保険者 229997 (22999 + check digit 7).
        {"system": "https://tsunagi.example.jp/fhir/IdSystem/ltc-insured-number/229997", "value": "0000000018"},
        {
            "system": "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID",
            "value": "00229989:つ\uff12\uff16:0000075:00",
        },
    ]
    assert [(name["text"], name["extension"][0]["valueCode"]) for name in patient["name"]] == [
        ("綱木 花子", "IDE"),
        ("ツナギ ハナコ", "SYL"),
    ]
    assert patient["address"][0] | {"text": ""} == {
        "use": "home",
        "type": "both",
        "text": "",
        "line": ["本町一丁目", "1番1号"],
        "city": "綱木市",
        "state": "静岡県",
        "postalCode": "428-0011",
        "country": "JP",
    }
    assert insurer["identifier"] == [
        {"system": "http://jpfhir.jp/fhir/core/mhlw/IdSystem/InsurerNumber", "value": "229989"}
    ]
    assert record.entries[1]["request"]["method"] == "POST"
    assert coverage["beneficiary"] == {"reference": record.entries[0]["fullUrl"]}
    assert coverage["subscriberId"] == "つ26:0000075"


def test_a_death_gives_the_deceased_date():
    (record, _) = _records(HEADER, _with(ROW, 状態="死亡", 死亡日="20250518"))
    assert record.entries[0]["resource"]["deceasedDateTime"] == "2025-05-18"


def test_households_are_groups_of_their_members_whatever_the_row_order():
    rows = [
        _with(ROW, 宛名番号="3", 世帯番号="H2"),
        _with(ROW, 宛名番号="1", 世帯番号="H1"),
        _with(ROW, 宛名番号="2", 世帯番号="H2", 状態="死亡", 死亡日="20260101"),
        _with(ROW, 宛名番号="4", 世帯番号="H2"),
    ]
    records = _records(HEADER, *rows)
    assert [r.location for r in records[-2:]] == ["residents.csv:世帯番号=H1", "residents.csv:世帯番号=H2"]
    alone, family = _resources(records, "Group")
    assert (alone["quantity"], len(alone["member"])) == (1, 1)
    assert family["quantity"] == 2
    assert family["member"] == [
        {
            "entity": {"reference": f"Patient?identifier={RESIDENT_SYSTEM}|2"},
            "period": {"end": "2026-01-01"},
            "inactive": True,
        },
        {"entity": {"reference": f"Patient?identifier={RESIDENT_SYSTEM}|3"}},
        {"entity": {"reference": f"Patient?identifier={RESIDENT_SYSTEM}|4"}},
    ]
    assert records[-1].entries[0]["request"]["url"].endswith("source-record/municipality|household/H2")


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"生年月日": "20240230"}, "生年月日", "生年月日 '20240230' is not a calendar date"),
        ({"生年月日": ""}, "生年月日", "生年月日 is empty; every register row has one"),
        ({"性別": "M"}, "性別", "性別 'M' is not a sex code of the register (1 男, 2 女)"),
        ({"状態": "住民", "死亡日": "20250101"}, "死亡日", "死亡日 '20250101' is set on a row whose 状態 is 住民"),
        (
            {"医療保険種別": "共済"},
            "医療保険種別",
            "医療保険種別 '共済' is not one of 国保, 後期高齢者医療, 被用者保険",
        ),
        ({"医療保険者番号": "2299"}, "医療保険者番号", "医療保険者番号 '2299' is not a 保険者番号 of 6 or 8 digits"),
        ({"被保険者枝番": "1"}, "被保険者枝番", "被保険者枝番 '1' is not 2 digits"),
        (
            {"医療保険種別": ""},
            "医療保険種別",
            "医療保険種別 is empty while the row has other health insurance columns",
        ),
        ({"氏名": ""}, "氏名", "氏名 is empty; every register row has one"),
    ],
)
def test_a_bad_field_is_a_precise_problem_and_the_next_row_is_read(changes, field, reason):
    records = _records(HEADER, _with(ROW, **changes), _with(ROW, 宛名番号="2", 世帯番号="H2"))
    assert problems(records) == [
        ("residents.csv:2", field, reason),
        (
            "residents.csv:世帯番号=H1",
            "世帯番号",
            "household H1 is left out: the row of one of its members (line 2) could not be taken, and a household "
            "without all its members would misstate who lives alone",
        ),
    ]
    assert len(_resources(records, "Patient")) == 1


def test_without_a_local_government_code_the_ltc_insurer_is_unknown():
    source = SourceInfo("town", "resident-register", "町", "", "", RESIDENT_SYSTEM)
    data = f"{HEADER}\r\n{ROW}\r\n".encode("cp932")
    (problem, _) = CONNECTOR.records(source, io.BytesIO(data), "residents.csv")
    assert problem.problem is not None
    assert problem.problem.field == "介護保険被保険者番号"


def test_a_quoted_field_may_hold_a_line_break_and_lines_are_still_counted():
    row = _with(ROW, 住所='"静岡県綱木市本町一丁目1番1号\r\nつなぎ荘"')
    records = _records(HEADER, row, _with(ROW, 宛名番号="2", 生年月日="x"))
    assert problems(records)[0][:2] == ("residents.csv:4", "生年月日")


def test_a_truncated_file_ends_in_a_problem():
    data = f"{HEADER}\r\n{ROW}\r\n".encode("cp932") + '0000000002,H1,世帯員,"綱木'.encode("cp932")
    records = list(CONNECTOR.records(SOURCE, io.BytesIO(data), "residents.csv"))
    assert problems(records)[0] == (
        "residents.csv:3",
        "",
        "line 3 opens a quoted field that the file never closes: it is probably truncated",
    )


def test_a_generated_register_maps_every_resident_and_household(tmp_path):
    region_generate(RegionSpec(seed=5, people=150, as_of=date(2026, 3, 31)), tmp_path, workers=1)
    folder = tmp_path / "sources" / "municipality"
    sources = json.loads((tmp_path / "sources.json").read_text(encoding="utf-8"))["sources"]
    (municipality,) = [source for source in sources if source["kind"] == "resident-register"]
    assert (SOURCE.organization_value, SOURCE.patient_identifier_system) == (
        municipality["organization"]["identifier"]["value"],
        municipality["patient_identifier_system"],
    )
    records: list[ParsedRecord] = []
    for path in CONNECTOR.paths(folder):
        with path.open("rb") as data:
            records.extend(CONNECTOR.records(SOURCE, data, path.name))
    assert problems(records) == []
    people = list(csv.DictReader(io.StringIO((tmp_path / "truth" / "people.csv").read_text(encoding="utf-8"))))
    assert len(_resources(records, "Patient")) == len(people)
    groups = _resources(records, "Group")
    assert len(groups) == len({person["household_id"] for person in people})
    living = Counter(person["household_id"] for person in people if not person["death_date"])
    assert sorted(group["quantity"] for group in groups) == sorted(
        living[household] for household in {person["household_id"] for person in people}
    )
    for patient in _resources(records, "Patient"):
        assert validation_issues(patient) == []
