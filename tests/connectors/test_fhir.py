"""The FHIR connector: golden files, valid idempotent entries, streaming, precise problems, a generated region."""

from __future__ import annotations

import io
import json
import tracemalloc
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ParsedRecord, SourceInfo
from connectors.fhir.connector import CONNECTOR
from connectors.fhir.mapping import NO_IDENTIFIER_TYPES, RESOURCE_TYPES, SINGLE_IDENTIFIER_TYPES, Loose
from core import fhir_json
from core.references import references_located
from federation.fhir.r4b import element_type, validation_issues
from federation.fhir.spec import r4_resource_types, served_resource_types
from synthetic.region import RegionSpec, region_generate
from tests.connectors.golden import as_json, assert_references_located, problems

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fhir"
PATIENTS = "urn:oid:1.2.392.100495.20.3.51.12214110052"
SOURCE = SourceInfo(
    "fhir-clinic-01",
    "fhir",
    "森ファミリークリニック",
    "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no",
    "2214110052",
    PATIENTS,
)
RECORDS = "https://tsunagi.example.jp/fhir/IdSystem/source-record/fhir-clinic-01"
INPUTS = sorted(
    path for path in FIXTURES.iterdir() if path.suffix in (".json", ".ndjson") and ".expected" not in path.name
)


def _expected_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.expected.json")


def _records(data: bytes, origin: str = "data.json") -> list[ParsedRecord]:
    return list(CONNECTOR.records(SOURCE, io.BytesIO(data), origin))


def _line(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource, ensure_ascii=False).encode() + b"\n"


@pytest.mark.parametrize("path", INPUTS, ids=lambda path: path.name)
def test_golden_file(path):
    with path.open("rb") as data:
        records = list(CONNECTOR.records(SOURCE, data, path.name))
    assert as_json(records) == fhir_json.loads(_expected_path(path).read_text(encoding="utf-8"))
    assert_references_located(records)


@pytest.mark.parametrize("path", INPUTS, ids=lambda path: path.name)
def test_loose_entries_are_valid_conditional_updates_and_deterministic(path):
    first = _records(path.read_bytes(), path.name)
    assert as_json(first) == as_json(_records(path.read_bytes(), path.name))
    for record in first:
        for entry in record.entries:
            resource = entry.get("resource")
            if resource is not None:
                assert validation_issues(resource) == [], (record.location, resource)
            if path.name.startswith(("collection", "ndjson", "resource")):
                assert resource is not None
                assert entry["request"]["method"] == "PUT"
                assert entry["fullUrl"].startswith("urn:uuid:")
                assert "id" not in resource


def test_every_fixture_has_its_expected_file():
    assert all(_expected_path(path).exists() for path in INPUTS)


def test_a_transaction_is_one_record_with_its_entries_unchanged():
    bundle = json.loads((FIXTURES / "transaction__fhir-clinic.json").read_text(encoding="utf-8"))
    (record,) = _records(json.dumps(bundle).encode())
    assert record.problem is None
    assert record.entries == bundle["entry"]


def test_a_batch_gives_one_record_per_entry():
    records = _records((FIXTURES / "batch__writes.json").read_bytes(), "batch.json")
    assert [r.location for r in records] == [f"batch.json:entry[{index}]" for index in range(6)]
    assert [len(r.entries) for r in records[:3]] == [1, 1, 1]


def test_one_bad_entry_makes_the_whole_transaction_a_problem():
    records = _records((FIXTURES / "transaction__with-read.json").read_bytes(), "tx.json")
    assert problems(records) == [
        (
            "tx.json",
            "entry[1].request.method",
            "entry[1].request.method 'GET' is not one of DELETE, PATCH, POST, PUT: an ingested Bundle writes "
            "resources, it does not read them",
        )
    ]


def test_collection_references_become_conditional_references_and_targets_come_first():
    records = _records((FIXTURES / "collection__jp-clinic.json").read_bytes(), "c.json")
    stored = {r.location: r.entries[0]["resource"] for r in records if r.entries}
    order = [r.location for r in records if r.entries]
    assert order.index("c.json:entry[1]") < order.index("c.json:entry[0]")  # the Patient before its Observation
    assert order.index("c.json:entry[2]") < order.index("c.json:entry[0]")  # and the Encounter
    observation = stored["c.json:entry[0]"]
    assert observation["subject"]["reference"] == f"Patient?identifier={PATIENTS}|00012345"
    assert observation["encounter"]["reference"] == f"Encounter?identifier={RECORDS}|Encounter/enc-1"
    statement = stored["c.json:entry[4]"]
    assert statement["medicationReference"]["reference"] == "#m1"  # contained: untouched
    assert statement["informationSource"]["reference"] == "https://fhir.other.example/r4/Practitioner/77"
    assert statement["derivedFrom"][0]["reference"] == f"MedicationRequest?identifier={RECORDS}|MedicationRequest/mr-9"


