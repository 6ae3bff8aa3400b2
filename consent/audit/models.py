"""The audit trail's one table: append-only (a trigger refuses UPDATE and DELETE), each row chained to the one
before it by a SHA-256 hash, so `audit_verify` finds any row changed, deleted or slipped in."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models


class AuditRecord(models.Model):
    """One audited event: who (agent), why (purpose), about whom (patients), what (entities, query), outcome.

    `hash` is SHA-256 over `previous_hash` and the canonical JSON of every other column but `id`
    (consent.audit.chain); rows are chained in `id` order."""

    id = models.BigAutoField(primary_key=True)
    recorded = models.DateTimeField()
    category = models.CharField(max_length=16)  # consent.contracts.AuditCategory
    subtype = models.CharField(max_length=64)
    action = models.CharField(max_length=1)
    status = models.PositiveSmallIntegerField()
    outcome_text = models.TextField(blank=True)
    kind = models.CharField(max_length=16, blank=True)  # AccessKind value; "" when the actor is unknown
    purpose = models.CharField(max_length=32, blank=True)
    reason = models.TextField(blank=True)
    subject = models.CharField(max_length=300, blank=True)
    role = models.CharField(max_length=32, blank=True)
    client_id = models.CharField(max_length=100, blank=True)
    organization = models.CharField(max_length=100, blank=True)
    practitioner = models.CharField(max_length=100, blank=True)
    municipality = models.CharField(max_length=16, blank=True)
    network = models.CharField(max_length=64, blank=True)
    entities = ArrayField(models.TextField(), default=list)
    patients = ArrayField(models.CharField(max_length=64), default=list)
    query = models.TextField(blank=True)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        app_label = "consent"
        db_table = "consent_audit_record"
        indexes = [
            GinIndex(fields=["patients"], name="audit_patients"),
            GinIndex(fields=["entities"], name="audit_entities"),
            models.Index(fields=["recorded"], name="audit_recorded"),
            models.Index(fields=["subject", "id"], name="audit_subject"),
        ]

    def __str__(self) -> str:
        return f"AuditEvent/{self.pk} {self.subtype} {self.status}"
