"""A source pushes a raw message over HTTP; a real Celery worker stores it; the source polls the status."""

from __future__ import annotations

import json
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from connectors.models import SourceSystem
from connectors.push import push_token_issue
from tests.federation.identity.stored import source_patients

pytestmark = pytest.mark.e2e

HOSPITAL = "urn:oid:1.2.392.100495.20.3.51.12214110011"


@pytest.fixture
def raw_store(settings, tmp_path):
    settings.RAW_STORE_DIR = tmp_path / "raw"


def test_a_pushed_message_is_stored_by_the_worker(transactional_db, raw_store, worker):
    call_command(
        "add_source", "--code", "clinic-p", "--connector", "fhir", "--organization-name", "P", stdout=StringIO()
    )
    token = push_token_issue(source=SourceSystem.objects.get(code="clinic-p"))
    patient = {"resourceType": "Patient", "identifier": [{"system": HOSPITAL, "value": "9"}], "gender": "male"}
    client = Client(headers={"Authorization": f"Bearer {token}"})

    response = client.post(
        "/ingest/clinic-p/messages?name=p.ndjson", json.dumps(patient) + "\n", content_type="application/x-ndjson"
    )

    assert response.status_code == 202
    message = response.json()["message"]
    deadline = time.monotonic() + 60
    status = response.json()
    while status["status"] == "received" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = client.get(f"/ingest/clinic-p/messages/{message}").json()
    assert status["status"] == "stored"
    assert status["created"] == 1
    assert source_patients().count() == 1
