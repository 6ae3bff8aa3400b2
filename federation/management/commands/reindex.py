"""Rebuild the search index: now with a progress bar, or as a Celery job (--background)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.progress import progress_end, progress_show
from federation.fhir.spec import served_resource_types
from federation.models import ReindexJob
from federation.search.reindex import reindex_job_create, reindex_job_run
from federation.tasks import reindex


class Command(BaseCommand):
    help = "Rebuild the search index of stored resources (all, or --type T ...); resumable with --resume JOB."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--type", action="append", default=[], dest="types", help="resource type (repeatable)")
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--background", action="store_true", help="queue a Celery job and return")
        parser.add_argument("--resume", type=int, metavar="JOB", help="continue an unfinished job")

    def handle(
        self, *args: Any, types: list[str], batch_size: int, background: bool, resume: int | None, **_: Any
    ) -> None:
        unknown = sorted(set(types) - served_resource_types())
        if unknown:
            raise CommandError(f"unknown resource type: {', '.join(unknown)}")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if resume is not None:
            if not ReindexJob.objects.filter(pk=resume).exists():
                raise CommandError(f"no reindex job {resume}")
            job_id = resume
        else:
            job, problems = reindex_job_create(resource_types=types)
            for problem in problems:
                self.stderr.write(f"not served: {problem}")
            job_id = job.pk
        if background:
            reindex.delay(job_id)
            self.stdout.write(f"queued reindex job {job_id}")
            return
        job = reindex_job_run(job_id=job_id, batch_size=batch_size, progress=_show_progress)
        progress_end()
        self.stdout.write(f"reindex job {job.pk}: {job.processed} resources reindexed")


def _show_progress(job: ReindexJob) -> None:
    progress_show(job.processed, job.total)
