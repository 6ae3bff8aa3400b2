"""create, read, vread, update, delete through the REST API, with their headers."""

from __future__ import annotations

from tests.conftest import FHIR_JSON, issue_texts, patient


def test_create_assigns_id_version_and_headers(fhir):
    response = fhir.post("/fhir/Patient", patient(id="client-chosen"))

    assert response.status_code == 201
    body = response.json()
    assert body["id"] != "client-chosen"
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("Z")
    assert response["ETag"] == 'W/"1"'
    assert response["Location"] == f"http://testserver/fhir/Patient/{body['id']}/_history/1"
    assert "GMT" in response["Last-Modified"]
    assert response["Content-Type"].startswith(FHIR_JSON)


def test_read_returns_what_was_stored(fhir):
    created = fhir.post("/fhir/Patient", patient()).json()

    response = fhir.get(f"/fhir/Patient/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created
    assert response["ETag"] == 'W/"1"'


def test_update_makes_a_new_version_and_vread_reads_old_ones(fhir):
    created = fhir.post("/fhir/Patient", patient()).json()
    changed = {**created, "gender": "other"}

    response = fhir.put(f"/fhir/Patient/{created['id']}", changed)

    assert response.status_code == 200
    assert response.json()["meta"]["versionId"] == "2"
    assert response["ETag"] == 'W/"2"'
    first = fhir.get(f"/fhir/Patient/{created['id']}/_history/1").json()
    assert first["gender"] == "female"
    assert fhir.get(f"/fhir/Patient/{created['id']}/_history/2").json()["gender"] == "other"
    assert fhir.get(f"/fhir/Patient/{created['id']}/_history/3").status_code == 404


def test_update_with_identical_content_creates_no_version(fhir):
    created = fhir.post("/fhir/Patient", patient()).json()
    resent = {**created, "meta": {"versionId": "99", "lastUpdated": "2000-01-01T00:00:00Z"}}

    response = fhir.put(f"/fhir/Patient/{created['id']}", resent)

    assert response.status_code == 200
    assert response["ETag"] == 'W/"1"'
    history = fhir.get(f"/fhir/Patient/{created['id']}/_history").json()
    assert len(history["entry"]) == 1


def test_update_as_create_uses_the_client_id(fhir):
    response = fhir.put("/fhir/Patient/tsunagi-001", patient(id="tsunagi-001"))

    assert response.status_code == 201
    assert response["Location"].endswith("/fhir/Patient/tsunagi-001/_history/1")
    assert fhir.get("/fhir/Patient/tsunagi-001").json()["id"] == "tsunagi-001"


def test_if_match_guards_against_lost_updates(fhir):
    created = fhir.post("/fhir/Patient", patient()).json()
    url = f"/fhir/Patient/{created['id']}"

    stale = fhir.put(url, {**created, "gender": "male"}, headers={"If-Match": 'W/"7"'})
    current = fhir.put(url, {**created, "gender": "male"}, headers={"If-Match": 'W/"1"'})
    malformed = fhir.put(url, {**created, "gender": "other"}, headers={"If-Match": "yesterday"})

    assert stale.status_code == 412
    assert "current version is 1" in issue_texts(stale)[0]
    assert current.status_code == 200
    assert malformed.status_code == 400


def test_delete_is_soft_and_read_answers_gone(fhir):
    created = fhir.post("/fhir/Patient", patient()).json()
    url = f"/fhir/Patient/{created['id']}"

    deleted = fhir.delete(url)

    assert deleted.status_code == 204
    assert deleted["ETag"] == 'W/"2"'
    assert fhir.get(url).status_code == 410
    assert fhir.get(f"{url}/_history/2").status_code == 410
    assert fhir.get(f"{url}/_history/1").json()["id"] == created["id"]
    history = fhir.get(f"{url}/_history").json()
    assert [entry["request"]["method"] for entry in history["entry"]] == ["DELETE", "POST"]
    assert "resource" not in history["entry"][0]


def test_delete_twice_and_delete_unknown_are_harmless(fhir):
    created = fhir.post("/fhir/Patient", patient()).json()
    url = f"/fhir/Patient/{created['id']}"

    assert fhir.delete(url).status_code == 204
    again = fhir.delete(url)
    assert again.status_code == 204
    assert again["ETag"] == 'W/"2"'
    assert fhir.delete("/fhir/Patient/never-was").status_code == 204


def test_put_after_delete_brings_the_resource_back_as_a_new_version(fhir):
    created = fhir.post("/fhir/Patient", patient()).json()
    url = f"/fhir/Patient/{created['id']}"
    fhir.delete(url)

    response = fhir.put(url, created)

    assert response.status_code == 200
    assert response.json()["meta"]["versionId"] == "3"
    assert fhir.get(url).status_code == 200


def test_prefer_return_minimal_and_operation_outcome(fhir):
    minimal = fhir.post("/fhir/Patient", patient(), headers={"Prefer": "return=minimal"})
    outcome = fhir.post("/fhir/Patient", patient(), headers={"Prefer": "return=OperationOutcome"})

    assert minimal.status_code == 201
    assert minimal.content == b""
    assert minimal["Location"]
    assert outcome.json()["resourceType"] == "OperationOutcome"
    assert outcome.json()["issue"][0]["severity"] == "information"


def test_delete_with_prefer_operation_outcome_answers_200(fhir):
    created = fhir.post("/fhir/Patient", patient()).json()

    response = fhir.delete(f"/fhir/Patient/{created['id']}", headers={"Prefer": "return=OperationOutcome"})

    assert response.status_code == 200
    assert "deleted" in response.json()["issue"][0]["diagnostics"]


def test_japanese_text_is_stored_and_served_as_utf8(fhir):
    created = fhir.post("/fhir/Patient", patient(name=[{"family": "髙橋", "given": ["﨑子"]}])).json()

    raw = fhir.get(f"/fhir/Patient/{created['id']}").content.decode("utf-8")

    assert "髙橋" in raw
    assert "﨑子" in raw
