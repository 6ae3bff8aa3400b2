"""A data steward's decisions: link a reviewed record, reject a possible match, merge two persons, undo a merge.

Each is one transaction under the linker's lock, leaves an IdentityDecision with who and why, and rewrites the
golden Patients and source links it touches — so compartments, which read the links, follow at once.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from core.outcome import conflict, invalid
from federation.identity.golden_records import goldens_write, source_links_write
from federation.identity.session import linker_session
from federation.models import (
    IdentityAction,
    IdentityDecision,
    LinkRule,
    MatchReview,
    Person,
    PersonRecord,
    ReviewStatus,
)


def review_link(*, review_id: int, actor: str, reason: str = "") -> IdentityDecision:
    """The record of the review belongs to the candidate person: move it there."""
    with linker_session():
        review = _open_review(review_id)
        record = review.record
        before = record.person
        _move([record], before, review.candidate)
        record.rule, record.score, record.explanation = LinkRule.STEWARD, review.score, review.explanation
        record.decided_at = timezone.now()
        record.save(update_fields=["rule", "score", "explanation", "decided_at"])
        _close(review, ReviewStatus.LINKED, actor)
        MatchReview.objects.filter(record=record, status=ReviewStatus.OPEN).update(
            status=ReviewStatus.CLOSED, decided_at=timezone.now(), decided_by=actor
        )
        return IdentityDecision.objects.create(
            action=IdentityAction.STEWARD_LINK,
            actor=actor,
            record=record,
            person=review.candidate,
            other_person=before,
            rule=LinkRule.STEWARD,
            score=review.score,
            explanation=review.explanation,
            reason=reason,
        )


def review_reject(*, review_id: int, actor: str, reason: str = "") -> IdentityDecision:
    """Not the same person: the pair is never offered or linked automatically again."""
    with linker_session():
        review = _open_review(review_id)
        _close(review, ReviewStatus.REJECTED, actor)
        return IdentityDecision.objects.create(
            action=IdentityAction.STEWARD_REJECT,
            actor=actor,
            record=review.record,
            person=review.record.person,
            other_person=review.candidate,
            score=review.score,
            explanation=review.explanation,
            reason=reason,
        )


def person_merge(*, merged_id: int, survivor_id: int, actor: str, reason: str = "") -> IdentityDecision:
    """Person `merged_id` is person `survivor_id`: its records move over, its golden Patient is retired
    (inactive, `replaced-by` the survivor's). The decision lists the records moved, so it can be undone."""
    with linker_session():
        if merged_id == survivor_id:
            raise invalid("A person cannot be merged into itself.")
        merged, survivor = _live_person(merged_id), _live_person(survivor_id)
        records = list(merged.records.all())
        merged.merged_into = survivor
        merged.save(update_fields=["merged_into"])
        _move(records, merged, survivor)
        overtaken = Q(record__in=records, candidate=survivor) | Q(candidate=merged)
        MatchReview.objects.filter(overtaken, status=ReviewStatus.OPEN).update(
            status=ReviewStatus.CLOSED, decided_at=timezone.now(), decided_by=actor
        )
        return IdentityDecision.objects.create(
            action=IdentityAction.MERGE,
            actor=actor,
            person=survivor,
            other_person=merged,
            detail={"records": [record.pk for record in records]},
            reason=reason,
        )


def person_unmerge(*, merge_decision_id: int, actor: str, reason: str = "") -> IdentityDecision:
    """Undo a merge: the records it moved (those still with the survivor) go back to the merged person,
    whose golden Patient is active again."""
    with linker_session():
        merge = IdentityDecision.objects.filter(pk=merge_decision_id, action=IdentityAction.MERGE).first()
        if merge is None:
            raise invalid(f"Identity decision {merge_decision_id} is not a merge.")
        if IdentityDecision.objects.filter(action=IdentityAction.UNMERGE, detail__merge=merge.pk).exists():
            raise conflict(409, f"The merge {merge.pk} was undone already.")
        assert merge.person is not None
        assert merge.other_person is not None
        survivor, merged = merge.person, merge.other_person
        records = list(PersonRecord.objects.filter(pk__in=merge.detail["records"], person=survivor))
        merged.merged_into = None
        merged.save(update_fields=["merged_into"])
        _move(records, survivor, merged)
        return IdentityDecision.objects.create(
            action=IdentityAction.UNMERGE,
            actor=actor,
            person=merged,
            other_person=survivor,
            detail={"merge": merge.pk, "records": [record.pk for record in records]},
            reason=reason,
        )


def _open_review(review_id: int) -> MatchReview:
    review = MatchReview.objects.select_related("record__person", "candidate").filter(pk=review_id).first()
    if review is None:
        raise invalid(f"There is no review {review_id}.")
    if review.status != ReviewStatus.OPEN:
        raise conflict(409, f"Review {review_id} was decided already ({review.status}).")
    return review


def _live_person(person_id: int) -> Person:
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        raise invalid(f"There is no person {person_id}.")
    if person.merged_into_id is not None:
        raise conflict(409, f"Person {person_id} was merged into person {person.merged_into_id}.")
    return person


def _move(records: list[PersonRecord], source: Person, target: Person) -> None:
    """Move records from one person to another, then write both golden records and the moved Patients' links
    (a person left without records has its golden record retired if merged, else deleted)."""
    PersonRecord.objects.filter(pk__in=[record.pk for record in records]).update(person=target)
    for record in records:
        record.person = target
    goldens_write([source.pk, target.pk])
    source_links_write({record.patient_id: source.golden for record in records})


def _close(review: MatchReview, status: ReviewStatus, actor: str) -> None:
    review.status, review.decided_at, review.decided_by = status, timezone.now(), actor
    review.save(update_fields=["status", "decided_at", "decided_by"])
