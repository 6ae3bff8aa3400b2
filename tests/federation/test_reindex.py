"""Reindex: rebuilds the index, shows progress, resumes after an interruption."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from consent.contracts import AccessContext
from federation.models import ReindexJob, ReindexStatus, TokenIndex
from federation.search.reindex import reindex_job_create, reindex_job_run
from federation.storage import services
from tests.federation.search_data import jp_patient

SYSTEM = AccessContext.system(purpose="test")


@pytest.fixture
def people(db):
    services.resources_import(
        access=SYSTEM,
        resources=[jp_patient(f"p{n}", ("山田", f"{n}郎"), ("ヤマダ", f"{n}ロウ"), gender="male") for n in range(5)],
    )


def wipe_index() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM federation_tokenindex")


def test_reindex_command_rebuilds_the_index_with_progress(people, fhir, capsys):
    rows_before = TokenIndex.objects.count()
    wipe_index()
    assert fhir.get("/fhir/Patient?gender=male").json().get("entry") is None

    call_command("reindex", "--batch-size", "2", stdout=StringIO())

    assert TokenIndex.objects.count() == rows_before
    assert len(fhir.get("/fhir/Patient?gender=male").json()["entry"]) == 5
    assert "5/5 (100%)" in capsys.readouterr().err


def test_an_interrupted_job_resumes_after_its_checkpoint(people):
    rows_before = TokenIndex.objects.count()
    job = reindex_job_create(resource_types=["Patient"])

    def stop_after_first_batch(current: ReindexJob) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reindex_job_run(job_id=job.pk, batch_size=2, progress=stop_after_first_batch)
    job.refresh_from_db()
    assert (job.status, job.processed) == (ReindexStatus.FAILED, 2)

    finished = reindex_job_run(job_id=job.pk, batch_size=2)

    assert (finished.status, finished.processed, finished.total) == (ReindexStatus.DONE, 5, 5)
    assert TokenIndex.objects.count() == rows_before


def test_bad_arguments_are_refused(db):
    with pytest.raises(CommandError, match="unknown resource type"):
        call_command("reindex", "--type", "Unicorn")
    with pytest.raises(CommandError, match="no reindex job"):
        call_command("reindex", "--resume", "999999")
