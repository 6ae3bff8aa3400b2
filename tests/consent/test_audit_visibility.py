"""Who reads which audit events: a person those about any of their records, staff their own actions, the
platform and system clients everything; and sign-ins are audited whether they succeed or not."""

from __future__ import annotations

import pytest
import requests
from django.test import RequestFactory

from accounts.oidc import AccountBackend
from consent.contracts import AccessContext, AccessKind, AuditCategory, AuditCriteria, AuditEntry, Purpose
from consent.facade import audit_event_read, audit_events_search, audit_record
from consent.models import AuditRecord
from federation.identity.persons import person_of_patient
from federation.models import PersonRecord
from tests.conftest import FhirClient
from tests.consent.consents import patient_token
from tests.e2e.conftest import free_port
from tests.federation.identity.stored import HOSPITAL, PHARMACY, patient, source_patient, store_and_link

pytestmark = pytest.mark.django_db

DOCTOR = "https://idp.example.jp/o|dr-sato"


def event_about(patient_id: str, *, subject: str | None = None) -> int:
    access = AccessContext(kind=AccessKind.USER, purpose=Purpose.TREATMENT, subject=subject) if subject else None
    entry = AuditEntry(
        category=AuditCategory.REST, subtype="read", action="R", status=200, access=access, patients=(patient_id,)
    )
    return audit_record(entry=entry).pk


def visible(access: AccessContext, criteria: AuditCriteria | None = None) -> set[int]:
    page = audit_events_search(access=access, criteria=criteria or AuditCriteria())
    return {int(event["id"]) for event in page.events}


@pytest.fixture
def people() -> dict[str, str]:
    """Hanako, known to a hospital and a pharmacy (one person, a golden record), and Jiro, known to the hospital."""
    store_and_link(
        patient(HOSPITAL, "0000000001"),
        patient(PHARMACY, "P-1"),
        patient(HOSPITAL, "0000000002", kanji="鈴木 次郎", kana="スズキ ジロウ", birth="1950-01-01", gender="male"),
    )
    hospital, pharmacy = source_patient(HOSPITAL, "0000000001"), source_patient(PHARMACY, "P-1")
    jiro = source_patient(HOSPITAL, "0000000002")
    golden = PersonRecord.objects.get(patient=hospital).person.golden
    assert PersonRecord.objects.get(patient=pharmacy).person.golden == golden
    return {"golden": golden, "hospital": hospital.logical_id, "pharmacy": pharmacy.logical_id, "jiro": jiro.logical_id}


def test_a_person_sees_the_events_about_every_record_of_theirs_and_no_one_elses(people):
    about_hospital = event_about(people["hospital"], subject=DOCTOR)
    about_pharmacy = event_about(people["pharmacy"])
    about_jiro = event_about(people["jiro"], subject=DOCTOR)
    hanako = AccessContext(kind=AccessKind.PATIENT, purpose=Purpose.PERSONAL, patient=people["golden"])

    assert visible(hanako) == {about_hospital, about_pharmacy}
    assert audit_event_read(access=hanako, event_id=about_jiro) is None
    jiro = AccessContext(kind=AccessKind.PATIENT, purpose=Purpose.PERSONAL, patient=people["jiro"])
    assert visible(jiro) == {about_jiro}
    pinned_to_no_one = AccessContext(kind=AccessKind.PATIENT, purpose=Purpose.PERSONAL, patient=None)
    assert visible(pinned_to_no_one) == set()


def test_a_token_pinned_to_a_source_record_sees_the_events_of_its_whole_person(people):
    """Consent lets such a token see every record of the person; the trail about them is no different."""
    about_golden = event_about(people["golden"], subject=DOCTOR)
    about_pharmacy = event_about(people["pharmacy"])
    event_about(people["jiro"], subject=DOCTOR)

    bundle = FhirClient(patient_token(people["hospital"])).get("/fhir/AuditEvent").json()

    assert {int(entry["resource"]["id"]) for entry in bundle["entry"]} == {about_golden, about_pharmacy}


def test_staff_see_their_own_actions_and_system_contexts_see_all(people):
    mine = {event_about(people["hospital"], subject=DOCTOR), event_about(people["jiro"], subject=DOCTOR)}
    others = event_about(people["jiro"], subject="https://idp.example.jp/o|dr-kato")
    doctor = AccessContext(kind=AccessKind.USER, purpose=Purpose.TREATMENT, subject=DOCTOR)

    assert visible(doctor) == mine
    assert visible(AccessContext(kind=AccessKind.USER, purpose=Purpose.TREATMENT)) == set()
    assert visible(AccessContext.system(reason="test")) == mine | {others}


def test_the_patient_parameter_finds_events_about_the_whole_person(people):
    about_pharmacy = event_about(people["pharmacy"])
    event_about(people["jiro"])

    criteria = AuditCriteria(patients=tuple(person_of_patient(people["golden"])))
    assert visible(AccessContext.system(reason="test"), criteria) == {about_pharmacy}


def test_a_failed_sign_in_is_audited_before_the_error_goes_on(settings):
    settings.OIDC_OP_TOKEN_ENDPOINT = f"http://127.0.0.1:{free_port()}/token/"  # no provider answers there
    request = RequestFactory().get("/oidc/callback/", {"code": "c0de", "state": "st4te"}, REMOTE_ADDR="192.0.2.7")

    with pytest.raises(requests.ConnectionError):
        AccountBackend().authenticate(request, nonce="n", code_verifier="v")

    (event,) = AuditRecord.objects.all()
    assert (event.category, event.subtype, event.status, event.network) == ("login", "login", 401, "192.0.2.7")
    assert event.outcome_text == "sign-in refused: ConnectionError"


def test_other_authentications_are_not_sign_ins():
    assert AccountBackend().authenticate(RequestFactory().get("/"), username="x", password="y") is None
    assert not AuditRecord.objects.exists()
