"""A reindex job: rebuilds the search index in batches, remembering where it got to."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models


class ReindexStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ReindexJob(models.Model):
    """`after_pk` is the checkpoint: everything up to it is reindexed, so a rerun resumes there."""

    resource_types = ArrayField(models.CharField(max_length=64), default=list, blank=True)  # empty: all
    status = models.CharField(max_length=8, choices=ReindexStatus.choices, default=ReindexStatus.QUEUED)
    after_pk = models.BigIntegerField(default=0)
    processed = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    error = models.TextField(blank=True)
    # Stored search-parameter definitions this job indexes; they become searchable when it is done.
    activates = ArrayField(models.TextField(), default=list, blank=True)

    def __str__(self) -> str:
        return f"reindex {self.pk} ({self.status}, {self.processed}/{self.total})"

    @property
    def progress(self) -> float:
        return 1.0 if self.total == 0 else min(1.0, self.processed / self.total)
