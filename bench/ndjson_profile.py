"""CPU per resource of the FHIR NDJSON ingest alone, in this process, with one worker: the figure to compare commits.

Run it as `.venv/bin/python bench/ndjson_profile.py --export DIR [--profile FILE] [--database NAME]`, DIR being an
export a run of `bench/ingest.py --export DIR` kept (its `<Type>.ndjson` files). It recreates the database
(default `tsunagi_ndjson_profile`, on DATABASE_URL's server), migrates it, registers one `fhir` source and
ingests the export with `path_ingest(workers=1)` here, timing the process's CPU time (user + system, which
other load on the machine barely moves, unlike wall time) and that of its PostgreSQL backend (read from /proc,
when the server runs on this machine). `--profile FILE` runs the ingest under cProfile, timing CPU rather than
waits on the server, and writes its stats to FILE (the profiler's own cost inflates every figure several times:
compare timings of runs without it). For a sampling profile, run the script under `py-spy record`.

It ends with a digest of what was stored (resources, versions and every index table, row counts and a hash
of their values with the random logical ids blanked out): two commits that store the same thing print the
same digest. Results print as one JSON object and go to bench/results/ndjson_profile-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from fhir_api import RESULTS_DIR, django_env, git_commit, machine_facts, migrate, recreate_database, server_url

REPO_ROOT = Path(__file__).resolve().parents[1]
PROFILE_DATABASE = "tsunagi_ndjson_profile"
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# What each stored table holds, as text without the per-run parts (keys, random ids, timestamps), and how its
# rows find their resource. The ingest's own Provenances (which name the time they were recorded) are left out.
INDEX_ROW = ("(to_jsonb(t) - 'resource_id')::text", "t.resource_id")
DIGESTED = {
    "federation_resource": (
        "((t.content - 'id') || jsonb_build_object('meta', (t.content -> 'meta') - 'lastUpdated' - 'versionId'))::text",
        "t.id",
    ),
    "federation_resourceversion": ("t.method || ' ' || t.version_id", "t.resource_id"),
    **{
        f"federation_{kind}index": INDEX_ROW
        for kind in ("token", "string", "date", "number", "quantity", "reference", "uri")
    },
}


def backend_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process of this machine (the PostgreSQL backend), None if it is elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ingest(export: Path, profile: Path | None) -> dict[str, Any]:
    """Register the source and ingest the export here, timed in CPU of this process and of its backend."""
    import django

    django.setup()
    from django.db import connection

    from connectors.pipeline import path_ingest, source_register

    source, _ = source_register(
        code="bulk-export",
        connector="fhir",
        organization_name="Bulk export",
        organization_system="urn:ietf:rfc:3986",
        organization_value="urn:bench",
        patient_identifier_system="https://tsunagi.example.jp/fhir/IdSystem/patient/bulk-export",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    backend_before = backend_cpu_seconds(backend)
    profiler = cProfile.Profile(time.process_time) if profile else None  # CPU, not waiting
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    summary = path_ingest(source=source, path=export, workers=1)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    backend_after = backend_cpu_seconds(backend)
    written = summary.created + summary.updated
    backend_cpu = backend_after - backend_before if backend_before is not None and backend_after is not None else None
    return {
        "records": summary.records,
        "resources_written": written,
        "quarantined": summary.quarantined,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "cpu_us_per_resource": round(1e6 * cpu / written) if written else None,
        "backend_cpu_us_per_resource": round(1e6 * backend_cpu / written) if written and backend_cpu else None,
        "profiled": profile is not None,
    }


def digest(database_url: str) -> dict[str, list[Any]]:
    """Per stored table: its row count and an MD5 of its rows' values, random ids blanked out."""
    found: dict[str, list[Any]] = {}
    with psycopg.connect(database_url) as connection:
        for table, (value, resource_id) in DIGESTED.items():
            blanked = f"regexp_replace(r.resource_type || ' ' || {value}, '{UUID}', 'ID', 'g')"
            row = connection.execute(
                f"SELECT count(*), md5(coalesce(string_agg(v, E'\\n' ORDER BY v), '')) "
                f"FROM (SELECT {blanked} AS v FROM {table} AS t JOIN federation_resource AS r "
                f"ON r.id = {resource_id} WHERE r.resource_type <> 'Provenance') AS rows"
            ).fetchone()
            assert row is not None
            found[table] = [row[0], row[1]]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path, required=True, help="a folder of <Type>.ndjson files")
    parser.add_argument("--profile", type=Path, help="write cProfile stats here")
    parser.add_argument("--database", default=PROFILE_DATABASE, help="the database to recreate")
    args = parser.parse_args()
    server, _ = server_url()
    database_url = recreate_database(server, args.database)
    migrate(database_url)
    os.environ.update(django_env(database_url))
    sys.path.insert(0, str(REPO_ROOT))
    result = {
        "commit": git_commit(),
        "export": str(args.export),
        "machine": machine_facts(),
        **ingest(args.export.resolve(), args.profile),
        "digest": digest(database_url),
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"ndjson_profile-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
