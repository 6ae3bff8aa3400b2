"""A big NDJSON file stored in parts by two worker processes ends as if one process had read it: the same
resources, message counts and status, quarantine entries (record indexes of the whole file) and Provenance
coverage; the same file again changes nothing, and replay takes up the parts' quarantine entries."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from connectors import parts
from connectors.models import InboundMessage, MessageStatus, QuarantinedRecord
from connectors.pipeline import SOURCE_URI
from federation.models import Resource
from tests.connectors.test_pipeline import ingest

pytestmark = pytest.mark.django_db(transaction=True)  # the worker processes read what this one committed

ONE, TWO = "split-one", "split-two"
LINES = 80
BLANK, NOT_JSON, NO_RESOURCE, NO_PATIENT = 20, 3, 41, 75  # line numbers of Observation.ndjson


def observation(number: int) -> dict[str, Any]:
    patient = "p-missing" if number == NO_PATIENT else f"p{number % 2}"
    return {
        "resourceType": "Observation",
        "id": f"o{number}",
        "status": "final",
        "code": {"text": "体重"},
        "subject": {"reference": f"Patient/{patient}"},
        "valueQuantity": {"value": 40 + number / 10, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
    }


def observation_line(number: int) -> str:
    if number == BLANK:
        return ""
    if number == NOT_JSON:
        return '{"resourceType": "Observation", '
    if number == NO_RESOURCE:
        return json.dumps(observation(number) | {"resourceType": "Observasion"})
    return json.dumps(observation(number), ensure_ascii=False)


def write(path: Path, name: str, lines: list[str]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Bulk export whose Observation.ndjson is cut into parts of about 2 KB, its bad lines in different ones."""
    monkeypatch.setattr(parts, "PART_BYTES", 2_000)
    folder = tmp_path / "export"
    patients = [json.dumps({"resourceType": "Patient", "id": f"p{n}", "gender": "female"}) for n in range(2)]
    write(folder, "Patient.ndjson", patients)
    write(folder, "Observation.ndjson", [observation_line(number) for number in range(1, LINES + 1)])
    for code in (ONE, TWO):
        call_command(
            "add_source", "--code", code, "--connector", "fhir", "--organization-name", code, stdout=StringIO()
        )
    return folder


def stored(code: str) -> list[Resource]:
    return [
        row
        for row in Resource.objects.filter(is_deleted=False)
        if row.content["meta"].get("source") == f"{SOURCE_URI}{code}"
    ]


def record_key(row: Resource) -> str:
    """The sender's Type/id, kept as the record identifier: the same in both sources."""
    identifiers = row.content.get("identifier", [])
    return str(next(item["value"] for item in identifiers if "source-record" in item["system"]))


def normalized(code: str) -> dict[str, Any]:
    """What a source stored, comparable across sources: server ids and the source code taken out."""
    rows = stored(code)
    records = [row for row in rows if row.resource_type in ("Patient", "Observation")]
    keys = {f"{row.resource_type}/{row.logical_id}": record_key(row) for row in records}

    def plain(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: plain(value) for key, value in node.items() if key not in ("id", "meta")}
        if isinstance(node, list):
            return [plain(item) for item in node]
        if isinstance(node, str):
            return keys.get(node.split("/_history/")[0], node).replace(code, "SOURCE")
        return node

    resources = {record_key(row): plain(row.content) for row in records}
    provenances = [row.content for row in rows if row.resource_type == "Provenance"]
    targets = [plain(target["reference"]) for provenance in provenances for target in provenance["target"]]
    return {"resources": resources, "targets": sorted(targets), "provenances": len(provenances)}


def messages(code: str) -> dict[str, tuple[Any, ...]]:
    fields = ("status", "records", "created", "updated", "unchanged", "deleted", "quarantined")
    return {
        message.origin: tuple(getattr(message, name) for name in fields)
        for message in InboundMessage.objects.filter(source__code=code)
    }


def quarantine(code: str) -> list[tuple[Any, ...]]:
    entries = QuarantinedRecord.objects.filter(message__source__code=code).order_by("record_index")
    return [(e.record_index, e.location, e.field, e.reason.replace(code, "SOURCE"), e.resolved_at) for e in entries]


