"""The FHIR API over real HTTP through gunicorn (what production runs)."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import FHIR_JSON, patient

pytestmark = pytest.mark.e2e


def test_create_read_update_history_over_http(gunicorn_url, bearer):
    session = requests.Session()
    session.headers.update({"Content-Type": FHIR_JSON, **bearer})

    created = session.post(f"{gunicorn_url}/fhir/Patient", data=json.dumps(patient()))
    assert created.status_code == 201
    location = created.headers["Location"]
    assert location.startswith(f"{gunicorn_url}/fhir/Patient/")
    resource = created.json()

    read = session.get(location.split("/_history")[0])
    assert read.json() == resource
    assert read.headers["ETag"] == 'W/"1"'

    updated = session.put(read.url, data=json.dumps({**resource, "gender": "male"}), headers={"If-Match": 'W/"1"'})
    assert updated.status_code == 200
    history = session.get(f"{read.url}/_history").json()
    assert len(history["entry"]) == 2


def test_oversized_body_is_refused_before_it_is_read(gunicorn_url, bearer):
    body = json.dumps(patient(text={"status": "generated", "div": "<div>" + "x" * 200_000 + "</div>"}))

    response = requests.post(f"{gunicorn_url}/fhir/Patient", data=body, headers={"Content-Type": FHIR_JSON, **bearer})

    assert response.status_code == 413
    assert response.json()["resourceType"] == "OperationOutcome"


def test_oversized_chunked_body_is_refused(gunicorn_url, bearer):
    """No Content-Length: the parser stops reading at the limit."""
    parts = urlsplit(gunicorn_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    body = json.dumps(patient(text={"status": "generated", "div": "<div>" + "x" * 200_000 + "</div>"})).encode()
    chunks = (body[index : index + 8192] for index in range(0, len(body), 8192))

    headers = {"Content-Type": FHIR_JSON, **bearer}
    connection.request("POST", "/fhir/Patient", body=chunks, headers=headers, encode_chunked=True)
    response = connection.getresponse()

    assert response.status == 413
    assert json.loads(response.read())["resourceType"] == "OperationOutcome"


def test_chunked_body_within_the_limit_is_read(gunicorn_url, bearer):
    parts = urlsplit(gunicorn_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    body = json.dumps(patient()).encode()

    connection.request(
        "POST",
        "/fhir/Patient",
        body=iter([body[:20], body[20:]]),
        headers={"Content-Type": FHIR_JSON, **bearer},
        encode_chunked=True,
    )
    response = connection.getresponse()

    assert response.status == 201
    assert json.loads(response.read())["name"] == patient()["name"]


def test_version_beyond_any_stored_is_404(gunicorn_url, bearer):
    response = requests.get(f"{gunicorn_url}/fhir/Patient/x/_history/99999999999999999999", headers=bearer)

    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
