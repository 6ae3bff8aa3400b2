"""The ingest pipeline end to end on real parts: raw store, connector, federation's store, quarantine."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from connectors import pipeline
from connectors.models import InboundMessage, MessageStatus, QuarantinedRecord, SourceSystem
from connectors.pipeline import message_receive
from connectors.raw_store import raw_store_open
from federation.facade import organization_ensure
from federation.models import Resource
from federation.storage import batch
from federation.storage.batch import BatchConflictError

pytestmark = pytest.mark.django_db

HOSPITAL = "urn:oid:1.2.392.100495.20.3.51.12214110011"


def patient(number: str, **fields) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": HOSPITAL, "value": number}],
        "name": [{"family": "山田", "given": ["花子"]}],
        "gender": "female",
        "birthDate": "1941-05-03",
        **fields,
    }


def ndjson(path: Path, *resources: dict[str, Any] | str) -> Path:
    lines = [item if isinstance(item, str) else json.dumps(item, ensure_ascii=False) for item in resources]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ingest(*args: str) -> tuple[int, dict[str, Any]]:
    """Run `ingest --json --no-link` (linking has its own tests); its exit code and summary."""
    out = StringIO()
    try:
        call_command("ingest", *args, "--json", "--no-link", stdout=out)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, json.loads(out.getvalue())


@pytest.fixture
def source():
    call_command(
        "add_source",
        "--code",
        "clinic-x",
        "--connector",
        "fhir",
        "--organization-name",
        "テストクリニック",
        "--organization-identifier",
        "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no|2214110011",
        stdout=StringIO(),
    )
    return "clinic-x"


def stored(resource_type: str) -> list[dict[str, Any]]:
    rows = Resource.objects.filter(resource_type=resource_type, is_deleted=False).order_by("logical_id")
    return [row.content for row in rows]


def test_records_are_stored_with_their_source_and_a_provenance(source, tmp_path):
    file = ndjson(tmp_path / "patients.ndjson", patient("1"), patient("2"), patient("3"))

    code, summary = ingest("--connector", "fhir", "--source", source, str(file))

    assert code == 0
    assert (summary["received"], summary["records"], summary["created"], summary["quarantined"]) == (1, 3, 3, 0)
    patients = stored("Patient")
    assert len(patients) == 3
    assert {p["meta"]["source"] for p in patients} == {"https://tsunagi.example.jp/fhir/source/clinic-x"}
    (provenance,) = stored("Provenance")
    assert len(provenance["target"]) == 3
    assert provenance["agent"][0]["who"]["reference"].startswith("Organization/")
    message = InboundMessage.objects.get()
    assert provenance["entity"][0]["what"]["identifier"]["value"] == message.sha256
    (organization,) = stored("Organization")
    assert organization["name"] == "テストクリニック"
    with raw_store_open(message.sha256) as kept:
        assert kept.read() == file.read_bytes()


def test_each_batch_commits_with_the_provenance_of_what_it_wrote(source, tmp_path, monkeypatch):
    """A Provenance is written by the same transaction as the versions it names (the same xmin), a batch's
    versions short of a full Provenance too: a crash never leaves stored records without their Provenance."""
    monkeypatch.setattr(pipeline, "RECORDS_PER_COMMIT", 2)
    monkeypatch.setattr(pipeline, "PROVENANCE_TARGETS", 3)
    file = ndjson(tmp_path / "patients.ndjson", *(patient(str(number)) for number in range(5)))

    code, summary = ingest("--connector", "fhir", "--source", source, str(file))

    assert (code, summary["created"]) == (0, 5)
    transaction_of = {
        f"{resource_type}/{logical_id}": xmin
        for resource_type, logical_id, xmin in Resource.objects.extra(select={"xmin": "xmin::text"}).values_list(
            "resource_type", "logical_id", "xmin"
        )
    }
    provenances = Resource.objects.filter(resource_type="Provenance")
    named = {
        f"Provenance/{row.logical_id}": [target["reference"].split("/_history/")[0] for target in row.content["target"]]
        for row in provenances
    }
    assert sorted(len(targets) for targets in named.values()) == [1, 2, 2]
    for provenance, targets in named.items():
        assert {transaction_of[target] for target in targets} == {transaction_of[provenance]}
    assert len({transaction_of[provenance] for provenance in named}) == 3


def test_a_batch_planned_again_after_a_collision_names_an_organization_that_exists(source, tmp_path, monkeypatch):
    """The run's first Provenance needs the source's Organization: it is ensured before the batch writer plans,
    since a plan that collides with another writer is rolled back, and the run keeps the Organization's id."""
    collided: list[bool] = []

    def collide_once(state, now):
        if not collided:
            collided.append(True)
            raise BatchConflictError("another writer got in between")
        write(state, now)

    write = batch._write
    monkeypatch.setattr(batch, "_write", collide_once)
    file = ndjson(tmp_path / "patients.ndjson", patient("1"), patient("2"))

    code, summary = ingest("--connector", "fhir", "--source", source, str(file))

    assert (code, summary["created"], collided) == (0, 2, [True])
    (provenance,) = stored("Provenance")
    organization = provenance["agent"][0]["who"]["reference"]
    assert [f"Organization/{row['id']}" for row in stored("Organization")] == [organization]