def test_the_sender_id_is_dropped_and_kept_as_the_record_identifier():
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"versionId": "7", "lastUpdated": "2026-01-01T00:00:00Z", "profile": ["x"]},
        "identifier": [{"system": "http://other.example/mrn", "value": "42"}],
    }
    (record,) = _records(_line(patient), "Patient.ndjson")
    (entry,) = record.entries
    # A Patient without the source's patient number is keyed on its id, not on a shared identifier.
    assert entry["request"] == {"method": "PUT", "url": f"Patient?identifier={RECORDS}|Patient/p1"}
    assert entry["resource"]["identifier"][-1] == {"system": RECORDS, "value": "Patient/p1"}
    assert entry["resource"]["meta"] == {"profile": ["x"]}
    assert "id" not in entry["resource"]


def test_an_unknown_urn_reference_is_a_problem_that_says_where_and_the_sent_resource_is_left_as_it_was():
    observation = {
        "resourceType": "Observation",
        "id": "o1",
        "meta": {"versionId": "3", "source": "urn:s"},
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": "Patient/p1"},
        "performer": [{"display": "a"}, {"reference": "urn:uuid:0f3b5c1e-6a55-4d8e-9f2a-000000000009"}],
    }
    (record,) = _records(_line(observation), "Observation.ndjson")
    assert record.problem is not None
    assert record.problem.field == "Observation.performer[1].reference"
    assert "urn:uuid:0f3b5c1e-6a55-4d8e-9f2a-000000000009' names no resource of this file" in record.problem.reason

    del observation["performer"]
    sent = json.loads(json.dumps(observation))
    loose = Loose(SOURCE)
    entry, located = loose.entry(observation, None, "Observation")
    assert observation == sent  # shared parts are not changed in place
    assert entry["resource"]["meta"] == {"source": "urn:s"}
    assert entry["resource"]["subject"] == {"reference": f"Patient?identifier={RECORDS}|Patient/p1"}
    assert entry["resource"]["code"] is observation["code"]  # what holds no reference is not copied
    assert located == [(("subject", "reference"), f"Patient?identifier={RECORDS}|Patient/p1")]


def test_a_resource_is_keyed_on_its_first_identifier():
    observation = {
        "resourceType": "Observation",
        "identifier": [
            {"value": "no system"},
            {"system": "urn:x", "value": "a|b,c"},
            {"system": "urn:y", "value": "2"},
        ],
        "status": "final",
        "code": {"text": "x"},
    }
    (record,) = _records(_line(observation), "o.ndjson")
    # The value's search separators are escaped, so the conditional update matches only this identifier.
    assert record.entries[0]["request"]["url"] == "Observation?identifier=urn:x|a\\|b\\,c"


def test_conditional_urls_percent_encode_what_a_query_string_would_change():
    observation = {"resourceType": "Observation", "identifier": [{"system": "urn:x", "value": "a+b&c#d"}]}
    (record,) = _records(_line(observation), "o.ndjson")
    assert record.entries[0]["request"]["url"] == "Observation?identifier=urn:x|a%2Bb%26c%23d"


def test_ndjson_is_told_by_its_first_line_whatever_the_extension():
    lines = _line({"resourceType": "Basic", "id": "1", "code": {"text": "a"}}) * 3
    records = _records(lines, "export.json")
    assert [r.location for r in records] == ["export.json:1", "export.json:2", "export.json:3"]


def test_a_single_line_json_document_is_a_document():
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "DELETE", "url": "Basic/1"}}],
    }
    (record,) = _records(json.dumps(bundle).encode() + b"\n\n", "one.json")
    assert record.location == "one.json"


def test_decimals_keep_their_digits():
    observation = {"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"}}
    raw = json.dumps(observation)[:-1].encode() + b', "valueQuantity": {"value": 0.60}}\n'
    (record,) = _records(raw, "o.ndjson")
    assert fhir_json.dumps(record.entries[0]["resource"]["valueQuantity"]) == '{"value":0.60}'


def test_a_bom_and_leading_blank_lines_are_skipped_and_lines_still_counted():
    raw = b"\xef\xbb\xbf\n\n" + b'{"resourceType": "Patient",\n "id": [}\n'
    assert problems(_records(raw, "p.json")) == [
        ("p.json", "", "the file is not valid JSON: Expecting value at line 4 column 9")
    ]


