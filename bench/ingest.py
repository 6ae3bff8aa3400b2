"""Benchmark of the ingest pipeline on a generated region, per connector, against a bare COPY of the same JSON.

Run it as `.venv/bin/python bench/ingest.py [--people N] [--workers W] [--no-ndjson] [--export DIR]
[--database NAME] [--region DIR] [--connector KIND]... [--start-from DATABASE]` (default 1,000 people, 2
workers). It drops and recreates the `tsunagi_ingest_bench` database (or NAME) on the machine's PostgreSQL
server (DATABASE_URL's server, else the embedded one), migrates it, generates a region (seed 1) into a temporary
folder, then ingests each source with `manage.py ingest --json --workers W` in its own process while a sampler
keeps the peak memory (PSS) of that process tree (the workers included). Rates are records per second (a record
is one HL7 message, one JAHIS dispensing, one CSV row, one Bundle or NDJSON line) and stored resources per
second; CPU per stored resource of the ingest process (its workers included) and of its PostgreSQL backends
(when the server runs on this machine), which a machine shared with other work measures better than rates; and
the batches that collided with the other worker and were planned again (`collisions`).

To measure one connector at scale without ingesting the whole region each time: `--region DIR` keeps the
generated region in DIR (or uses the one there), `--connector KIND` ingests only that connector's sources, and
`--start-from DATABASE` starts from a copy of a database an earlier run filled (kept under its `--database`
name) instead of an empty one. For example, fill `ingest_base` with the sources ingested before JAHIS once
(`--database ingest_base --connector resident-register --connector ssmix2 --connector fhir --no-ndjson`), then
time JAHIS alone on copies of it (`--start-from ingest_base --connector jahis --no-ndjson`).

FHIR NDJSON: the resources the region's sources stored are written out as a Bulk export would (one
`<Type>.ndjson` per type, ids and `Type/id` references of this server; Provenance left out, as it has no
identifier to re-key a loose copy on) and ingested into a second, fresh database (`<database>_ndjson`) as one
`fhir` source. The floor: the same NDJSON lines copied with COPY into a one-column jsonb table on one
connection, in the same run — the limit the FHIR path is compared with. `--repeat N` runs that phase N times
(the floor, then the ingest into a fresh database, each time) and reports each run's ratio and their median:
both rates move with the machine's state from minute to minute. `--export DIR` keeps the export in
DIR; when DIR already holds one, the region is skipped and only the NDJSON phase runs, on that export (to
compare two commits on the same lines). Results print and go to bench/results/ingest-<timestamp>.json
(git-ignored).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from statistics import median
from typing import Any
from urllib.parse import urlsplit

import psutil
import psycopg
from fhir_api import (
    RESULTS_DIR,
    VENV_BIN,
    django_env,
    git_commit,
    machine_facts,
    migrate,
    project_compiled,
    recreate_database,
    server_url,
    server_version,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DATABASE = "tsunagi_ingest_bench"
LEFT_OUT_OF_EXPORT = ("Provenance",)
SAMPLE_SECONDS = 0.25
ROUNDS_PER_SCAN = 4  # memory and new backends are looked at every fourth round: once a second


@dataclass(frozen=True)
class Watched:
    """What an ingest process used: peak memory of its tree, CPU of the process and its workers, and CPU of
    its PostgreSQL backends (None when the server is not on this machine)."""

    peak_pss: int
    cpu_seconds: float
    backend_cpu_seconds: float | None


def watch(process: subprocess.Popen[bytes], database: str) -> Watched:
    """Wait for the process while sampling what it uses; see Watched.

    Memory: the peak PSS (proportional set size) of it and its worker processes, read from smaps_rollup once a
    second (memory grows with batches of seconds, not faster). PSS sums a process tree without counting pages
    the forked workers share with their parent once per process, as a sum of RSS would. CPU: the process's own,
    its waited-for workers included (wait4), and the last CPU time seen of each backend serving `database`,
    read every SAMPLE_SECONDS; backends are looked for (their process title names the database) once a second,
    as each new worker connects. A backend's CPU after the last sample, at most SAMPLE_SECONDS, is not counted.
    The sampler runs on the same two cores as the ingest: reading every process's title and the tree's
    smaps_rollup four times a second took 6% of a core from the path it measured, once a second takes 1.5%."""
    peak = 0
    backends: dict[int, psutil.Process] = {}
    last_cpu: dict[int, float] = {}
    watched = psutil.Process(process.pid)
    for round_number in itertools.count():
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            break
        if round_number % ROUNDS_PER_SCAN == 0:
            try:
                tree = [watched, *watched.children(recursive=True)]
                peak = max(peak, sum(pss_bytes(member.pid) for member in tree))
            except (psutil.NoSuchProcess, FileNotFoundError, ProcessLookupError):
                pass
            backends |= database_backends(database)
        for backend_pid, backend in list(backends.items()):
            try:
                times = backend.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                del backends[backend_pid]
                continue
            last_cpu[backend_pid] = times.user + times.system
        time.sleep(SAMPLE_SECONDS)
    return Watched(peak, usage.ru_utime + usage.ru_stime, sum(last_cpu.values()) if last_cpu else None)


def database_backends(database: str) -> dict[int, psutil.Process]:
    """The PostgreSQL backends of this machine serving `database`, by process id."""
    found = {}
    for candidate in psutil.process_iter(["cmdline"]):
        title = " ".join(candidate.info["cmdline"] or ())
        if title.startswith("postgres: ") and f" {database} " in title:
            found[candidate.pid] = candidate
    return found


def pss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


COLLIDED = "collided with another writer"  # federation.ingest.records logs each batch planned again


def run_source(database_url: str, raw_dir: Path, region: Path, source: dict[str, Any], workers: int) -> dict[str, Any]:
    env = django_env(database_url) | {"RAW_STORE_DIR": str(raw_dir), "LOG_LEVEL": "INFO"}
    manage = [str(VENV_BIN / "python"), "manage.py"]
    identifier = source["organization"]["identifier"]
    subprocess.run(
        [
            *manage,
            "add_source",
            "--code",
            source["code"],
            "--connector",
            source["kind"],
            "--organization-name",
            source["organization"]["name"],
            "--organization-identifier",
            f"{identifier['system']}|{identifier['value']}",
            "--patient-identifier-system",
            source["patient_identifier_system"],
        ],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [
                *manage,
                "ingest",
                "--json",
                "--no-link",  # linking is measured by bench/identity.py
                "--connector",
                source["kind"],
                "--source",
                source["code"],
                "--workers",
                str(workers),
                str(region / source["path"]),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=log,
        )
        used = watch(process, urlsplit(database_url).path.lstrip("/"))
        seconds = time.perf_counter() - started
        out.seek(0)
        summary = json.loads(out.read())
        log.seek(0)
        collisions = sum(1 for line in log if COLLIDED.encode() in line)
    written = summary["created"] + summary["updated"]
    lines = jahis_lines(region / source["path"]) if source["kind"] == "jahis" else None
    return {
        "source": source["code"],
        "connector": source["kind"],
        "seconds": round(seconds, 2),
        "records": summary["records"],
        "resources_written": written,
        "quarantined": summary["quarantined"],
        "collisions": collisions,
        "records_per_second": round(summary["records"] / seconds, 1),
        "resources_per_second": round(written / seconds, 1),
        "peak_pss_mb": round(used.peak_pss / 2**20),
        "cpu_us_per_resource": round(1e6 * used.cpu_seconds / written) if written else None,
        "backend_cpu_us_per_resource": (
            round(1e6 * used.backend_cpu_seconds / written) if written and used.backend_cpu_seconds else None
        ),
        **({"jahis_lines": lines, "jahis_lines_per_second": round(lines / seconds, 1)} if lines else {}),
    }


def jahis_lines(folder: Path) -> int:
    """JAHIS calls each CSV line a record (レコード: patient, dispensing date, drug...): their number."""
    return sum(
        sum(1 for line in path.read_bytes().splitlines() if line.strip())
        for path in folder.rglob("*")
        if path.is_file()
    )


def ndjson_export(database_url: str, out: Path) -> None:
    """The stored resources as a Bulk export's files (`<Type>.ndjson`)."""
    out.mkdir(parents=True)
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT resource_type, content::text FROM federation_resource "
            "WHERE NOT is_deleted AND resource_type <> ALL(%s) ORDER BY resource_type, id",
            [list(LEFT_OUT_OF_EXPORT)],
        )
        files: dict[str, Any] = {}
        try:
            for resource_type, text in rows:
                if resource_type not in files:
                    files[resource_type] = (out / f"{resource_type}.ndjson").open("w", encoding="utf-8")
                files[resource_type].write(text + "\n")
        finally:
            for file in files.values():
                file.close()