def test_messages_processed_together_share_a_provenance_naming_each_message(source, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    ndjson(folder / "a.ndjson", patient("1"), patient("2"))
    ndjson(folder / "b.ndjson", patient("3"))
    ndjson(folder / "c.ndjson", patient("1"))  # stores nothing new: no entity for it

    code, summary = ingest("--connector", "fhir", "--source", source, str(folder))

    assert (code, summary["received"], summary["created"], summary["unchanged"]) == (0, 3, 3, 1)
    (provenance,) = stored("Provenance")
    patients = {f"Patient/{p['id']}/_history/1" for p in stored("Patient")}
    assert {target["reference"] for target in provenance["target"]} == patients
    messages = dict(InboundMessage.objects.values_list("origin", "sha256"))
    assert [(e["what"]["display"], e["what"]["identifier"]["value"]) for e in provenance["entity"]] == [
        ("a.ndjson", messages["a.ndjson"]),
        ("b.ndjson", messages["b.ndjson"]),
    ]


def test_the_same_bytes_again_change_nothing(source, tmp_path):
    file = ndjson(tmp_path / "patients.ndjson", patient("1"), patient("2"))
    ingest("--connector", "fhir", "--source", source, str(file))
    versions = Resource.objects.filter(resource_type="Patient").values_list("logical_id", "version_id")

    code, summary = ingest("--connector", "fhir", "--source", source, str(file))

    assert code == 0
    assert (summary["duplicates"], summary["records"], summary["created"]) == (1, 0, 0)
    assert set(Resource.objects.filter(resource_type="Patient").values_list("logical_id", "version_id")) == set(
        versions
    )
    assert InboundMessage.objects.count() == 1


def test_a_corrected_record_updates_and_never_duplicates(source, tmp_path):
    ingest("--connector", "fhir", "--source", source, str(ndjson(tmp_path / "a.ndjson", patient("1"), patient("2"))))

    corrected = ndjson(tmp_path / "b.ndjson", patient("1", gender="male"), patient("2"))
    code, summary = ingest("--connector", "fhir", "--source", source, str(corrected))

    assert code == 0
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 1, 1)
    patients = stored("Patient")
    assert len(patients) == 2
    assert sorted(p["gender"] for p in patients) == ["female", "male"]


def test_a_bad_record_is_quarantined_with_where_and_why_and_the_rest_is_stored(source, tmp_path):
    file = ndjson(
        tmp_path / "mixed.ndjson",
        patient("1"),
        '{"resourceType": "Patient", ',  # truncated JSON
        patient("3", birthDate="1941-02-30"),  # not a calendar date: the store refuses it
        patient("4"),
    )

    code, summary = ingest("--connector", "fhir", "--source", source, str(file))

    assert code == 1
    assert (summary["records"], summary["created"], summary["quarantined"]) == (4, 2, 2)
    entries = list(QuarantinedRecord.objects.order_by("record_index"))
    assert [entry.record_index for entry in entries] == [1, 2]
    assert "mixed.ndjson:2" in entries[0].location
    assert "not stored (400)" in entries[1].reason
    assert "birthDate" in entries[1].reason + entries[1].field
    assert len(summary["first_errors"]) == 2
    message = InboundMessage.objects.get()
    assert message.status == MessageStatus.PARTIAL
    with raw_store_open(message.sha256) as kept:
        assert kept.read() == file.read_bytes()


def test_an_empty_file_is_quarantined_and_kept(source, tmp_path):
    empty = tmp_path / "empty.ndjson"
    empty.write_bytes(b"")

    code, summary = ingest("--connector", "fhir", "--source", source, str(empty))

    assert code == 1
    assert summary["quarantined"] == 1
    message = InboundMessage.objects.get()
    assert message.status == MessageStatus.QUARANTINED
    with raw_store_open(message.sha256) as kept:
        assert kept.read() == b""


