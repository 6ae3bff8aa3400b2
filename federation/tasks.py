"""Celery tasks of the FHIR store: they take ids, are idempotent, and call services."""

from __future__ import annotations

from celery import shared_task

from federation.identity.linking import identity_link_all
from federation.search.reindex import reindex_job_run


@shared_task(name="federation.reindex", acks_late=True)
def reindex(job_id: int) -> int:
    """Run or resume a reindex job; returns how many resources it has reindexed."""
    return reindex_job_run(job_id=job_id).processed


@shared_task(name="federation.link_persons", acks_late=True)
def link_persons() -> int:
    """Link every queued Patient to its person (safe to run twice or side by side: linking takes a lock and
    an empty queue is nothing to do); returns how many records it decided about."""
    return identity_link_all().records
