"""The care connector: golden files, valid FHIR, determinism, precise problems, and a generated region."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from connectors.base import ParsedRecord, SourceInfo
from connectors.care.connector import CONNECTOR
from core import fhir_json
from federation.fhir.r4b import validation_issues
from synthetic.region import RegionSpec, region_generate
from tests.connectors.golden import as_json, assert_references_located

# *__day-service, *__home-help, *__support-center: rows of `generate_region --people 600 --seed 1` kept byte for
# byte (CP932, CRLF), a few per table; the others are made by hand around one bad thing each.
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "care"
PROVIDER = "https://tsunagi.example.jp/fhir/IdSystem/ltc-provider-number"


def _source(code: str, name: str, number: str) -> SourceInfo:
    client_system = f"https://tsunagi.example.jp/fhir/IdSystem/ltc-client/{number}"
    return SourceInfo(code, "care", name, PROVIDER, number, client_system)


DAY_SERVICE = _source("care-facility-01", "駅前一丁目デイサービスセンター", "2274100086")
# The fixture scenario's first word names the source its rows came from (the day service otherwise).
SOURCES = {
    "home-help": _source("care-facility-02", "緑が丘ヘルパーステーション", "2274100094"),
    "support-center": _source("support-center-01", "綱木市桜木町地域包括支援センター", "2274100102"),
}
HEADERS = {
    "services": "利用者番号,サービス提供日,サービス種類コード,サービス種類,単位数",
    "vitals": "利用者番号,測定日時,収縮期血圧,拡張期血圧,脈拍,体温,体重",
}


def _fixture_source(path: Path) -> SourceInfo:
    scenario = path.stem.split("__")[1]
    return next((source for prefix, source in SOURCES.items() if scenario.startswith(prefix)), DAY_SERVICE)


def _records(source: SourceInfo, data: bytes, origin: str = "services.csv") -> list[ParsedRecord]:
    return list(CONNECTOR.records(source, io.BytesIO(data), origin))


def _table(table: str, *rows: str) -> bytes:
    return "".join(f"{line}\r\n" for line in (HEADERS[table], *rows)).encode("cp932")


def _problems(records: list[ParsedRecord]) -> list[tuple[str, str, str]]:
    return [(r.problem.location, r.problem.field, r.problem.reason) for r in records if r.problem]


CSV_FIXTURES = sorted(FIXTURES.glob("*.csv"))


@pytest.mark.parametrize("path", CSV_FIXTURES, ids=lambda path: path.name)
def test_golden_file(path):
    with path.open("rb") as data:
        records = list(CONNECTOR.records(_fixture_source(path), data, path.name))
    expected = fhir_json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))
    assert as_json(records) == expected
    assert_references_located(records)


@pytest.mark.parametrize("path", CSV_FIXTURES, ids=lambda path: path.name)
def test_every_entry_is_valid_fhir_with_a_deterministic_urn(path):
    with path.open("rb") as data:
        records = list(CONNECTOR.records(_fixture_source(path), data, path.name))
    for record in records:
        urls = [entry["fullUrl"] for entry in record.entries]
        assert len(set(urls)) == len(urls)
        for entry in record.entries:
            assert entry["fullUrl"].startswith("urn:uuid:")
            assert validation_issues(entry["resource"]) == [], (record.location, entry["resource"])


def test_every_fixture_has_its_expected_file():
    expected = {path.name.removesuffix(".expected.json") for path in FIXTURES.glob("*.expected.json")}
    assert expected == {path.stem for path in CSV_FIXTURES}


def test_the_same_row_gives_the_same_entries_wherever_it_is():
    row = "0000401,20250401,15,通所介護,780"
    alone = _records(DAY_SERVICE, _table("services", row))
    later = _records(DAY_SERVICE, _table("services", "0000402,20250401,15,通所介護,780", row), "other.csv")
    assert alone[0].entries == later[1].entries
    assert alone[0].location == "services.csv:2"
    assert later[1].location == "other.csv:3"


def test_a_client_row_updates_its_patient_and_other_rows_only_create_one():
    clients = (FIXTURES / "clients__day-service.csv").read_bytes()
    client_patient = _records(DAY_SERVICE, clients, "clients.csv")[0].entries[0]
    service_patient = _records(DAY_SERVICE, _table("services", "6418792,20250401,15,通所介護,780"))[0].entries[0]
    query = "identifier=https://tsunagi.example.jp/fhir/IdSystem/ltc-client/2274100086|6418792"
    assert client_patient["request"] == {"method": "PUT", "url": f"Patient?{query}"}
    assert service_patient["request"] == {"method": "POST", "url": "Patient", "ifNoneExist": query}
    assert client_patient["fullUrl"] == service_patient["fullUrl"]


@pytest.mark.parametrize(
    ("location", "field", "reason"),
    [
        ("empty__file.csv", "header", "the file is empty: a care CSV starts with its header row"),
        ("clients__utf-8.csv:1", "header", "the file is UTF-8 text, not CP932 as care CSV files are"),
        ("certifications__bad-values.csv:5", "申請日", "申請日 '20240230' is not a calendar date"),
        (
            "certifications__bad-values.csv:4",
            "要介護状態区分コード",
            "要介護状態区分コード '99' is not a care level (01, 06, 12, 13, 21 to 25)",
        ),
        (
            "clients__bad-values.csv:3",
            "利用者番号",
            "利用者番号 '12345\uff167' is not 1 to 20 half-width letters, digits or hyphens",
        ),
        ("adl__bad-values.csv:4", "食事", "食事 '十' is not an integer"),
        ("adl__bad-values.csv:6", "合計", "合計 95 is not the sum of the item scores (100)"),
        (
            "services__bad-values.csv:4",
            "サービス種類コード",
            "サービス種類コード '1' is not a two-character service type code",
        ),
        ("vitals__bad-values.csv:3", "row", "the row has 6 fields where the vitals table has 7 columns"),
        ("vitals__bad-values.csv:5", "測定日時", "測定日時 '202502301200' is not a calendar date and time"),
        ("services__broken-bytes.csv:2", "row", "the row is not CP932 text: byte 0x85 at offset 20"),
        ("services__broken-bytes.csv:5", "row", "a quoted field opened on line 5 never closes"),
    ],
)
def test_bad_input_gives_a_precise_problem(location, field, reason):
    fixture = location.split(":")[0]
    with (FIXTURES / fixture).open("rb") as data:
        problems = _problems(list(CONNECTOR.records(DAY_SERVICE, data, fixture)))
    assert (location, field, reason) in problems


def test_rows_after_a_bad_row_are_still_read():
    records = _records(
        DAY_SERVICE,
        _table("vitals", "0000801,202502301200,128,76,70,36.5,50.1", "0000801,202506010930,128,76,70,36.5,50.1"),
    )
    assert records[0].problem is not None
    assert [entry["resource"]["resourceType"] for entry in records[1].entries] == ["Patient"] + ["Observation"] * 4


def test_a_header_of_no_care_table_is_one_problem_whatever_follows():
    records = _records(DAY_SERVICE, "利用者番号,氏名\r\n1,山田\r\n2,佐藤\r\n".encode("cp932"))
    assert _problems(records) == [
        (
            "services.csv:1",
            "header",
            "the header row is none of the care tables' (clients.csv, certifications.csv, services.csv, adl.csv, "
            "incidents.csv, checklists.csv, vitals.csv): see docs/connectors/care-csv.md",
        )
    ]


def test_a_file_is_streamed_not_read_whole():
    class CountingStream(io.BytesIO):
        lines = 0

        def __next__(self) -> bytes:
            CountingStream.lines += 1
            return super().__next__()

    rows = [f"{n:07d},20250401,15,通所介護,780" for n in range(10_000)]
    first = next(iter(CONNECTOR.records(DAY_SERVICE, CountingStream(_table("services", *rows)), "services.csv")))
    assert first.problem is None
    assert CountingStream.lines <= 3


def test_paths_put_clients_first_and_other_files_last(tmp_path):
    for name in ("vitals.csv", "adl.csv", "clients.csv", "notes.txt", "services.csv"):
        (tmp_path / name).write_bytes(b"")
    assert [path.name for path in CONNECTOR.paths(tmp_path)] == [
        "clients.csv",
        "services.csv",
        "adl.csv",
        "vitals.csv",
        "notes.txt",
    ]


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Path:
    out: Path = tmp_path_factory.mktemp("care-region")
    region_generate(RegionSpec(seed=5, people=300, as_of=date(2026, 3, 31)), out, workers=1)
    return out


def test_a_generated_region_maps_without_a_problem_or_a_key_collision(region):
    """Every row of every care source: valid entries, one record per data line, distinct record keys."""
    sources = json.loads((region / "sources.json").read_text(encoding="utf-8"))["sources"]
    keys: Counter[str] = Counter()
    rows = records = 0
    for entry in (source for source in sources if source["kind"] == "care"):
        organization = entry["organization"]["identifier"]
        source = SourceInfo(
            entry["code"],
            "care",
            entry["organization"]["name"],
            organization["system"],
            organization["value"],
            entry["patient_identifier_system"],
        )
        for path in CONNECTOR.paths(region / entry["path"]):
            rows += len(path.read_bytes().splitlines()) - 1
            with path.open("rb") as data:
                for record in CONNECTOR.records(source, data, path.name):
                    records += 1
                    assert record.problem is None, record.problem
                    for item in record.entries:
                        assert validation_issues(item["resource"]) == [], record.location
                        if item["request"]["method"] == "PUT" and item["resource"]["resourceType"] != "Patient":
                            keys[item["request"]["url"]] += 1
    assert records == rows > 0
    assert [url for url, count in keys.items() if count > 1] == []