def test_replay_stores_what_failed_once_its_cause_is_gone(source, tmp_path):
    """An observation that arrived before its patient is quarantined; after the patient, replay stores it."""
    observation = {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:example:obs", "value": "o1"}],
        "status": "final",
        "code": {"text": "体重"},
        "subject": {"reference": f"Patient?identifier={HOSPITAL}|7"},
        "valueQuantity": {"value": 48.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
    }
    code, _ = ingest("--connector", "fhir", "--source", source, str(ndjson(tmp_path / "obs.ndjson", observation)))
    assert code == 1
    assert QuarantinedRecord.objects.filter(resolved_at__isnull=True).count() == 1

    ingest("--connector", "fhir", "--source", source, str(ndjson(tmp_path / "pat.ndjson", patient("7"))))
    out = StringIO()
    call_command("ingest_replay", "--json", "--no-link", stdout=out)

    assert json.loads(out.getvalue())["created"] == 1
    assert QuarantinedRecord.objects.filter(resolved_at__isnull=True).count() == 0
    assert QuarantinedRecord.objects.filter(resolved_at__isnull=False).count() == 1
    (stored_observation,) = stored("Observation")
    assert stored_observation["subject"]["reference"].startswith("Patient/")


def test_replay_processes_a_message_received_but_never_processed(source, tmp_path):
    """E.g. a crash after the raw bytes were kept: nothing is lost, replay stores the records."""
    registered = SourceSystem.objects.get(code=source)
    with ndjson(tmp_path / "pat.ndjson", patient("8")).open("rb") as stream:
        message_receive(source=registered, stream=stream, origin="pat.ndjson")
    out = StringIO()
    call_command("ingest_replay", "--json", "--no-link", stdout=out)

    assert json.loads(out.getvalue())["created"] == 1
    assert InboundMessage.objects.get().status == MessageStatus.STORED
    assert len(stored("Patient")) == 1


@pytest.mark.django_db(transaction=True)
def test_a_crash_between_receiving_and_parsing_loses_nothing(source, tmp_path, monkeypatch):
    """The raw bytes and their messages are committed before any parsing: a process that dies right after
    receiving leaves them `received`, and replay stores their records."""
    folder = tmp_path / "in"
    folder.mkdir()
    files = [ndjson(folder / "a.ndjson", patient("1")), ndjson(folder / "b.ndjson", patient("2"))]

    def die(**_: Any) -> None:
        raise KeyboardInterrupt  # as a kill would, between the receiving commit and the first parse

    monkeypatch.setattr(pipeline, "messages_process", die)
    with pytest.raises(KeyboardInterrupt):
        ingest("--connector", "fhir", "--source", source, str(folder))
    monkeypatch.undo()

    messages = list(InboundMessage.objects.order_by("origin"))
    assert [(message.origin, message.status) for message in messages] == [
        ("a.ndjson", MessageStatus.RECEIVED),
        ("b.ndjson", MessageStatus.RECEIVED),
    ]
    for message, file in zip(messages, files, strict=True):
        with raw_store_open(message.sha256) as kept:
            assert kept.read() == file.read_bytes()
    out = StringIO()
    call_command("ingest_replay", "--json", "--no-link", stdout=out)
    assert json.loads(out.getvalue())["created"] == 2
    assert len(stored("Patient")) == 2


def test_sensitive_conditions_are_labelled_at_ingest(source, tmp_path):
    condition = {
        "resourceType": "Condition",
        "identifier": [{"system": "urn:example:cond", "value": "c1"}],
        "code": {"coding": [{"system": "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full", "code": "F03"}]},
        "subject": {"reference": f"Patient?identifier={HOSPITAL}|1"},
    }
    ingest("--connector", "fhir", "--source", source, str(ndjson(tmp_path / "c.ndjson", patient("1"), condition)))

    (stored_condition,) = stored("Condition")
    labels = {(label["system"].rsplit("/", 1)[-1], label["code"]) for label in stored_condition["meta"]["security"]}
    assert labels == {("v3-ActCode", "PSY"), ("v3-Confidentiality", "R")}
    (stored_patient,) = stored("Patient")
    assert "security" not in stored_patient["meta"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--connector", "nope", "--source", "clinic-x", "x"], "unknown connector"),
        (["--connector", "fhir", "--source", "nobody", "x"], "unknown source"),
        (["--connector", "jahis", "--source", "clinic-x", "x"], "uses the fhir connector"),
        (["--connector", "fhir", "--source", "clinic-x", "/no/such/file"], "no such file"),
    ],
)
def test_usage_errors_exit_2_with_one_line(source, args, message):
    with pytest.raises(CommandError) as error:
        call_command("ingest", *args)

    assert error.value.returncode == 2
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_run_ensures_its_sources_organization_once_however_many_writers_it_has(source, tmp_path, monkeypatch):
    """Each group of messages (and each part of a big file) has a writer of its own; the run ensures the
    source's Organization once per process, and code outside a run (a push, a replay) ensures its own."""
    ensured: list[str] = []

    def counted(**arguments: Any) -> str:
        ensured.append(arguments["name"])
        return organization_ensure(**arguments)

    monkeypatch.setattr(pipeline, "organization_ensure", counted)
    monkeypatch.setattr(pipeline, "MESSAGES_PER_GROUP", 1)
    for number in ("1", "2", "3"):
        ndjson(tmp_path / f"patients-{number}.ndjson", patient(number))

    code, summary = ingest("--connector", "fhir", "--source", source, str(tmp_path))

    assert (code, summary["created"], len(ensured)) == (0, 3, 1)
    assert pipeline._run_organizations is None
    organizations = Resource.objects.filter(resource_type="Organization", is_deleted=False)
    assert organizations.count() == 1
    provenances = Resource.objects.filter(resource_type="Provenance")
    assert {p.content["agent"][0]["who"]["reference"] for p in provenances} == {
        f"Organization/{organizations.get().logical_id}"
    }
