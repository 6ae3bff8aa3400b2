"""records_ingest tells, per stored record, the Patients whose compartments its written versions are in — the
persons an ingest batch's audit entry names — as the stored rows' placement says, whichever writer stored it."""

from __future__ import annotations

from typing import Any

import pytest

from consent.contracts import AccessContext
from federation.contracts import IngestCounts
from federation.ingest import records
from federation.search.compartments import compartment_patients

pytestmark = pytest.mark.django_db
ACCESS = AccessContext.system(reason="test")
HOSPITAL = "urn:oid:1.2.392.100495.20.3.51.11311234567"


def conditional_put(full_url: str, resource: dict[str, Any]) -> dict[str, Any]:
    identifier = resource["identifier"][0]
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "PUT", "url": f"{resource['resourceType']}?identifier={HOSPITAL}|{identifier['value']}"},
    }


def person_record(number: str) -> list[dict[str, Any]]:
    """A Patient, a lab result about them, and the lab: one record."""
    patient = f"urn:uuid:00000000-0000-4000-8000-00000000000{number}"
    return [
        conditional_put(
            patient, {"resourceType": "Patient", "identifier": [{"system": HOSPITAL, "value": f"p{number}"}]}
        ),
        conditional_put(
            f"urn:uuid:00000000-0000-4000-8000-00000000010{number}",
            {
                "resourceType": "Observation",
                "identifier": [{"system": HOSPITAL, "value": f"o{number}"}],
                "status": "final",
                "code": {"text": "HbA1c"},
                "subject": {"reference": patient},
            },
        ),
        conditional_put(
            f"urn:uuid:00000000-0000-4000-8000-00000000020{number}",
            {"resourceType": "Organization", "identifier": [{"system": HOSPITAL, "value": f"lab{number}"}]},
        ),
    ]


def stored_patients(counts: IngestCounts) -> set[str]:
    return compartment_patients(target.split("/_history/")[0] for target in counts.targets)


def test_the_batch_writer_tells_each_records_patients_as_their_rows_are_placed():
    outcomes = records.records_ingest(
        access=ACCESS, records=[person_record("1"), person_record("2")], source_uri="urn:s"
    )
    assert all(isinstance(counts, IngestCounts) for counts in outcomes)
    told = [counts.patients for counts in outcomes if isinstance(counts, IngestCounts)]
    assert told == [stored_patients(counts) for counts in outcomes if isinstance(counts, IngestCounts)]
    assert all(len(patients or ()) == 1 for patients in told)  # each record: its one person, not the other


def test_records_stored_one_by_one_leave_their_patients_to_be_read_from_their_targets(monkeypatch):
    monkeypatch.setattr(records, "_batch_apply", lambda access, stamped, then, located: None)
    (counts,) = records.records_ingest(access=ACCESS, records=[person_record("3")], source_uri="urn:s")
    assert isinstance(counts, IngestCounts)
    assert counts.patients is None
    assert len(stored_patients(counts)) == 1


def test_a_sum_of_counts_reads_its_patients_from_its_targets():
    total = IngestCounts()
    total.add(IngestCounts(created=1, targets=["Patient/a/_history/1"], patients={"a"}))
    assert total.patients is None
    assert total.targets == ["Patient/a/_history/1"]
