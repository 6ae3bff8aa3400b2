"""The push endpoint's door: tokens, disabled sources, duplicates, status."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from connectors.models import InboundMessage, SourceSystem
from connectors.push import push_token_issue
from connectors.raw_store import raw_store_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def token():
    call_command(
        "add_source", "--code", "clinic-p", "--connector", "fhir", "--organization-name", "P", stdout=StringIO()
    )
    return push_token_issue(source=SourceSystem.objects.get(code="clinic-p"))


def push(token: str, body: bytes, code: str = "clinic-p"):
    client = Client(headers={"Authorization": f"Bearer {token}"})
    return client.post(f"/ingest/{code}/messages?name=a.ndjson", body, content_type="application/octet-stream")


def test_a_push_keeps_the_raw_bytes_and_answers_202(token, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = push(token, b'{"resourceType": "Patient"}\n')

    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["duplicate"], body["origin"]) == ("received", False, "a.ndjson")
    with raw_store_open(body["sha256"]) as kept:
        assert kept.read() == b'{"resourceType": "Patient"}\n'
    assert len(callbacks) == 1  # the worker is asked once the message is committed


def test_the_same_bytes_again_are_a_duplicate(token, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        first = push(token, b"{}\n").json()
    second = push(token, b"{}\n").json()

    assert second["duplicate"] is True
    assert second["message"] == first["message"]
    assert InboundMessage.objects.count() == 1


@pytest.mark.parametrize("presented", ["", "wrong-token"])
def test_without_the_right_token_it_is_401_and_nothing_is_kept(token, presented):
    response = push(presented, b"{}\n")

    assert response.status_code == 401
    assert InboundMessage.objects.count() == 0


def test_an_unknown_source_is_401_not_404(token):
    assert push(token, b"{}\n", code="someone-else").status_code == 401


def test_a_disabled_source_is_403(token):
    SourceSystem.objects.filter(code="clinic-p").update(enabled=False)

    assert push(token, b"{}\n").status_code == 403


def test_status_of_another_sources_message_is_404(token, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        message = push(token, b"{}\n").json()["message"]
    client = Client(headers={"Authorization": f"Bearer {token}"})

    assert client.get(f"/ingest/clinic-p/messages/{message}").json()["status"] == "received"
    assert client.get(f"/ingest/clinic-p/messages/{message + 1}").status_code == 404
