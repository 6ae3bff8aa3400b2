"""Registered sources, every raw message they sent (bytes kept first), and what could not be taken."""

from __future__ import annotations

from django.db import models


class SourceSystem(models.Model):
    """A source of data: one organisation and the connector that reads its files or messages."""

    code = models.SlugField(max_length=64, unique=True)
    connector = models.CharField(max_length=32)
    organization_name = models.CharField(max_length=200)
    organization_system = models.CharField(max_length=300, blank=True)
    organization_value = models.CharField(max_length=100, blank=True)
    patient_identifier_system = models.CharField(max_length=300)
    push_token_sha256 = models.CharField(max_length=64, blank=True)  # for HTTP push; the token is never stored
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.code


class MessageStatus(models.TextChoices):
    RECEIVED = "received"  # raw bytes kept, not processed yet
    STORED = "stored"  # every record stored
    PARTIAL = "partial"  # some records quarantined
    QUARANTINED = "quarantined"  # nothing could be stored


class InboundMessage(models.Model):
    """One raw message or file as received; its bytes are in the raw store under their SHA-256."""

    source = models.ForeignKey(SourceSystem, on_delete=models.PROTECT, related_name="messages")
    sha256 = models.CharField(max_length=64)
    origin = models.CharField(max_length=500)  # file path relative to what was ingested, or the push request
    size = models.BigIntegerField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True)
    status = models.CharField(max_length=16, choices=MessageStatus.choices, default=MessageStatus.RECEIVED)
    records = models.IntegerField(default=0)
    created = models.IntegerField(default=0)
    updated = models.IntegerField(default=0)
    unchanged = models.IntegerField(default=0)
    deleted = models.IntegerField(default=0)
    quarantined = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "sha256"], name="inbound_message_once_per_source")]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.source.code}:{self.origin}"


class RawContent(models.Model):
    """The bytes of a small raw message, once per content (see connectors.raw_store); bigger ones are files."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    content = models.BinaryField()

    def __str__(self) -> str:
        return self.sha256


class QuarantinedRecord(models.Model):
    """A record of a message that could not be stored: where it is, which field, why. Replay re-runs it."""

    message = models.ForeignKey(InboundMessage, on_delete=models.CASCADE, related_name="quarantine")
    record_index = models.IntegerField()
    location = models.CharField(max_length=500)
    field = models.CharField(max_length=200, blank=True)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True)  # set when a replay stored the record

    class Meta:
        indexes = [models.Index(fields=["resolved_at"])]

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"
