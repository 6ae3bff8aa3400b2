"""Consents in the store: refused when the policy cannot read them, compiled into rules when written, changed or
deleted, following the person as identity links change, and the base policy where nobody said anything."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from consent.contracts import Purpose
from consent.models import ConsentRule
from tests.conftest import FhirClient
from tests.consent.consents import actor, clinician_token, consent, purpose
from tests.federation.identity.stored import HOSPITAL, PHARMACY, patient, source_patient, store, store_and_link

ROLE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]}


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        (
            {
                "scope": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}]
                }
            },
            "Consent.scope",
        ),
        ({"patient": {"reference": "Group/g1"}}, "Consent.patient"),
        ({"dateTime": None}, "Consent.dateTime"),
        (
            {"provision": {"type": "permit", "actor": [{"role": ROLE, "reference": {"reference": "Device/d1"}}]}},
            "Consent.provision.actor",
        ),
        (
            {
                "provision": {
                    "type": "permit",
                    "actor": [{"role": ROLE, "reference": {"identifier": {"system": "urn:x", "value": "1"}}}],
                }
            },
            "Consent.provision.actor",
        ),
        (
            {"provision": {"type": "permit", "purpose": [{"system": "urn:x", "code": "MARKETING"}]}},
            "Consent.provision.purpose",
        ),
        ({"provision": {"type": "permit", "class": [{"system": "urn:x", "code": "labs"}]}}, "Consent.provision.class"),
        (
            {
                "provision": {
                    "type": "permit",
                    "data": [{"meaning": "instance", "reference": {"reference": "Observation/o1"}}],
                }
            },
            "Consent.provision",
        ),
        ({"provision": {"type": "permit", "action": [{"text": "collect"}]}}, "Consent.provision"),
        ({"provision": {"provision": [{"type": "deny"}]}}, "Consent.provision.type"),
        (
            {
                "provision": {
                    "type": "permit",
                    "actor": [actor("Organization/a")],
                    "provision": [{"type": "deny", "actor": [actor("Practitioner/b")]}],
                }
            },
            "Consent.provision.provision[0].actor",
        ),
        ({"provision": {"type": "deny", "dataPeriod": {"start": "next week"}}}, "Consent.provision.dataPeriod.start"),
    ],
)
def test_a_consent_the_policy_cannot_read_is_refused_at_write(
    fhir: FhirClient, change: dict[str, Any], expression: str
) -> None:
    given = {key: value for key, value in {**consent("p1", {"type": "deny"}), **change}.items() if value is not None}
    answer = fhir.post("/fhir/Consent", given)
    assert answer.status_code == 400, answer.content
    [issue] = answer.json()["issue"]
    assert issue["expression"] == [expression]
    assert fhir.get("/fhir/Consent?_total=accurate").json()["total"] == 0


def _observation(logical_id: str, subject: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": logical_id,
        "status": "final",
        "code": {"text": "pulse"},
        "subject": {"reference": f"Patient/{subject}"},
    }


def test_rules_follow_the_consent_as_it_is_changed_and_deleted(fhir: FhirClient) -> None:
    fhir.put("/fhir/Patient/p1", {"resourceType": "Patient", "id": "p1"})
    fhir.put("/fhir/Observation/o1", _observation("o1", "p1"))
    doctor = FhirClient(clinician_token("Organization/hosp-a", "Practitioner/doc-a"))
    given = {**consent("p1", {"type": "deny"}), "id": "c1"}
    assert fhir.put("/fhir/Consent/c1", given).status_code == 201
    assert doctor.get("/fhir/Observation/o1").status_code == 404
    fhir.put("/fhir/Consent/c1", {**given, "status": "rejected"})
    assert doctor.get("/fhir/Observation/o1").status_code == 200
    fhir.put("/fhir/Consent/c1", given)
    assert doctor.get("/fhir/Observation/o1").status_code == 404
    assert fhir.delete("/fhir/Consent/c1").status_code in (200, 204)
    assert doctor.get("/fhir/Observation/o1").status_code == 200
    assert not ConsentRule.objects.exists()


def test_a_consent_covers_every_record_of_the_person_even_those_linked_later(fhir: FhirClient) -> None:
    store_and_link(patient(HOSPITAL, "1", member_id="00229989:つ２６:0000075:00"))
    hospital = source_patient(HOSPITAL, "1").logical_id
    fhir.put("/fhir/Observation/o1", _observation("o1", hospital))
    assert fhir.post("/fhir/Consent", consent(hospital, {"type": "deny"})).status_code == 201
    doctor = FhirClient(clinician_token("Organization/hosp-a", "Practitioner/doc-a"))
    assert doctor.get("/fhir/Observation/o1").status_code == 404

    store(
        patient(PHARMACY, "P-1", kana="ツナギ ハナ", address=None, phone=None, member_id="00229989:つ２６:0000075:00")
    )
    pharmacy = source_patient(PHARMACY, "P-1").logical_id
    fhir.put("/fhir/Observation/o2", _observation("o2", pharmacy))
    assert doctor.get("/fhir/Observation/o2").status_code == 200  # not yet known to be the same person
    store_and_link()

    assert doctor.get("/fhir/Observation/o2").status_code == 404
    assert doctor.get(f"/fhir/Patient/{pharmacy}").status_code == 404
    assert doctor.get("/fhir/Observation?_total=accurate").json()["total"] == 0


@override_settings(CONSENT_BASE_POLICY="opt-in")
def test_under_opt_in_only_what_a_person_permitted_is_shared(fhir: FhirClient) -> None:
    for name in ("p1", "p2"):
        fhir.put(f"/fhir/Patient/{name}", {"resourceType": "Patient", "id": name})
        fhir.put(f"/fhir/Observation/o-{name}", _observation(f"o-{name}", name))
    permit = {"type": "permit", "actor": [actor("Organization/hosp-a")], "purpose": [purpose(Purpose.TREATMENT)]}
    assert fhir.post("/fhir/Consent", consent("p1", permit)).status_code == 201
    hospital_a = FhirClient(clinician_token("Organization/hosp-a", "Practitioner/doc-a"))
    hospital_b = FhirClient(clinician_token("Organization/hosp-b", "Practitioner/doc-b"))
    bundle = hospital_a.get("/fhir/Observation?_total=accurate").json()
    assert (bundle["total"], [e["resource"]["id"] for e in bundle["entry"]]) == (1, ["o-p1"])
    assert hospital_b.get("/fhir/Observation?_total=accurate").json()["total"] == 0
    assert hospital_b.get("/fhir/Patient/p1").status_code == 404


def test_within_a_request_the_rule_queue_is_probed_once_and_again_after_a_consent_is_written(
    fhir: FhirClient, django_assert_num_queries: Any
) -> None:
    from consent.contracts import AccessContext, AccessKind
    from consent.facade import access_filter
    from consent.rules import request_began, request_ended
    from federation.models import Resource
    from federation.storage.services import resource_create

    fhir.put("/fhir/Patient/p1", {"resourceType": "Patient", "id": "p1"})
    clinician = AccessContext(
        kind=AccessKind.USER, purpose=Purpose.TREATMENT, organization="Organization/hosp-a", emergency=()
    )
    request_began()
    try:
        assert access_filter(clinician, Resource.objects.filter(resource_type="Patient")).count() == 1  # probed
        with django_assert_num_queries(1):  # the count alone: probed already in this request
            assert access_filter(clinician, Resource.objects.filter(resource_type="Patient")).count() == 1
        resource_create(access=AccessContext.system("test"), resource=consent("p1", {"type": "deny"}))
        assert access_filter(clinician, Resource.objects.filter(resource_type="Patient")).count() == 0
    finally:
        request_ended()
