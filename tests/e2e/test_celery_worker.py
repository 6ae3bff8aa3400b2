"""`celery -A config worker` starts a real worker with the web process's settings and runs tasks."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings

from config import celery_app
from consent.contracts import AccessContext
from federation.models import ReindexJob, ReindexStatus
from federation.search.reindex import reindex_job_create
from federation.storage import services
from federation.tasks import reindex
from tests.e2e.conftest import BIN, PROJECT, server_environment
from tests.federation.search_data import jp_patient

pytestmark = pytest.mark.e2e


@pytest.fixture
def broker() -> str:
    url = str(settings.CELERY_BROKER_URL)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis broker at {url}")
    return url


@pytest.fixture
def worker(broker: str) -> Iterator[str]:
    """A real worker process on the test database; yields its node name once it answers ping."""
    node = f"tsunagi-test-{time.monotonic_ns()}@localhost"
    process = subprocess.Popen(
        [str(BIN / "celery"), "-A", "config", "worker", "--pool", "solo", "-n", node, "--loglevel", "WARNING"],
        cwd=PROJECT,
        env=server_environment(CELERY_BROKER_URL=broker),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        replies: list[dict[str, object]] = []
        deadline = time.monotonic() + 60
        while not replies and time.monotonic() < deadline and process.poll() is None:
            replies = celery_app.control.ping(destination=[node], timeout=1.0) or []
        assert replies, "the worker never answered ping"
        yield node
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_worker_starts_with_the_same_settings(db, broker, worker):
    conf = (celery_app.control.inspect(destination=[worker], timeout=5.0).conf() or {})[worker]

    assert conf["SETTINGS_MODULE"] == "config.settings.local"  # the web process's Django settings
    assert conf["CELERY_BROKER_URL"] == broker
    assert conf["FHIR_BASE_PATH"] == settings.FHIR_BASE_PATH


def test_reindex_runs_as_a_celery_job_on_a_real_worker(transactional_db, worker):
    services.resources_import(
        access=AccessContext.system(purpose="test"),
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
