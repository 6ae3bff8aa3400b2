"""The JAHIS connector: golden files, valid FHIR, determinism, precise problems, streaming, a generated region."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import ParsedRecord, SourceInfo
from connectors.jahis.connector import CONNECTOR
from connectors.jahis.parser import FileName, file_name
from core import fhir_json
from federation.fhir.r4b import validation_issues
from synthetic.region import RegionSpec, region_generate
from tests.connectors.golden import as_json, assert_references_located, problems

# mit__*: YasushiMatsumoto/jahis-rx-parser samples as they are (UTF-8, LF; see NOTICE.md); mit-cp932__*: the
# same re-encoded CP932 with CRLF; pharmacy-01__* / pharmacy-02__*: files of `generate_region --people 3000
# --seed 1` byte for byte (pharmacy-02 writes 和暦 and half-width kana); hand__* and bad__*: made by hand.
# A fixture `<type>__<name>` is read as if sent as `<type>/<name>`: the name is what the connector sees.
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "jahis"
FIXTURE_FILES = sorted(
    path for path in FIXTURES.iterdir() if "__" in path.name and not path.name.endswith(".expected.json")
)
INSTITUTION = "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no"


def _source(code: str, name: str, number: str) -> SourceInfo:
    return SourceInfo(code, "jahis", name, INSTITUTION, number, f"urn:oid:1.2.392.100495.20.3.51.1{number}")


PHARMACY_01 = _source("pharmacy-01", "つなぎ薬局 本町一丁目店", "2244110060")
PHARMACY_02 = _source("pharmacy-02", "さくら調剤薬局 本町二丁目店", "2244110078")


def _origin(path: Path) -> str:
    kind, _, name = path.name.partition("__")
    return f"{kind}/{name}"


def _fixture_source(path: Path) -> SourceInfo:
    return PHARMACY_02 if path.name.startswith("pharmacy-02__") else PHARMACY_01


def _read(path: Path) -> list[ParsedRecord]:
    with path.open("rb") as data:
        return list(CONNECTOR.records(_fixture_source(path), data, _origin(path)))


def _records(text: str, *, encoding: str = "utf-8", origin: str = "inline/test.txt") -> list[ParsedRecord]:
    return list(CONNECTOR.records(PHARMACY_01, io.BytesIO(text.encode(encoding)), origin))


def _resources(records: list[ParsedRecord], resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for r in records for e in r.entries if e["resource"]["resourceType"] == resource_type]


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda path: path.name)
def test_golden_file(path):
    expected = fhir_json.loads(path.with_name(f"{path.stem}.expected.json").read_text(encoding="utf-8"))
    records = _read(path)
    assert as_json(records) == expected
    assert_references_located(records)


def test_every_fixture_has_its_expected_file():
    expected = {path.name.removesuffix(".expected.json") for path in FIXTURES.glob("*.expected.json")}
    assert expected == {path.stem for path in FIXTURE_FILES}


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda path: path.name)
def test_every_entry_is_valid_fhir_and_a_conditional_write(path):
    for record in _read(path):
        urls = [entry["fullUrl"] for entry in record.entries]
        assert len(set(urls)) == len(urls)
        for entry in record.entries:
            resource, request = entry["resource"], entry["request"]
            assert entry["fullUrl"].startswith("urn:uuid:")
            assert validation_issues(resource) == [], (record.location, resource)
            if request["method"] == "POST":
                assert request["ifNoneExist"].startswith("identifier=")
            else:
                assert request["method"] == "PUT"
                assert request["url"].startswith(f"{resource['resourceType']}?identifier=")
            if resource["resourceType"] not in ("Patient", "Organization"):
                assert resource["identifier"][0]["system"] == _fixture_source(path).record_system
            for reference in _references(resource):
                assert reference in urls or reference.startswith("#"), (record.location, reference)


def _references(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return found + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _references(value)]
    return []


def test_records_are_the_same_on_every_run():
    for path in FIXTURE_FILES:
        assert as_json(_read(path)) == as_json(_read(path)), path.name


@pytest.mark.parametrize(
    "path", sorted(FIXTURES.glob("mit-cp932__*.txt")), ids=lambda path: path.name.partition("__")[2]
)
def test_a_cp932_copy_maps_like_its_utf8_original(path):
    copy, original = _read(path), _read(path.with_name(path.name.replace("mit-cp932__", "mit__")))
    assert [r.entries for r in copy] == [r.entries for r in original]
    assert [r.location.replace("mit-cp932/", "mit/") for r in copy] == [r.location for r in original]
    assert [p[1:] for p in problems(copy)] == [p[1:] for p in problems(original)]


BAD_INPUT = [
    ("mit__empty-input.txt", "mit/empty-input.txt", "file", "the file is empty"),
    (
        "mit__invalid-header.txt",
        "mit/invalid-header.txt:1",
        "header",
        "line 1 'NOT_JAHIS' is not a JAHIS e-medication notebook header (JAHISTCnn,出力区分)",
    ),
    (
        "mit__invalid-missing-101.txt",
        "mit/invalid-missing-101.txt:1",
        "header",
        "'JAHIS10' is the header of a JAHIS outpatient prescription (院外処方箋2次元シンボル), "
        "not of an e-medication notebook (JAHISTCnn)",
    ),
    (
        "mit__tc-invalid-missing-drug-code.txt",
        "mit/tc-invalid-missing-drug-code.txt:4",
        "201-6 薬品コード",
        "201-6 薬品コード is empty although 薬品コード種別 is 2 (レセプト電算コード)",
    ),
    (
        "mit__tc-invalid-missing-otc-sequence-parent.txt",
        "mit/tc-invalid-missing-otc-sequence-parent.txt:3",
        "31-1 OTC通番",
        "31-1 OTC通番 '1' matches no OTC record (3) before it",
    ),
    (
        "bad__truncated.csv",
        "bad/truncated.csv:13",
        "line",
        "line 13 ends in the middle of a CP932 character, so the file is truncated",
    ),
    (
        "bad__euc-jp.txt",
        "bad/euc-jp.txt:2",
        "encoding",
        "the file is neither UTF-8 nor CP932 text: line 2 is not text in either",
    ),
    (
        "bad__iso-2022-jp.txt",
        "bad/iso-2022-jp.txt:2",
        "encoding",
        "line 2 holds the control character U+001B, so the file is not UTF-8 or CP932 text",
    ),
    (
        "bad__no-patient-and-misplaced.txt",
        "bad/no-patient-and-misplaced.txt:6",
        "record",
        "line 6 has the record number '999', which is no JAHIS e-medication notebook record "
        "(the rest of the file is read on)",
    ),
    (
        "bad__dates.txt",
        "bad/dates.txt:3",
        "5-1 調剤等年月日",
        "5-1 調剤等年月日 '20240230' is not a calendar date",
    ),
    (
        "bad__drug-without-usage.txt",
        "bad/drug-without-usage.txt:4",
        "301 用法",
        "RP 1 has drug records (201) from line 4 but no usage record (301)",
    ),
    (
        "bad__header-version.txt",
        "bad/header-version.txt:1",
        "header",
        "header version JAHISTC13 is not one of JAHISTC01 to JAHISTC12",
    ),
    ("bad__header-only.txt", "bad/header-only.txt", "file", "the file has a header but no records"),
]


@pytest.mark.parametrize(("name", "location", "field", "reason"), BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
def test_bad_input_gives_a_precise_problem(name, location, field, reason):
    assert (location, field, reason) in problems(_read(FIXTURES / name))


def test_an_unknown_record_costs_only_its_line():
    records = _read(FIXTURES / "bad__no-patient-and-misplaced.txt")
    assert [record.location for record in records if not record.problem] == ["bad/no-patient-and-misplaced.txt:2"]
    assert len(_resources(records, "MedicationDispense")) == 1


def test_a_bad_dispensing_costs_only_its_block():
    """bad__codes.txt: twelve blocks with one fault each, then a good one."""
    records = _read(FIXTURES / "bad__codes.txt")
    assert len(problems(records)) == 12
    assert [r.location for r in records if not r.problem] == ["bad/codes.txt:2", "bad/codes.txt:41"]


def test_split_parts_are_read_alone_and_an_unfinished_part_says_so():
    orphans = problems(_read(FIXTURES / "bad__split-orphans.txt"))
    assert orphans == [
        (
            "bad/split-orphans.txt:3",
            "5 調剤等年月日",
            "lines 3 to 4 (records 201, 301) come before any dispensing record (5); the file is part 2 of 3 of "
            "split data 12345678901234, so they continue a dispensing begun in an earlier part: join the parts "
            "into one file",
        )
    ]
    unfinished = problems(_read(FIXTURES / "bad__split-unfinished.txt"))
    assert unfinished[0][2].endswith(
        "the file is part 1 of 2 of split data 12345678901234, so the rest may be in a later part: join the parts"
    )
    complete_part = _read(FIXTURES / "mit__tc-split-output-part-2.txt")
    assert problems(complete_part) == []


def test_the_patient_number_comes_from_the_file_name():
    assert file_name("00048083/00048083_20250418_000000632000005.csv") == FileName(
        "00048083", "00048083_20250418_000000632000005"
    )
    assert file_name("test\\fixtures\\tc-minimal-valid.txt") == FileName("tc-minimal-valid", "tc-minimal-valid")
    patient = _resources(_read(FIXTURES / "pharmacy-02__26581184_20250523_000002851000005.csv"), "Patient")[0]
    assert patient["identifier"] == [{"system": PHARMACY_02.patient_identifier_system, "value": "26581184"}]


def test_wareki_and_half_width_kana_of_pharmacy_02():
    records = _read(FIXTURES / "pharmacy-02__26581184_20250523_000002851000005.csv")
    patient = _resources(records, "Patient")[0]
    assert patient["birthDate"] == "1937-12-22"  # S121222
    assert [(name["text"], name["family"]) for name in patient["name"]] == [
        ("鈴木 正", "鈴木"),
        ("スズキ タダシ", "スズキ"),
    ]
    assert {d["whenHandedOver"] for d in _resources(records, "MedicationDispense")} == {"2025-05-23"}  # R070523


def test_quantity_follows_the_dosage_form():
    """内服: 1日量 x 日分; 屯服: 1回量 x 回分; 外用: 用量 is the total."""
    records = _read(FIXTURES / "pharmacy-02__26581184_20250523_000002851000005.csv")
    dispenses = {d["category"]["coding"][0]["display"]: d for d in _resources(records, "MedicationDispense")}
    assert (dispenses["外用"]["quantity"], dispenses["外用"].get("daysSupply")) == ({"value": 28, "unit": "枚"}, None)
    assert (dispenses["屯服"]["quantity"], dispenses["屯服"]["daysSupply"]) == (
        {"value": 10, "unit": "錠"},
        {"value": 10, "unit": "回"},
    )
    days = {"value": 28, "unit": "日", "system": "http://unitsofmeasure.org", "code": "d"}
    assert (dispenses["内服"]["quantity"], dispenses["内服"]["daysSupply"]) == ({"value": 56, "unit": "錠"}, days)


def _dispensing_text(blocks: int) -> str:
    block = (
        "5,20260310,1\n11,つなぎ薬局,22,4,4110060,,,,1\n"
        "201,1,ノルバスク錠,1,錠,2,612170709,1\n301,1,毎食後服用,3,日分,1,1,,1\n"
    )
    return "JAHISTC08,1\n1,山田 太郎,1,19800101\n" + block * blocks


def test_a_large_file_is_read_as_a_stream():
    data = io.BytesIO(_dispensing_text(20000).encode("cp932"))
    first = list(itertools.islice(CONNECTOR.records(PHARMACY_01, data, "big.txt"), 3))
    assert [record.problem for record in first] == [None] * 3
    assert data.tell() < 200_000 < len(data.getvalue())


def test_a_line_past_the_sniffed_start_in_another_encoding_costs_its_block():
    text = _dispensing_text(800)  # UTF-8, beyond the 64 KiB the encoding is told from
    data = text.encode() + "5,20260311,1\n201,1,ロキソニン錠,1,錠,2,610406001,1\n".encode("cp932")
    data += "301,1,毎食後服用,3,日分,1,1,,1\n".encode()
    records = list(CONNECTOR.records(PHARMACY_01, io.BytesIO(data), "mixed.txt"))
    assert len(data) > 64 * 1024
    assert problems(records) == [("mixed.txt:3204", "line", "line 3204 is not UTF-8 text like the start of the file")]
    assert len(records) == 802


def test_a_line_too_long_for_a_record_costs_its_block():
    text = "JAHISTC08,1\n1,山田 太郎,1,19800101\n5,20260310,1\n201," + "x" * 70_000 + "\n301,1,a,1,日分,1,1,,1\n"
    assert problems(_records(text)) == [
        ("inline/test.txt:4", "line", "line 4 is longer than 65536 bytes, so it is not a JAHIS record")
    ]


RECORD_NUMBERS = ["1", "2", "3", "31", "4", "5", "11", "15", "51", "55", "201", "281", "291", "301", "311"]
RECORD_NUMBERS += ["391", "401", "411", "421", "501", "601", "701", "911", "7", ""]
FIELDS = st.text(
    alphabet="0123456789\uff11\uff12HRS日分錠 .-\uff71薬", max_size=14
)  # with full-width 1 2, half-width ｱ


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(st.tuples(st.sampled_from(RECORD_NUMBERS), st.lists(FIELDS, max_size=11)), max_size=25),
    tail=st.binary(max_size=40),
)
def test_any_input_gives_records_or_problems_and_never_raises(lines, tail):
    text = "JAHISTC08,1\r\n" + "".join(",".join([number, *fields]) + "\r\n" for number, fields in lines)
    for record in CONNECTOR.records(PHARMACY_01, io.BytesIO(text.encode("cp932") + tail), "fuzz.txt"):
        assert (record.problem is None) == bool(record.entries)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_any_bytes_give_records_or_problems_and_never_raise(data):
    for record in CONNECTOR.records(PHARMACY_01, io.BytesIO(data), "fuzz.bin"):
        assert (record.problem is None) == bool(record.entries)


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Path:
    out: Path = tmp_path_factory.mktemp("jahis-region")
    region_generate(RegionSpec(seed=3, people=300, as_of=date(2026, 3, 31)), out, workers=1)
    return out


def test_a_generated_region_maps_every_drug_without_a_problem(region):
    """Every pharmacy file: no problem, one MedicationDispense per 201 under distinct keys, and the patient
    numbers the generator's truth lists for the pharmacy."""
    sources = json.loads((region / "sources.json").read_text(encoding="utf-8"))["sources"]
    with (region / "truth" / "identity.csv").open(encoding="utf-8") as truth:
        known = {(row["source_code"], row["source_patient_id"]) for row in csv.DictReader(truth)}
    dispenses: Counter[str] = Counter()
    drugs = 0
    for entry in (source for source in sources if source["kind"] == "jahis"):
        organization, patients = entry["organization"], entry["patient_identifier_system"]
        number = organization["identifier"]["value"]
        source = SourceInfo(entry["code"], "jahis", organization["name"], INSTITUTION, number, patients)
        for path in CONNECTOR.paths(region / entry["path"]):
            drugs += path.read_bytes().count(b"\r\n201,")
            with path.open("rb") as data:
                records = list(CONNECTOR.records(source, data, str(path.relative_to(region / entry["path"]))))
            assert problems(records) == []
            for patient in _resources(records, "Patient"):
                assert (entry["code"], patient["identifier"][0]["value"]) in known
            for item in (e for r in records for e in r.entries):
                assert validation_issues(item["resource"]) == []
                if item["resource"]["resourceType"] == "MedicationDispense":
                    dispenses[item["request"]["url"]] += 1
    assert sum(dispenses.values()) == drugs > 0
    assert [url for url, count in dispenses.items() if count > 1] == []
