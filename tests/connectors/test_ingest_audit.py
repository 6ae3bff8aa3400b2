"""Each stored ingest batch is one audit event: the platform's work for a source, the raw messages it read and
the persons whose records it wrote (the batch's Provenance names every version)."""

from __future__ import annotations

import pytest

from connectors.models import InboundMessage
from consent.models import AuditRecord
from federation.models import Resource
from tests.connectors.test_pipeline import ingest, ndjson, patient, source  # noqa: F401  (source is a fixture)

pytestmark = pytest.mark.django_db


def test_an_ingest_batch_is_audited_with_its_messages_and_persons(source, tmp_path):  # noqa: F811
    file = ndjson(tmp_path / "patients.ndjson", patient("1"), patient("2"), '{"resourceType": "Patient", "x": 1}')

    _, summary = ingest("--connector", "fhir", "--source", source, str(file))

    assert summary["quarantined"] == 1
    (event,) = AuditRecord.objects.filter(category="import")
    assert (event.subtype, event.action, event.kind, event.reason) == ("import", "C", "system", "ingest:clinic-x")
    assert event.entities == [f"urn:sha256:{InboundMessage.objects.get().sha256}"]
    stored = Resource.objects.filter(resource_type="Patient").values_list("logical_id", flat=True)
    assert sorted(event.patients) == sorted(stored)
    assert event.outcome_text == "2 of 3 records stored"
