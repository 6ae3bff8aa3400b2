"""Break-the-glass: a clinician's declared emergency passes a person's deny, for that clinician, for a time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from consent.contracts import AccessContext, AccessKind, Purpose
from consent.facade import break_glass_active
from consent.models import AuditRecord, BreakGlass
from tests.conftest import FhirClient
from tests.consent.consents import clinician_token, consent, welfare_token

DOCTOR = "https://idp|doc-b"


def _declare(client: FhirClient, patient: str, body: dict[str, Any]) -> Any:
    return client.post(f"/fhir/Patient/{patient}/$break-the-glass", body)


def _parameters(**values: Any) -> dict[str, Any]:
    kinds = {"reason": "valueString", "hours": "valueInteger"}
    return {"resourceType": "Parameters", "parameter": [{"name": k, kinds[k]: v} for k, v in values.items()]}


def _store_denied_person(fhir: FhirClient) -> None:
    fhir.put("/fhir/Patient/p1", {"resourceType": "Patient", "id": "p1"})
    observation = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"text": "pulse"},
        "subject": {"reference": "Patient/p1"},
    }
    fhir.put("/fhir/Observation/o1", observation)
    assert fhir.post("/fhir/Consent", consent("p1", {"type": "deny"})).status_code == 201


def test_a_declared_emergency_passes_the_deny_for_the_declaring_clinician_only(fhir: FhirClient) -> None:
    _store_denied_person(fhir)
    doctor = FhirClient(clinician_token("Organization/hosp-b", "Practitioner/doc-b", subject=DOCTOR))
    colleague = FhirClient(clinician_token("Organization/hosp-b", "Practitioner/doc-c", subject="https://idp|doc-c"))
    assert doctor.get("/fhir/Observation/o1").status_code == 404

    answer = _declare(doctor, "p1", _parameters(reason="unconscious in the emergency room", hours=2))

    assert answer.status_code == 200, answer.content
    values = {parameter["name"]: parameter for parameter in answer.json()["parameter"]}
    assert values["patient"]["valueReference"] == {"reference": "Patient/p1"}
    assert doctor.get("/fhir/Observation/o1").status_code == 200
    assert doctor.get("/fhir/Observation?subject=Patient/p1").json()["total"] == 1
    assert colleague.get("/fhir/Observation/o1").status_code == 404
    [active] = break_glass_active(subject=DOCTOR)
    assert (active.patient, active.reason, active.practitioner) == (
        "p1",
        "unconscious in the emergency room",
        "Practitioner/doc-b",
    )
    assert active.expires_at - active.declared_at == timedelta(hours=2)


def test_an_expired_declaration_no_longer_passes(fhir: FhirClient) -> None:
    _store_denied_person(fhir)
    doctor = FhirClient(clinician_token("Organization/hosp-b", "Practitioner/doc-b", subject=DOCTOR))
    assert _declare(doctor, "p1", _parameters(reason="cardiac arrest")).status_code == 200
    declared = BreakGlass.objects.get()
    assert declared.expires_at - declared.declared_at == timedelta(hours=24)  # the default (BREAK_GLASS_HOURS)
    BreakGlass.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert doctor.get("/fhir/Observation/o1").status_code == 404
    assert break_glass_active(subject=DOCTOR) == []


def test_a_declaration_needs_a_reason_a_known_patient_a_clinician_and_a_short_time(fhir: FhirClient) -> None:
    _store_denied_person(fhir)
    doctor = FhirClient(clinician_token("Organization/hosp-b", "Practitioner/doc-b", subject=DOCTOR))
    for body, status in (
        (_parameters(reason="  "), 400),
        (_parameters(), 400),
        (_parameters(reason="x", hours=25), 400),
        (_parameters(reason="x", hours=0), 400),
        ({"resourceType": "Parameters", "parameter": [{"name": "minutes", "valueInteger": 5}]}, 400),
        ({"resourceType": "Patient"}, 400),
    ):
        answer = _declare(doctor, "p1", body)
        assert answer.status_code == status, (body, answer.content)
        assert answer.json()["resourceType"] == "OperationOutcome"
    assert _declare(doctor, "nobody", _parameters(reason="x")).status_code == 404
    assert _declare(fhir, "p1", _parameters(reason="a back office is no clinician")).status_code == 403
    welfare = FhirClient(welfare_token("229990"))
    assert _declare(welfare, "p1", _parameters(reason="a welfare officer is no clinician")).status_code == 403
    assert not BreakGlass.objects.exists()


def test_the_capability_statement_lists_the_operation(fhir: FhirClient) -> None:
    patient = next(r for r in fhir.get("/fhir/metadata").json()["rest"][0]["resource"] if r["type"] == "Patient")
    assert {
        "name": "break-the-glass",
        "definition": "https://tsunagi.example.jp/fhir/OperationDefinition/Patient-break-the-glass",
    } in patient["operation"]


def test_the_access_context_of_a_clinician_token_is_kept_server_side(fhir: FhirClient) -> None:
    from oauth2_provider.models import AccessToken

    from consent.facade import access_for_token

    token = clinician_token("Organization/hosp-b", "Practitioner/doc-b", subject=DOCTOR)
    access = access_for_token(AccessToken.objects.get(token=token))
    assert isinstance(access, AccessContext)
    assert (access.kind, access.purpose, access.practitioner) == (
        AccessKind.USER,
        Purpose.TREATMENT,
        "Practitioner/doc-b",
    )


def test_the_person_sees_an_emergency_read_in_their_trail_with_its_reason(fhir: FhirClient) -> None:
    _store_denied_person(fhir)
    doctor = FhirClient(clinician_token("Organization/hosp-b", "Practitioner/doc-b", subject=DOCTOR))
    colleague = FhirClient(clinician_token("Organization/hosp-b", "Practitioner/doc-c", subject="https://idp|doc-c"))
    _declare(doctor, "p1", _parameters(reason="unconscious in the emergency room"))
    doctor.get("/fhir/Observation/o1")
    colleague.get("/fhir/Patient/p1")

    trail = AuditRecord.objects.filter(patients__contains=["p1"], category="rest").order_by("pk")
    by_subject = [(row.subject, row.subtype, row.status, row.purpose, row.reason) for row in trail if row.subject]
    emergency = (Purpose.EMERGENCY_TREATMENT.value, "unconscious in the emergency room")
    assert by_subject == [
        (DOCTOR, "$break-the-glass", 200, *emergency),
        (DOCTOR, "read", 200, *emergency),
        ("https://idp|doc-c", "read", 404, Purpose.TREATMENT.value, "fhir-api"),  # the colleague's refused try
    ]
