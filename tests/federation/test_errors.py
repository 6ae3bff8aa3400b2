"""Every error answers with an OperationOutcome and a fitting status, and writes nothing."""

from __future__ import annotations

import json

import pytest

from federation.models import Resource, ResourceVersion
from tests.conftest import issue_texts, patient


@pytest.fixture
def nothing_written(db):
    """Assert the request under test left no resource and no version behind."""
    before = (Resource.objects.count(), ResourceVersion.objects.count())
    yield
    assert (Resource.objects.count(), ResourceVersion.objects.count()) == before


def test_malformed_json_is_400_with_position(fhir, nothing_written):
    response = fhir.post("/fhir/Patient", '{"resourceType": "Patient",')

    assert response.status_code == 400
    assert "Malformed JSON" in issue_texts(response)[0]
    assert "line 1" in issue_texts(response)[0]


def test_empty_body_is_400(fhir, nothing_written):
    response = fhir.post("/fhir/Patient", "")

    assert response.status_code == 400
    assert "empty" in issue_texts(response)[0]


def test_body_that_is_not_an_object_is_400(fhir, nothing_written):
    assert fhir.post("/fhir/Patient", "[1, 2]").status_code == 400


def test_invalid_resource_lists_every_problem_with_its_location(fhir, nothing_written):
    body = patient(birthDate="1941-13-45", name=[{"given": "花子"}], favouriteColour="blue")

    response = fhir.post("/fhir/Patient", body)

    assert response.status_code == 400
    issues = response.json()["issue"]
    locations = sorted(expression for issue in issues for expression in issue["expression"])
    assert locations == ["Patient.birthDate", "Patient.favouriteColour", "Patient.name[0].given"]
    assert all(issue["severity"] == "error" and issue["code"] == "structure" for issue in issues)


def test_missing_resource_type_is_400(fhir, nothing_written):
    response = fhir.post("/fhir/Patient", {"gender": "male"})

    assert response.status_code == 400
    assert "resourceType" in issue_texts(response)[0]


def test_body_type_differing_from_url_type_is_400(fhir, nothing_written):
    response = fhir.post("/fhir/Observation", patient())

    assert response.status_code == 400
    assert "URL names Observation" in issue_texts(response)[0]


def test_id_in_url_differing_from_body_is_400(fhir, nothing_written):
    response = fhir.put("/fhir/Patient/abc", patient(id="xyz"))

    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Patient.id"]


def test_update_without_id_in_body_is_400(fhir, nothing_written):
    assert fhir.put("/fhir/Patient/abc", patient()).status_code == 400


def test_invalid_id_is_400(fhir, nothing_written):
    long_id = "x" * 65
    assert fhir.put(f"/fhir/Patient/{long_id}", patient(id=long_id)).status_code == 400
    assert fhir.put("/fhir/Patient/a_b", patient(id="a_b")).status_code == 400


@pytest.mark.parametrize("path", ["/fhir/Unicorn", "/fhir/Unicorn/1", "/fhir/MedicinalProduct/1"])
def test_unknown_resource_type_is_404(fhir, path, nothing_written):
    response = fhir.get(path) if path.count("/") > 2 else fhir.post(path, {"resourceType": "Unicorn"})

    assert response.status_code == 404
    assert "Unknown resource type" in issue_texts(response)[0]


def test_unknown_route_is_404_operation_outcome(fhir):
    response = fhir.get("/fhir/patient/1/everything/else")

    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_unsupported_media_type_is_415(fhir, nothing_written):
    response = fhir.post("/fhir/Patient", json.dumps(patient()), content_type="application/xml")

    assert response.status_code == 415
    assert response.json()["resourceType"] == "OperationOutcome"


def test_plain_application_json_is_accepted(fhir):
    response = fhir.post("/fhir/Patient", patient(), content_type="application/json")

    assert response.status_code == 201


def test_body_over_the_limit_is_413(fhir, settings, nothing_written):
    settings.FHIR_MAX_BODY_BYTES = 1000
    big = patient(text={"status": "generated", "div": "<div>" + "あ" * 2000 + "</div>"})

    response = fhir.post("/fhir/Patient", big)

    assert response.status_code == 413
    assert "1000 bytes" in issue_texts(response)[0]


def test_method_not_allowed_is_405_with_allow_header(fhir):
    response = fhir.request("PATCH", "/fhir/Patient/abc", "{}")

    assert response.status_code == 405
    assert response["Allow"] == "DELETE, GET, PUT"
    assert response.json()["resourceType"] == "OperationOutcome"


def test_xml_format_is_not_acceptable(fhir):
    assert fhir.get("/fhir/metadata?_format=xml").status_code == 406
    assert fhir.get("/fhir/metadata", headers={"Accept": "application/fhir+xml"}).status_code == 406


def test_bad_history_parameters_are_400(fhir):
    assert fhir.get("/fhir/_history?_count=ten").status_code == 400
    assert fhir.get("/fhir/_history?_since=yesterday").status_code == 400
    assert fhir.get("/fhir/_history?_since=2026-01-01T00:00:00").status_code == 400
    assert fhir.get("/fhir/_history?_page_token=garbage").status_code == 400