def test_a_deeply_nested_document_is_a_problem_not_a_crash():
    raw = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    assert problems(_records(raw, "deep.json")) == [
        ("deep.json", "", "the file is not valid JSON: it is nested too deeply to be read")
    ]


def test_a_large_ndjson_file_is_streamed():
    """200 MB of NDJSON would not fit the budget below if it were read whole; 20 MB proves the point."""

    class Generated(io.RawIOBase):
        def __init__(self, lines: int) -> None:
            self.remaining = lines
            self.pending = b""

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            while len(self.pending) < len(buffer) and self.remaining:
                self.remaining -= 1
                self.pending += _line(
                    {
                        "resourceType": "Observation",
                        "id": str(self.remaining),
                        "status": "final",
                        "code": {"text": "体重"},
                    }
                    | {"note": [{"text": "x" * 150}]}
                )
            size = min(len(buffer), len(self.pending))
            buffer[:size], self.pending = self.pending[:size], self.pending[size:]
            return size

    tracemalloc.start()
    count = sum(1 for record in CONNECTOR.records(SOURCE, io.BufferedReader(Generated(80_000)), "big.ndjson"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 80_000
    assert peak < 5_000_000


def test_a_document_above_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr("connectors.fhir.parser.MAX_DOCUMENT_BYTES", 100)
    raw = b'{\n"resourceType": "Bundle",\n' + b'"x": "' + b"y" * 200 + b'"}\n'
    assert problems(_records(raw, "big.json")) == [
        ("big.json", "", "the file is larger than 100 bytes: send large data as NDJSON, which is read line by line")
    ]


def test_files_are_ordered_so_that_targets_come_first(tmp_path):
    for name in ("Observation.ndjson", "Patient.ndjson", "Organization-1.ndjson", "Provenance.ndjson", "a.json"):
        (tmp_path / name).write_text("")
    assert [path.name for path in CONNECTOR.paths(tmp_path)] == [
        "Organization-1.ndjson",
        "Patient.ndjson",
        "Observation.ndjson",
        "a.json",
        "Provenance.ndjson",
    ]


def test_the_type_tables_match_the_fhir_models():
    assert set(r4_resource_types()) == RESOURCE_TYPES
    for resource_type in served_resource_types():
        kind = element_type(resource_type, "identifier")
        assert (resource_type in NO_IDENTIFIER_TYPES) == (kind is None), resource_type
        assert (resource_type in SINGLE_IDENTIFIER_TYPES) == (kind is not None and not kind[1]), resource_type


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Path:
    out: Path = tmp_path_factory.mktemp("region")
    region_generate(RegionSpec(seed=3, people=120, as_of=date(2026, 3, 31)), out, workers=1)
    return out


def test_every_generated_clinic_bundle_is_one_record_with_its_entries_unchanged(region):
    sources = json.loads((region / "sources.json").read_text(encoding="utf-8"))["sources"]
    (clinic,) = [source for source in sources if source["kind"] == "fhir"]
    source = SourceInfo(
        clinic["code"],
        "fhir",
        clinic["organization"]["name"],
        clinic["organization"]["identifier"]["system"],
        clinic["organization"]["identifier"]["value"],
        clinic["patient_identifier_system"],
    )
    root = region / clinic["path"]
    paths = list(CONNECTOR.paths(root))
    assert paths
    for path in paths:
        with path.open("rb") as data:
            (record,) = CONNECTOR.records(source, data, path.name)
        assert record.problem is None
        assert record.entries == fhir_json.loads(path.read_bytes())["entry"]


def test_the_references_a_loose_record_carries_are_those_of_its_stored_resource():
    """Its identifier replaced (a type with one identifier, keyed on the sender's id), a reference in the old one
    goes with it."""
    composition = {
        "resourceType": "Composition",
        "id": "c1",
        "identifier": {"assigner": {"reference": "Organization/o1"}},
        "status": "final",
        "type": {"text": "x"},
        "subject": {"reference": "Patient/p1"},
        "author": [{"reference": "Practitioner/d1"}],
        "date": "2026-01-01",
        "title": "x",
    }
    (record,) = _records(_line(composition), "Composition.ndjson")
    (entry,) = record.entries
    assert entry["resource"]["identifier"] == {"system": RECORDS, "value": "Composition/c1"}
    assert record.located == [references_located(entry["resource"])]
    assert [path for path, _ in record.located[0]] == [("subject", "reference"), ("author", 0, "reference")]
