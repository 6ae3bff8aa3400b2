"""Real servers for end-to-end tests: gunicorn, a Celery worker and the demo OpenID provider, on the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
import requests
from django.conf import settings
from django.db import connection

from config import celery_app
from tests.conftest import system_token

PROJECT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
DEMO_PASSWORD = "a-demo-password-for-tests"
CLIENT_SECRET = "a-client-secret-for-tests"


def test_database_url() -> str:
    """A DATABASE_URL for the database pytest-django created, for processes started by a test."""
    settings = connection.settings_dict
    user = quote(settings["USER"] or "")
    password = f":{quote(settings['PASSWORD'])}" if settings["PASSWORD"] else ""
    socket_dir = settings.get("OPTIONS", {}).get("host")
    if socket_dir:
        return f"postgresql://{user}{password}@/{settings['NAME']}?host={socket_dir}"
    return f"postgresql://{user}{password}@{settings['HOST']}:{settings['PORT'] or 5432}/{settings['NAME']}"


test_database_url.__test__ = False  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_environment(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "DATABASE_URL": test_database_url(),
        **extra,
    }


@contextmanager
def serving(command: list[str], environment: dict[str, str], ready_url: str) -> Iterator[None]:
    """A server process that answers `ready_url` (any status) until the block ends."""
    process = subprocess.Popen(command, cwd=PROJECT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(ready_url, timeout=2)
                break
            except requests.RequestException:  # refused, or accepted before a worker is up to answer
                if process.poll() is not None or time.monotonic() > deadline:
                    failure = process.stderr.read() if process.stderr else b""
                    raise RuntimeError(f"{command[0]} did not start: {failure!r}") from None
                time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def gunicorn(port: int, **environment: str) -> AbstractContextManager[None]:
    command = [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    return serving(command, server_environment(**environment), f"http://127.0.0.1:{port}/fhir/metadata")


@pytest.fixture
def bearer(transactional_db: Any) -> dict[str, str]:
    """The Authorization header of a back-office client with system/*.cruds, for requests to a server process."""
    return {"Authorization": f"Bearer {system_token()}"}


@pytest.fixture
def gunicorn_url(transactional_db: Any) -> Iterator[str]:
    port = free_port()
    with gunicorn(port, FHIR_MAX_BODY_BYTES="100000"):
        yield f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class SignInServers:
    platform: str
    provider: str  # the OpenID provider's issuer


@pytest.fixture
def sign_in_servers(transactional_db: Any, tmp_path: Path) -> Iterator[SignInServers]:
    """The platform under gunicorn and the demo OpenID provider (`python -m idp serve`), each knowing the other."""
    platform_port, provider_port = free_port(), free_port()
    platform = f"http://127.0.0.1:{platform_port}"
    issuer = f"http://127.0.0.1:{provider_port}/o"
    provider_command = [
        str(BIN / "python"), "-m", "idp", "serve", "--port", str(provider_port),
        "--redirect-uri", f"{platform}/oidc/callback/",
    ]  # fmt: skip
    provider_environment = {
        **os.environ,
        "IDP_DATA_DIR": str(tmp_path / "idp"),
        "IDP_DEMO_PASSWORD": DEMO_PASSWORD,
        "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
    }
    with (
        serving(provider_command, provider_environment, f"http://127.0.0.1:{provider_port}/health"),
        gunicorn(platform_port, OIDC_ISSUER=issuer, OIDC_RP_CLIENT_SECRET=CLIENT_SECRET),
    ):
        yield SignInServers(platform=platform, provider=issuer)


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
        env=server_environment(CELERY_BROKER_URL=broker, RAW_STORE_DIR=str(settings.RAW_STORE_DIR)),
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
