"""A data steward's decisions: link and reject from the review queue, merge and unmerge, each audited, and
compartments following at once."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User

from core.outcome import FhirError
from federation.identity.steward import person_merge, person_unmerge, review_link, review_reject
from federation.models import IdentityAction, IdentityDecision, MatchReview, PersonRecord, ReviewStatus
from tests.federation.identity.stored import HOSPITAL, PHARMACY, patient, source_patient, store, store_and_link

pytestmark = pytest.mark.django_db


def observation(subject: str, number: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "https://tsunagi.example.jp/fhir/IdSystem/test-observation", "value": number}],
        "status": "final",
        "code": {"text": "体重"},
        "subject": {"reference": f"Patient/{subject}"},
        "valueQuantity": {"value": 50, "unit": "kg"},
    }


def two_persons() -> tuple[str, str]:
    """Two persons that are one in truth (the pharmacy's record is too thin to link), each with an Observation."""
    store_and_link(patient(HOSPITAL, "1", address=None, phone=None))
    store_and_link(patient(PHARMACY, "P-1", birth="1942-05-18", address=None, phone=None))
    hospital, pharmacy = source_patient(HOSPITAL, "1").logical_id, source_patient(PHARMACY, "P-1").logical_id
    store(observation(hospital, "o-1"), observation(pharmacy, "o-2"))
    return hospital, pharmacy


def person_pk(patient_id: str) -> int:
    return PersonRecord.objects.get(patient__logical_id=patient_id).person_id


def golden_id(patient_id: str) -> str:
    return PersonRecord.objects.get(patient__logical_id=patient_id).person.golden


def compartment_observations(fhir, golden: str) -> set[str]:
    bundle = fhir.get(f"/fhir/Patient/{golden}/Observation").json()
    return {entry["resource"]["identifier"][0]["value"] for entry in bundle.get("entry", [])}


def test_linking_a_review_moves_the_record_and_the_compartment_follows(fhir):
    hospital, pharmacy = two_persons()
    assert compartment_observations(fhir, golden_id(hospital)) == {"o-1"}
    review = MatchReview.objects.get()
    decision = review_link(review_id=review.pk, actor="steward-1", reason="same card seen at the desk")
    assert person_pk(pharmacy) == person_pk(hospital)
    assert compartment_observations(fhir, golden_id(hospital)) == {"o-1", "o-2"}
    assert (decision.action, decision.actor, decision.reason) == (
        IdentityAction.STEWARD_LINK,
        "steward-1",
        "same card seen at the desk",
    )
    review.refresh_from_db()
    assert review.status == ReviewStatus.LINKED
    moved = source_patient(PHARMACY, "P-1").content
    assert [link["other"]["reference"] for link in moved["link"]] == [f"Patient/{golden_id(hospital)}"]


def test_rejecting_a_review_keeps_two_persons_and_it_cannot_be_decided_twice():
    two_persons()
    review = MatchReview.objects.get()
    review_reject(review_id=review.pk, actor="steward-1", reason="different people")
    review.refresh_from_db()
    assert review.status == ReviewStatus.REJECTED
    with pytest.raises(FhirError) as raised:
        review_link(review_id=review.pk, actor="steward-1")
    assert raised.value.status == 409


def test_merge_and_unmerge_round_trip(fhir):
    hospital, pharmacy = two_persons()
    survivor, merged = person_pk(hospital), person_pk(pharmacy)
    merged_golden = golden_id(pharmacy)
    merge = person_merge(merged_id=merged, survivor_id=survivor, actor="steward-1", reason="one person")
    assert person_pk(pharmacy) == survivor
    assert compartment_observations(fhir, golden_id(hospital)) == {"o-1", "o-2"}
    retired = fhir.get(f"/fhir/Patient/{merged_golden}").json()
    assert retired["active"] is False
    assert retired["link"] == [{"other": {"reference": f"Patient/{golden_id(hospital)}"}, "type": "replaced-by"}]

    unmerge = person_unmerge(merge_decision_id=merge.pk, actor="steward-2", reason="was wrong")
    assert person_pk(pharmacy) == merged
    assert compartment_observations(fhir, golden_id(hospital)) == {"o-1"}
    assert compartment_observations(fhir, merged_golden) == {"o-2"}
    assert fhir.get(f"/fhir/Patient/{merged_golden}").json()["active"] is True
    assert unmerge.detail["merge"] == merge.pk
    actions = list(IdentityDecision.objects.filter(actor__startswith="steward").values_list("action", flat=True))
    assert sorted(actions) == sorted([IdentityAction.MERGE, IdentityAction.UNMERGE])
    with pytest.raises(FhirError):
        person_unmerge(merge_decision_id=merge.pk, actor="steward-2")


def test_a_person_cannot_be_merged_into_itself_or_after_it_was_merged():
    hospital, pharmacy = two_persons()
    with pytest.raises(FhirError):
        person_merge(merged_id=person_pk(hospital), survivor_id=person_pk(hospital), actor="s")
    merged = person_pk(pharmacy)
    person_merge(merged_id=merged, survivor_id=person_pk(hospital), actor="s")
    with pytest.raises(FhirError) as raised:
        person_merge(merged_id=merged, survivor_id=person_pk(hospital), actor="s")
    assert raised.value.status == 409


@pytest.fixture
def steward(client):
    user = User.objects.create_user("steward-1", password="not-a-real-password", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="steward_identity"))
    client.force_login(user)
    return client


def test_the_review_page_shows_both_records_side_by_side_and_links(steward):
    two_persons()
    review = MatchReview.objects.get()
    page = steward.get(f"/steward/federation/matchreview/{review.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert text.count("綱木 花子") >= 2
    assert "1942-05-18" in text
    assert "1942-05-17" in text
    assert "birth_date" in text  # why the score is what it is
    answer = steward.post(f"/steward/federation/matchreview/{review.pk}/decide/", {"decision": "link", "reason": "ok"})
    assert answer.status_code == 302
    review.refresh_from_db()
    assert review.status == ReviewStatus.LINKED
    assert IdentityDecision.objects.get(action=IdentityAction.STEWARD_LINK).actor == "steward-1"


def test_the_queue_is_closed_to_staff_without_the_steward_permission(client):
    two_persons()
    user = User.objects.create_user("clerk", password="not-a-real-password", is_staff=True)
    client.force_login(user)
    review = MatchReview.objects.get()
    assert client.get(f"/steward/federation/matchreview/{review.pk}/change/").status_code in (302, 403)
    assert client.post(f"/steward/federation/matchreview/{review.pk}/decide/", {"decision": "link"}).status_code == 403
    review.refresh_from_db()
    assert review.status == ReviewStatus.OPEN


def test_merge_and_unmerge_from_the_person_page(steward):
    hospital, pharmacy = two_persons()
    survivor, merged = person_pk(hospital), person_pk(pharmacy)
    assert steward.get(f"/steward/federation/person/{survivor}/change/").status_code == 200
    steward.post(f"/steward/federation/person/{merged}/merge/", {"survivor": str(survivor), "reason": "same"})
    assert person_pk(pharmacy) == survivor
    merge = IdentityDecision.objects.get(action=IdentityAction.MERGE)
    steward.post(f"/steward/federation/person/unmerge/{merge.pk}/", {"reason": "undo"})
    assert person_pk(pharmacy) == merged
