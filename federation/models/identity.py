"""Who is who across sources: persons, the source Patients linked to each, and every decision made about them.

A person is stood for by a golden Patient (a Resource written by the identity linker); each source Patient has
one PersonRecord naming its person. Links live here, not only in Patient.link, so that compartments, consent
and reports can ask "which Patients are this person" with one indexed lookup.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now

from federation.models.resource import Resource


class Person(models.Model):
    """One person as the platform knows them. `golden` is the id of the Patient that stands for them; it is
    (re)written when `golden_stale` says the person's records changed, after the linker's queue is empty."""

    golden = models.CharField(max_length=64, unique=True)
    golden_stale = models.BooleanField(default=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["id"], condition=models.Q(golden_stale=True), name="person_golden_stale")]

    def __str__(self) -> str:
        return f"Person {self.pk}"


class LinkRule(models.TextChoices):
    """What put a record with its person."""

    NEW_PERSON = "new-person"  # nothing matched well enough: a person of its own
    SOURCE_LINK = "source-link"  # the source said so (Patient.link, an HL7 A40 merge)
    INSURED_KEY = "insured-person-key"  # same 被保険者 key or 介護保険 insured number
    PROBABILISTIC = "probabilistic"  # Fellegi-Sunter score at or above the auto-link threshold
    STEWARD = "steward"  # a data steward decided


class PersonRecord(models.Model):
    """A source Patient, the person it belongs to, and the decision that put it there (explainable)."""

    patient = models.OneToOneField(Resource, on_delete=models.CASCADE, related_name="person_record")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="records")
    features = models.JSONField()  # federation.identity.features.PersonFeatures.to_json()
    rule = models.CharField(max_length=32, choices=LinkRule.choices)
    score = models.FloatField(null=True)
    explanation = models.JSONField(default=list)
    decided_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.patient_id} -> {self.person_id} ({self.rule})"


class BlockingKey(models.Model):
    """A blocking key of a record: candidates for a new record are the records sharing one of its keys."""

    pk = models.CompositePrimaryKey("key", "record_id")
    key = models.BigIntegerField()
    record = models.ForeignKey(PersonRecord, on_delete=models.CASCADE, db_index=True)

    def __str__(self) -> str:
        return f"{self.key} -> {self.record_id}"


class ReviewStatus(models.TextChoices):
    OPEN = "open"
    LINKED = "linked"  # the steward linked the record to the candidate
    REJECTED = "rejected"  # not the same person: never auto-linked again
    CLOSED = "closed"  # overtaken (the record or the candidate moved, merged or went away)


class MatchReview(models.Model):
    """A possible match for a data steward: a record that may belong to a candidate person."""

    record = models.ForeignKey(PersonRecord, on_delete=models.CASCADE, related_name="reviews")
    candidate = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="candidate_reviews")
    score = models.FloatField()
    explanation = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["record", "candidate"],
                condition=models.Q(status__in=["open", "rejected"]),
                name="match_review_once_per_pair",
            )
        ]
        indexes = [models.Index(fields=["status", "-score"], name="match_review_queue")]
        permissions = [("steward_identity", "Can review, link, merge and unmerge persons")]

    def __str__(self) -> str:
        return f"{self.record_id} ~ {self.candidate_id} ({self.score:.1f}, {self.status})"


class IdentityAction(models.TextChoices):
    NEW_PERSON = "new-person"
    LINK = "link"  # automatic link (rule and score say why)
    REVIEW = "review"  # a possible match queued for a steward
    UNLINK = "unlink"  # the source Patient was deleted
    STEWARD_LINK = "steward-link"
    STEWARD_REJECT = "steward-reject"
    MERGE = "merge"
    UNMERGE = "unmerge"


class IdentityDecision(models.Model):
    """Append-only trail of every identity decision: who (the linker or a steward), what, and why."""

    action = models.CharField(max_length=16, choices=IdentityAction.choices)
    actor = models.CharField(max_length=150)  # "identity-linker" or the steward's user name
    record = models.ForeignKey(PersonRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    person = models.ForeignKey(Person, null=True, on_delete=models.PROTECT, related_name="+")
    other_person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rule = models.CharField(max_length=32, blank=True)
    score = models.FloatField(null=True)
    explanation = models.JSONField(default=list)
    detail = models.JSONField(default=dict)  # e.g. the records a merge moved, so unmerge can move them back
    reason = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["person", "at"], name="identity_decision_person")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} by {self.actor}"


class LinkQueue(models.Model):
    """Patients written since the linker last looked; a database trigger adds a row on every Patient write,
    whichever path wrote it, so no write can skip linking. Rows are removed once linked."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, db_constraint=False, related_name="+")
    queued_at = models.DateTimeField(db_default=Now())

    def __str__(self) -> str:
        return f"Patient resource {self.resource_id} queued at {self.queued_at}"