def copy_floor(database_url: str, lines: list[str]) -> dict[str, Any]:
    """COPY the NDJSON lines into a one-column jsonb table: resources per second."""
    with psycopg.connect(database_url) as connection:
        connection.execute("CREATE TEMPORARY TABLE copy_floor (content jsonb)")
        started = time.perf_counter()
        with connection.cursor().copy("COPY copy_floor (content) FROM STDIN") as copy:
            for text in lines:
                copy.write_row((text,))
        seconds = time.perf_counter() - started
    return {"resources": len(lines), "seconds": round(seconds, 3), "resources_per_second": round(len(lines) / seconds)}


def ndjson_run(
    server: str, database_url: str, database: str, scratch: Path, export: Path, workers: int
) -> dict[str, Any]:
    """The floor, then the FHIR path on the same lines, and how many times slower the path is."""
    lines = exported_lines(export)
    floor = copy_floor(database_url, lines)
    del lines
    ingest = run_ndjson(server, database, scratch, export, workers)
    ratio = floor["resources_per_second"] / ingest["resources_per_second"]
    return {"copy_floor": floor, "ingest": ingest, "times_the_floor": round(ratio, 1)}


def ndjson_summary(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Medians over the runs of the NDJSON phase (each run's own ratio, not a ratio of medians)."""
    if not runs:
        return None
    return {
        "runs": len(runs),
        "resources_per_second": round(median(run["ingest"]["resources_per_second"] for run in runs)),
        "floor_resources_per_second": round(median(run["copy_floor"]["resources_per_second"] for run in runs)),
        "times_the_floor": round(median(run["times_the_floor"] for run in runs), 1),
        "cpu_us_per_resource": median(run["ingest"]["cpu_us_per_resource"] for run in runs),
        "backend_cpu_us_per_resource": median(run["ingest"]["backend_cpu_us_per_resource"] for run in runs),
    }


def exported_lines(export: Path) -> list[str]:
    """The lines of the export, for the COPY floor."""
    return [line for file in sorted(export.glob("*.ndjson")) for line in file.read_text(encoding="utf-8").splitlines()]


def run_ndjson(server: str, database: str, scratch: Path, export: Path, workers: int) -> dict[str, Any]:
    """Ingest the export into a fresh database as one fhir source."""
    database_url = recreate_database(server, f"{database}_ndjson")
    migrate(database_url)
    source = {
        "code": "bulk-export",
        "kind": "fhir",
        "organization": {"name": "Bulk export", "identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:bench"}},
        "patient_identifier_system": "https://tsunagi.example.jp/fhir/IdSystem/patient/bulk-export",
        "path": export.name,
    }
    return run_source(database_url, scratch / "raw-ndjson", export.parent, source, workers)


def run_region(
    database_url: str, scratch: Path, region: Path, people: int, workers: int, connectors: list[str] | None
) -> list[dict[str, Any]]:
    """Generate a region (unless `region` holds one) and ingest each of its sources (of `connectors`, when
    given), the register first."""
    migrate(database_url)
    if not (region / "sources.json").exists():
        subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", "generate_region", "--people", str(people), "--out", str(region),
             "--verbosity", "0"],
            cwd=REPO_ROOT,
            env=django_env(database_url),
            check=True,
        )  # fmt: skip
    sources = json.loads((region / "sources.json").read_text(encoding="utf-8"))["sources"]
    per_source = []
    chosen = [source for source in sources if connectors is None or source["kind"] in connectors]
    for source in sorted(chosen, key=lambda s: s["kind"] != "resident-register"):
        per_source.append(run_source(database_url, scratch / "raw", region, source, workers))
        print(json.dumps(per_source[-1], ensure_ascii=False), file=sys.stderr)
    return per_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-ndjson", action="store_true", help="skip the FHIR NDJSON phase")
    parser.add_argument("--export", type=Path, help="keep the NDJSON export here; if it is there, run only its phase")
    parser.add_argument("--database", default=BENCH_DATABASE, help="the database to recreate (and NAME_ndjson)")
    parser.add_argument("--region", type=Path, help="generate the region here, or use the one already here")
    parser.add_argument(
        "--connector", action="append", dest="connectors", help="ingest only this connector's sources (repeatable)"
    )
    parser.add_argument("--start-from", metavar="DATABASE", help="start from a copy of this database, not empty")
    parser.add_argument("--repeat", type=int, default=1, help="run the NDJSON phase (floor and ingest) N times")
    args = parser.parse_args()
    project_compiled()
    server, where = server_url()
    database_url = recreate_database(server, args.database, template=args.start_from)
    scratch = Path(tempfile.mkdtemp(prefix="tsunagi-ingest-bench-"))
    export = args.export or scratch / "export"
    per_source: list[dict[str, Any]] = []
    ndjson_runs: list[dict[str, Any]] = []
    try:
        if not export.exists():
            region = args.region or scratch / "region"
            per_source = run_region(database_url, scratch, region, args.people, args.workers, args.connectors)
        if not args.no_ndjson:
            if not export.exists():
                ndjson_export(database_url, export)
            for _ in range(args.repeat):
                ndjson_runs.append(ndjson_run(server, database_url, args.database, scratch, export, args.workers))
                print(json.dumps(ndjson_runs[-1], ensure_ascii=False), file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    by_connector: dict[str, dict[str, float]] = {}
    for row in per_source:
        total = by_connector.setdefault(row["connector"], {"seconds": 0.0, "records": 0, "resources_written": 0})
        for key in total:
            total[key] += row[key]
    for total in by_connector.values():
        total["records_per_second"] = round(total["records"] / total["seconds"], 1)
        total["resources_per_second"] = round(total["resources_written"] / total["seconds"], 1)
    result = {
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": machine_facts(),
        "database": {"server": where, "postgresql": server_version(database_url)},
        "people": args.people,
        "workers": args.workers,
        "connectors": args.connectors,
        "start_from": args.start_from,
        "as_of": date(2026, 3, 31).isoformat(),
        "by_connector": by_connector,
        "per_source": per_source,
        "fhir_ndjson": ndjson_runs,
        "fhir_ndjson_summary": ndjson_summary(ndjson_runs),
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"ingest-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for connector, total in by_connector.items():
        print(
            f"{connector:18} {total['records_per_second']:>8} records/s {total['resources_per_second']:>8} resources/s"
        )
    for run in ndjson_runs:
        ingest, floor = run["ingest"], run["copy_floor"]
        print(
            f"{'fhir NDJSON':18} {ingest['records_per_second']:>8} lines/s "
            f"{ingest['resources_per_second']:>8} resources/s "
            f"CPU {ingest['cpu_us_per_resource']} µs + PostgreSQL {ingest['backend_cpu_us_per_resource']} µs; "
            f"COPY floor {floor['resources_per_second']} resources/s: {run['times_the_floor']} times slower"
        )
    if len(ndjson_runs) > 1:
        summary = result["fhir_ndjson_summary"]
        print(
            f"{'median of runs':18} {summary['resources_per_second']:>8} resources/s, COPY floor "
            f"{summary['floor_resources_per_second']} resources/s, {summary['times_the_floor']} times slower"
        )
    print(f"written to {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