def test_a_big_file_stored_in_parts_by_two_workers_ends_as_if_one_process_read_it(export):
    one_code, one = ingest("--connector", "fhir", "--source", ONE, str(export))
    two_code, two = ingest("--connector", "fhir", "--source", TWO, "--workers", "2", str(export))

    assert (two_code, two) == (one_code, one | {"first_errors": two["first_errors"]})
    assert sorted(two["first_errors"]) == sorted(error.replace(ONE, TWO) for error in one["first_errors"])
    assert (one["records"], one["created"], one["quarantined"]) == (LINES - 1 + 2, LINES - 4 + 2, 3)
    assert messages(TWO) == messages(ONE)
    assert messages(TWO)["Observation.ndjson"][0] == MessageStatus.PARTIAL
    assert quarantine(TWO) == quarantine(ONE)
    assert [(index, location) for index, location, *_ in quarantine(TWO)] == [
        (NOT_JSON - 1, f"Observation.ndjson:{NOT_JSON}"),
        (NO_RESOURCE - 2, f"Observation.ndjson:{NO_RESOURCE}"),  # the blank line is no record
        (NO_PATIENT - 2, f"Observation.ndjson:{NO_PATIENT}"),
    ]
    one_stored, two_stored = normalized(ONE), normalized(TWO)
    assert two_stored["resources"] == one_stored["resources"]
    # Every version written is named by one Provenance: one for the file read whole, one per part in parts.
    assert two_stored["targets"] == one_stored["targets"] == sorted(one_stored["resources"])
    assert one_stored["provenances"] == 2
    assert two_stored["provenances"] > 2 + 5


def test_a_file_smaller_than_a_part_is_cut_when_its_stage_holds_too_little_for_both_workers(export, monkeypatch):
    monkeypatch.setattr(parts, "PART_BYTES", 1 << 20)
    monkeypatch.setattr(parts, "MIN_PART_BYTES", 1_000)  # Observation.ndjson is about 20 KB

    code, summary = ingest("--connector", "fhir", "--source", TWO, "--workers", "2", str(export))

    assert (code, summary["created"], summary["quarantined"]) == (1, LINES - 4 + 2, 3)
    provenances = Resource.objects.filter(resource_type="Provenance", is_deleted=False).count()
    assert provenances == 1 + 2 * parts.PARTS_PER_WORKER  # Patient.ndjson whole, one per part of the other


def test_the_same_big_file_again_changes_nothing(export):
    ingest("--connector", "fhir", "--source", TWO, "--workers", "2", str(export))
    versions = set(Resource.objects.values_list("resource_type", "logical_id", "version_id"))
    entries = quarantine(TWO)

    code, again = ingest("--connector", "fhir", "--source", TWO, "--workers", "2", str(export))

    assert (code, again["received"], again["duplicates"], again["records"]) == (0, 2, 2, 0)
    assert set(Resource.objects.values_list("resource_type", "logical_id", "version_id")) == versions
    assert quarantine(TWO) == entries


def test_replay_of_a_file_stored_in_parts_resolves_its_entries_by_their_indexes(export, tmp_path):
    ingest("--connector", "fhir", "--source", TWO, "--workers", "2", str(export))
    still_open = list(
        QuarantinedRecord.objects.exclude(record_index=NO_PATIENT - 2).values_list("pk", "record_index", "location")
    )
    write(tmp_path / "late", "Patient.ndjson", [json.dumps({"resourceType": "Patient", "id": "p-missing"})])
    ingest("--connector", "fhir", "--source", TWO, str(tmp_path / "late"))

    out = StringIO()
    with pytest.raises(SystemExit):  # exit code 1: two lines stay quarantined
        call_command("ingest_replay", "--source", TWO, "--json", stdout=out)

    assert json.loads(out.getvalue())["created"] == 1
    message = InboundMessage.objects.get(source__code=TWO, origin="Observation.ndjson")
    assert (message.status, message.quarantined, message.created) == (MessageStatus.PARTIAL, 2, 1)
    assert (
        list(QuarantinedRecord.objects.filter(resolved_at__isnull=True).values_list("pk", "record_index", "location"))
        == still_open
    )
    assert QuarantinedRecord.objects.get(resolved_at__isnull=False).record_index == NO_PATIENT - 2
