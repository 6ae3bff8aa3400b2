"""`celery -A config worker` starts a real worker with the web process's settings and runs tasks."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from config import celery_app
from consent.contracts import AccessContext
from federation.models import ReindexJob, ReindexStatus
from federation.search.reindex import reindex_job_create
from federation.storage import services
from federation.tasks import reindex
from tests.federation.search_data import jp_patient

pytestmark = pytest.mark.e2e


def test_worker_starts_with_the_same_settings(db, broker, worker):
    conf = (celery_app.control.inspect(destination=[worker], timeout=5.0).conf() or {})[worker]

    assert conf["SETTINGS_MODULE"] == "config.settings.local"  # the web process's Django settings
    assert conf["CELERY_BROKER_URL"] == broker
    assert conf["FHIR_BASE_PATH"] == settings.FHIR_BASE_PATH


def test_reindex_runs_as_a_celery_job_on_a_real_worker(transactional_db, worker):
    services.resources_import(
        access=AccessContext.system(reason="test"),
        resources=[jp_patient(f"p{n}", ("山田", "太郎"), ("ヤマダ", "タロウ")) for n in range(3)],
    )
    job, _ = reindex_job_create(resource_types=["Patient"])

    reindex.delay(job.pk)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (ReindexStatus.DONE, ReindexStatus.FAILED):
            break
        time.sleep(0.2)
    assert (job.status, job.processed) == (ReindexStatus.DONE, 3)
    assert ReindexJob.objects.get(pk=job.pk).finished_at is not None
