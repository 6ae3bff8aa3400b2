"""Patient/$match: scored persons with the match grade, onlyCertainMatches, count, and clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from federation.models import PersonRecord
from tests.federation.identity.stored import HOSPITAL, PHARMACY, patient, source_patient, store_and_link

pytestmark = pytest.mark.django_db
MATCH_GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"


def parameters(resource: dict[str, Any], **more: object) -> dict[str, Any]:
    extra = [
        {"name": name, "valueBoolean" if isinstance(value, bool) else "valueInteger": value}
        for name, value in more.items()
    ]
    return {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": resource}, *extra]}


def golden_id(system: str, number: str) -> str:
    return PersonRecord.objects.get(patient=source_patient(system, number)).person.golden


def grades(bundle: dict[str, Any]) -> dict[str, str]:
    return {entry["resource"]["id"]: entry["search"]["extension"][0]["valueCode"] for entry in bundle.get("entry", [])}


def test_match_answers_the_person_graded_and_scored(fhir):
    store_and_link(patient(HOSPITAL, "1"), patient(PHARMACY, "P-1"))
    store_and_link(patient(HOSPITAL, "2", kanji="綱木 桃子", kana="ツナギ モモコ", birth="1970-01-01"))
    query = patient("urn:example:desk", "x", kanji="綱木 花子", kana="ツナギ ハナコ")
    response = fhir.post("/fhir/Patient/$match", parameters(query))
    assert response.status_code == 200
    bundle = response.json()
    assert bundle["type"] == "searchset"
    assert grades(bundle) == {golden_id(HOSPITAL, "1"): "certain"}
    entry = bundle["entry"][0]
    assert entry["search"]["mode"] == "match"
    assert 0.9 < entry["search"]["score"] <= 1
    assert entry["resource"]["link"]  # the golden record, with its sources


def test_only_certain_matches_leaves_out_probable_ones(fhir):
    store_and_link(patient(HOSPITAL, "1", address=None, phone=None))
    thin = patient("urn:example:desk", "x", birth="1942-05-18", address=None, phone=None)
    everything = fhir.post("/fhir/Patient/$match", parameters(thin)).json()
    assert set(grades(everything).values()) <= {"probable", "possible"}
    assert grades(everything)
    certain = fhir.post("/fhir/Patient/$match", parameters(thin, onlyCertainMatches=True)).json()
    assert certain["total"] == 0
    assert not certain.get("entry")


def test_count_limits_the_answer(fhir):
    for number, birth in (("1", "1942-05-17"), ("2", "1942-05-18"), ("3", "1942-05-27")):
        store_and_link(patient(HOSPITAL, number, birth=birth, address=None, phone=None))
    query = patient("urn:example:desk", "x", birth="1942-05-17", address=None, phone=None)
    assert len(fhir.post("/fhir/Patient/$match", parameters(query, count=1)).json()["entry"]) == 1


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"resourceType": "Patient"}, "Parameters"),
        ({"resourceType": "Parameters", "parameter": []}, "'resource'"),
        (
            {
                "resourceType": "Parameters",
                "parameter": [{"name": "resource", "resource": {"resourceType": "Observation"}}],
            },
            "Observation",
        ),
        (parameters(patient("urn:example:desk", "x"), count=0), "count"),
        ({"resourceType": "Parameters", "parameter": [{"name": "limit", "valueInteger": 3}]}, "limit"),
    ],
)
def test_a_bad_match_request_gets_an_operation_outcome(fhir, body, says):
    response = fhir.post("/fhir/Patient/$match", body)
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert says in outcome["issue"][0]["diagnostics"]


def test_the_capability_statement_declares_match_on_patient(fhir):
    statement = fhir.get("/fhir/metadata").json()
    patient_capability = next(item for item in statement["rest"][0]["resource"] if item["type"] == "Patient")
    assert {"name": "match", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-match"} in (
        patient_capability["operation"]
    )
