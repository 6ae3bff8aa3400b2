"""Reindex: rebuild the search index of stored resources, in batches, resumably.

Needed when search-parameter definitions change: a job first collects stored SearchParameter
resources (search.definitions), indexes their types, and makes them searchable when it is done.
Each batch rewrites the index rows of up to `batch_size` resources and moves the job's checkpoint
in the same transaction, so a job stopped half-way (a worker restart) resumes after the last
finished batch and never leaves a resource half-indexed.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from federation.models import ReindexJob, ReindexStatus, Resource
from federation.search.definitions import search_parameters_activate, search_parameters_collect
from federation.search.indexing import IndexBatch

Progress = Callable[[ReindexJob], None]


def reindex_job_create(*, resource_types: list[str]) -> tuple[ReindexJob, tuple[str, ...]]:
    """A job over these types (all when empty), plus those of stored definitions awaiting a reindex.

    Returns the job and the problems found in stored SearchParameter resources (not served).
    """
    collected = search_parameters_collect()
    types = sorted(set(resource_types) | collected.resource_types) if resource_types else []
    job = ReindexJob.objects.create(resource_types=types, activates=list(collected.pending))
    job.total = _resources(job).count()
    job.save(update_fields=["total"])
    return job, collected.problems


def reindex_job_run(*, job_id: int, batch_size: int = 1000, progress: Progress | None = None) -> ReindexJob:
    """Run (or resume) a job to the end; safe to call again on a finished job."""
    job = ReindexJob.objects.get(pk=job_id)
    if job.status == ReindexStatus.DONE:
        return job
    job.status = ReindexStatus.RUNNING
    job.started_at = job.started_at or timezone.now()
    job.save(update_fields=["status", "started_at"])
    try:
        while _reindex_batch(job, batch_size):
            if progress is not None:
                progress(job)
    except BaseException as error:  # Ctrl-C too: the job says it stopped; --resume continues it
        job.status = ReindexStatus.FAILED
        job.error = type(error).__name__
        job.save(update_fields=["status", "error"])
        raise
    job.status = ReindexStatus.DONE
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "finished_at"])
    search_parameters_activate(job.activates)
    return job


@transaction.atomic
def _reindex_batch(job: ReindexJob, batch_size: int) -> bool:
    """Reindex the next batch after the checkpoint; False when nothing is left."""
    rows = list(_resources(job).filter(pk__gt=job.after_pk).order_by("pk")[:batch_size])
    if not rows:
        return False
    batch = IndexBatch()
    for row in rows:
        batch.replace(row, is_new=False)
    batch.write()
    job.after_pk = rows[-1].pk
    job.processed += len(rows)
    job.save(update_fields=["after_pk", "processed"])
    return True


def _resources(job: ReindexJob) -> QuerySet[Resource]:
    rows = Resource.objects.filter(is_deleted=False)
    return rows.filter(resource_type__in=job.resource_types) if job.resource_types else rows
