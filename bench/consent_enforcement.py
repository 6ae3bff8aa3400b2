"""What consent enforcement costs: the search benchmark's clinic queries in a SYSTEM and in a USER context.

Run it as `.venv/bin/python bench/consent_enforcement.py [--people N] [--skip-load] [--database NAME] [--share 0.3]
[--draws 60] [--http]`. It loads the search benchmark's region (bench/search.py, about 50 resources a person) into
its own database, `tsunagi_consent_bench` (or, with `--skip-load --database tsunagi_search_bench`, reuses the region
bench/search.py loaded, migrating it first), gives a share of the people a Consent (four kinds in turn: no
psychiatric data; nobody but one hospital; not for welfare support; nothing before 2021), then times each clinic
query in the system context and as a clinician under opt-out, with `_total=accurate`: through the selectors (no
HTTP), running the clinician's SQL once under EXPLAIN (ANALYZE) for planning and execution time, or with `--http`
through gunicorn with a back-office token (system/*.cruds) and a clinician's app token (user/*.rs), as a clinic's
software would call it. Results print as a table and go to bench/results/consent-<timestamp>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import search
from fhir_api import (
    RESULTS_DIR,
    BenchError,
    Call,
    FhirClient,
    Server,
    migrate,
    progress,
    recreate_database,
    running_server,
    with_database,
)

DATABASE = "tsunagi_consent_bench"
T = TypeVar("T")
HOSPITALS = ("Organization/bench-hospital-1", "Organization/bench-hospital-2")
ROLE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]}
PROVISIONS: tuple[dict[str, Any], ...] = (
    {
        "type": "permit",
        "provision": [
            {
                "type": "deny",
                "securityLabel": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY"}],
            }
        ],
    },
    {
        "type": "deny",
        "provision": [{"type": "permit", "actor": [{"role": ROLE, "reference": {"reference": HOSPITALS[1]}}]}],
    },
    {
        "type": "permit",
        "provision": [
            {
                "type": "deny",
                "purpose": [
                    {"system": "https://tsunagi.example.jp/fhir/CodeSystem/purpose-of-use", "code": "welfare-support"}
                ],
            }
        ],
    },
    {"type": "permit", "provision": [{"type": "deny", "dataPeriod": {"end": "2020-12-31"}}]},
)


def load(args: argparse.Namespace) -> str:
    url = with_database(args.server, args.database)
    if args.skip_load:
        migrate(url)
        search.setup_django(url)
        if not _consents_written():
            consents_write(args.share, args.seed)
        return url
    progress(f"recreating database {args.database!r}")
    url = recreate_database(args.server, args.database)
    migrate(url)
    search.setup_django(url)
    plan = search.make_plan(args.people, quick=False)
    progress(f"loading {args.people:,} people")
    search.load_region(plan, args.seed)
    search.vacuum_analyze(url)
    consents_write(args.share, args.seed)
    return url


def _consents_written() -> bool:
    from federation.models import Resource

    return Resource.objects.filter(resource_type="Consent", logical_id__startswith="bench-consent-").exists()


def consents_write(share: float, seed: int) -> None:
    from consent.contracts import AccessContext
    from federation.models import Resource
    from federation.storage.services import resource_update

    system = AccessContext.system("consent benchmark")
    patients = list(
        Resource.objects.filter(resource_type="Patient").order_by("pk").values_list("logical_id", flat=True)
    )
    chosen = random.Random(seed).sample(patients, int(len(patients) * share))
    progress(f"writing {len(chosen):,} Consents")
    for index, patient in enumerate(chosen):
        logical_id = f"bench-consent-{index}"
        resource = {
            "resourceType": "Consent",
            "id": logical_id,
            "status": "active",
            "scope": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]
            },
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": f"Patient/{patient}"},
            "dateTime": "2026-01-01",
            "provision": PROVISIONS[index % len(PROVISIONS)],
        }
        resource_update(access=system, resource_type="Consent", logical_id=logical_id, resource=resource)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from consent.contracts import AccessContext, AccessKind, Purpose
    from consent.facade import access_filter
    from consent.models import ConsentRule
    from federation.models import Resource
    from federation.search.query import parse_query
    from federation.search.searching import resource_search

    system = AccessContext.system("consent benchmark")
    clinician = AccessContext(
        kind=AccessKind.USER,
        purpose=Purpose.TREATMENT,
        subject="bench|clinician",
        organization=HOSPITALS[0],
        practitioner="Practitioner/bench",
        emergency=(),  # as a token's context brings it: no break-the-glass declarations
    )
    started = time.perf_counter()
    access_filter(clinician, Resource.objects.none()).exists()  # compiles the rules queued by the writes
    results: dict[str, Any] = {
        "rules": ConsentRule.objects.count(),
        "rules_compiled_s": round(time.perf_counter() - started, 1),
        "queries": {},
    }

    def searcher(access: AccessContext) -> Callable[[tuple[str, Any]], object]:
        return lambda typed: resource_search(access=access, query=typed[1], types=(typed[0],))

    region = search.Region(people=args.people, seed=args.seed)
    rng = random.Random(args.seed)
    for query in search.CLINIC_QUERIES:
        draws = [query.draw(rng, region) for _ in range(args.draws)]
        queries = [
            (draw.resource_type, parse_query(draw.resource_type, [*parse_qsl(draw.query), ("_total", "accurate")]))
            for draw in draws
        ]
        timings = _timed_in_turn(queries, {"system": searcher(system), "user": searcher(clinician)})
        plans = {}
        for name, access in (("system", system), ("user", clinician)):
            with CaptureQueriesContext(connection) as captured:
                resource_search(access=access, query=queries[0][1], types=(queries[0][0],))
            plans[name] = [_explained(connection, entry["sql"]) for entry in captured.captured_queries]
        results["queries"][query.name] = {**_comparison(query, draws[0].path, timings), "explain": plans}
    return results


def _timed_in_turn(items: Sequence[T], senders: dict[str, Callable[[T], object]]) -> dict[str, list[float]]:
    """Each item sent by every sender in turn, after a warm-up round that is not timed: ms per sender."""
    timings: dict[str, list[float]] = {name: [] for name in senders}
    for repeat in range(2):  # the first round warms caches
        for item in items:
            for name, send in senders.items():
                began = time.perf_counter()
                send(item)
                if repeat:
                    timings[name].append((time.perf_counter() - began) * 1000)
    return timings


def _comparison(query: Any, example: str, timings: dict[str, list[float]]) -> dict[str, Any]:
    return {
        "title": query.title,
        "example": example,
        "system_ms": _summary(timings["system"]),
        "user_ms": _summary(timings["user"]),
        "p95_overhead": round(_p95(timings["user"]) / _p95(timings["system"]) - 1, 3),
    }


def clinician_token() -> str:
    """A token of a clinic's app that a clinician of HOSPITALS[0] approved (user/*.rs), recorded server-side by the
    service the authorisation server records approvals with."""
    from datetime import timedelta

    from accounts.contracts import Role
    from accounts.services import account_assign_role, account_register
    from consent.clients import client_register
    from consent.models import ClientKind
    from consent.smart.authorisations import app_authorisation_issue

    account = account_assign_role(
        account=account_register(issuer="bench", subject="clinician"),
        role=Role.CLINICIAN,
        organization=HOSPITALS[0],
        practitioner="Practitioner/bench",
    )
    client = client_register(
        name="bench clinic app",
        kind=ClientKind.CONFIDENTIAL,
        organization=HOSPITALS[0],
        scopes="user/*.rs",
        redirect_uris=["http://127.0.0.1/callback"],
    )
    token = app_authorisation_issue(
        client_id=client.client_id, user=account.user, scope="user/*.rs", lasts=timedelta(days=1)
    )
    return str(token.token)


def measure_http(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """The clinic queries over HTTP, each draw sent in both contexts in turn, after one warm-up round."""
    results: dict[str, Any] = {"mode": "http", "queries": {}}
    with running_server(url, "gthread") as server:
        system = FhirClient(server)
        user = FhirClient(Server(server.base, clinician_token()))
        region = search.Region(people=args.people, seed=args.seed)
        rng = random.Random(args.seed)
        pooled: dict[str, list[float]] = {"system": [], "user": []}
        for query in search.CLINIC_QUERIES:
            calls = [Call("GET", f"{query.draw(rng, region).path}&_total=accurate") for _ in range(args.draws)]
            timings = _timed_in_turn(calls, {"system": system.send, "user": user.send})
            results["queries"][query.name] = _comparison(query, calls[0].path, timings)
            for name, values in timings.items():
                pooled[name] += values
            progress(f"{query.name} done")
    results["query_set"] = {  # every draw of every query: the set's own percentiles
        "system_ms": _summary(pooled["system"]),
        "user_ms": _summary(pooled["user"]),
        "p95_overhead": round(_p95(pooled["user"]) / _p95(pooled["system"]) - 1, 3),
    }
    return results


def _explained(connection: Any, sql: str) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        document = cursor.fetchone()[0]
    plan = document if isinstance(document, list) else json.loads(document)
    return {"sql": sql[:80], "planning_ms": plan[0]["Planning Time"], "execution_ms": plan[0]["Execution Time"]}


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _summary(values: Sequence[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 2), "p95": round(_p95(values), 2)}


def _plans(plans: list[dict[str, Any]]) -> str:
    """Planning/execution ms of the statements that read resources (the count and the page)."""
    return " ".join(
        f"{p['planning_ms']:.1f}/{p['execution_ms']:.1f}" for p in plans if "federation_resource" in p["sql"]
    )


def table(results: dict[str, Any]) -> str:
    lines = [f"rules: {results['rules']:,} (compiled in {results['rules_compiled_s']} s)" if "rules" in results else ""]
    lines.append(
        f"{'query':<52} {'system p50/p95':>17} {'user p50/p95':>17} {'p95 +':>6}  plan/exec ms (system | user)"
    )
    for name, query in results["queries"].items():
        system, user = query["system_ms"], query["user_ms"]
        timing = f"{system['p50']:>8.2f}/{system['p95']:<8.2f} {user['p50']:>8.2f}/{user['p95']:<8.2f}"
        explain = query.get("explain")
        plans = f"{_plans(explain['system'])} | {_plans(explain['user'])}" if explain else ""
        lines.append(f"{name} {query['title']:<50} {timing} {query['p95_overhead'] * 100:>5.0f}%  {plans}")
    if "query_set" in results:
        whole = results["query_set"]
        system, user = whole["system_ms"], whole["user_ms"]
        timing = f"{system['p50']:>8.2f}/{system['p95']:<8.2f} {user['p50']:>8.2f}/{user['p95']:<8.2f}"
        lines.append(f"  {'the whole query set (every draw)':<50} {timing} {whole['p95_overhead'] * 100:>5.0f}%")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=2_000)
    parser.add_argument("--share", type=float, default=0.3, help="the share of people who gave a Consent")
    parser.add_argument("--draws", type=int, default=60, help="draws of each query, each timed in both contexts")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--skip-load", action="store_true", help="reuse the loaded database")
    parser.add_argument("--server", default=search.DEFAULT_SERVER)
    parser.add_argument("--database", default=DATABASE, help=f"the database to load or reuse (default {DATABASE})")
    parser.add_argument("--http", action="store_true", help="time the queries through gunicorn with tokens")
    args = parser.parse_args(argv)
    try:
        url = load(args)
        results = measure_http(args, url) if args.http else measure(args)
    except BenchError as error:
        print(f"benchmark stopped: {error}", file=sys.stderr)
        return 1
    print(table(results))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"consent-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    progress(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
