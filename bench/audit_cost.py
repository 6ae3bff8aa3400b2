"""What the audit trail adds to each FHIR request, measured per request inside the server process.

Run it as `.venv/bin/python bench/audit_cost.py [--requests N]`. It starts a fresh `tsunagi_bench_audit`
database (on the server of DATABASE_URL), seeds synthetic patients with observations through the API and then
sends reads, searches (a page of 20 from many people), creates and updates through Django's test client, twice:
as configured, then without the WAL flush at commit (`synchronous_commit=off`, this database only). For
every request it times the whole interaction view and, inside it, the interaction itself (DRF's dispatch:
authentication, scopes, the handler); the difference is what auditing adds: the transaction and savepoint
around the work, the persons' lookup, the advisory lock and the chained INSERT. It prints the median and p95
per interaction and writes them as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"
BENCH_DATABASE = "tsunagi_bench_audit"
FHIR_JSON = "application/fhir+json"


def fresh_database() -> None:
    """Point DATABASE_URL at a new, empty bench database on the same server."""
    url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tsunagi"))
    with psycopg.connect(urlunsplit(url._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")
        admin.execute(f"CREATE DATABASE {BENCH_DATABASE}")
    os.environ["DATABASE_URL"] = urlunsplit(url._replace(path=f"/{BENCH_DATABASE}"))


def setup_django() -> None:
    sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["FHIR_TOKEN_RATE"] = ""  # no throttling: the bench sends many requests with one token
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory, which is not what a server does
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


class Timings:
    """Per request: the whole interaction view, and the interaction inside it."""

    def __init__(self) -> None:
        self.outer: list[float] = []
        self.inner: list[float] = []

    def install(self) -> None:
        from rest_framework.views import APIView

        from federation.api.routing import InteractionView

        self.wrap(InteractionView, self.outer)
        self.wrap(APIView, self.inner)

    @staticmethod
    def wrap(view: type[Any], into: list[float]) -> None:
        original: Callable[..., Any] = view.dispatch

        def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                into.append(time.perf_counter() - started)

        view.dispatch = timed

    def reset(self) -> None:
        self.outer.clear()
        self.inner.clear()

    def added_ms(self) -> list[float]:
        return [(outer - inner) * 1000 for outer, inner in zip(self.outer, self.inner, strict=True)]


def client() -> Any:
    from django.test import Client

    from tests.conftest import system_token

    return Client(headers={"Authorization": f"Bearer {system_token()}"}, HTTP_HOST="127.0.0.1")


def post(http: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post(path, data=json.dumps(body), content_type=FHIR_JSON)
    assert response.status_code == 201, response.content[:300]
    return dict(response.json())


def observation(subject: str, value: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": subject},
        "valueQuantity": {"value": value, "unit": "/min"},
    }


def seed(http: Any, people: int) -> tuple[list[str], list[str]]:
    """Patients, and two Observations of each."""
    from tests.conftest import patient

    patients, observations = [], []
    for number in range(people):
        person = post(http, "/fhir/Patient", patient(identifier=[{"system": "urn:bench", "value": str(number)}]))
        patients.append(f"Patient/{person['id']}")
        for value in (60.0, 72.0):
            observations.append(post(http, "/fhir/Observation", observation(patients[-1], value))["id"])
    return patients, observations


def measure(name: str, timings: Timings, requests: int, send: Callable[[int], None]) -> dict[str, float]:
    for number in range(20):  # warm-up
        send(number)
    timings.reset()
    for number in range(requests):
        send(number)
    added = sorted(timings.added_ms())
    total = sorted(outer * 1000 for outer in timings.outer)
    result = {
        "requests": len(added),
        "added_median_ms": statistics.median(added),
        "added_p95_ms": added[int(0.95 * (len(added) - 1))],
        "request_median_ms": statistics.median(total),
    }
    added_median, added_p95 = result["added_median_ms"], result["added_p95_ms"]
    print(f"{name:<8} {added_median:>8.2f} {added_p95:>8.2f} {result['request_median_ms']:>10.2f}")
    return result


def set_synchronous_commit(value: str) -> None:
    """The second pass turns the WAL flush at commit off (for the bench database only), to show how much of the
    cost is durability (a read now commits a write) and how much the audit work itself."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"ALTER DATABASE {BENCH_DATABASE} SET synchronous_commit = {value}")
    connection.close()  # the next request connects again and takes the setting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="requests per interaction (default 500)")
    parser.add_argument("--people", type=int, default=100, help="patients seeded (two observations each)")
    arguments = parser.parse_args()
    fresh_database()
    setup_django()
    http = client()
    patients, observations = seed(http, arguments.people)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics, as autovacuum keeps them on a running server
    timings = Timings()
    timings.install()

    def read(number: int) -> None:
        assert http.get(f"/fhir/Observation/{observations[number % len(observations)]}").status_code == 200

    def search(number: int) -> None:
        assert http.get("/fhir/Observation?code=8867-4&_count=20").status_code == 200

    def create(number: int) -> None:
        post(http, "/fhir/Observation", observation(patients[number % len(patients)], float(number)))

    def update(number: int) -> None:
        target = observations[number % len(observations)]
        body = observation(patients[number % len(patients)], float(number)) | {"id": target}
        assert http.put(f"/fhir/Observation/{target}", data=json.dumps(body), content_type=FHIR_JSON).status_code == 200

    interactions = (("read", read), ("search", search), ("create", create), ("update", update))
    results = {}
    for flush in ("on", "off"):
        set_synchronous_commit(flush)
        print(f"synchronous_commit={flush}")
        print(f"{'':<8} {'median':>8} {'p95':>8} {'request':>10}   (ms added by auditing; whole request median)")
        results[f"synchronous_commit={flush}"] = {
            name: measure(name, timings, arguments.requests, send) for name, send in interactions
        }
    from consent.models import AuditRecord

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    output = RESULTS_DIR / f"audit_cost-{stamp}.json"
    summary = {"people": arguments.people, "chain_entries": AuditRecord.objects.count(), "interactions": results}
    output.write_text(json.dumps(summary, indent=2))
    print(f"chain entries at the end: {summary['chain_entries']}; written to {output.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
