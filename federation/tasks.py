"""Celery tasks of the FHIR store: they take ids, are idempotent, and call services."""

from __future__ import annotations

from celery import shared_task

from federation.search.reindex import reindex_job_run


@shared_task(name="federation.reindex", acks_late=True)
def reindex(job_id: int) -> int:
    """Run or resume a reindex job; returns how many resources it has reindexed."""
    return reindex_job_run(job_id=job_id).processed
