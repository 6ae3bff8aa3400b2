"""Benchmark of the ingest pipeline on a generated region, per connector, against a bare COPY of the same JSON.

Run it as `.venv/bin/python bench/ingest.py [--people N]` (default 1,000). It drops and recreates the
`tsunagi_ingest_bench` database on the machine's PostgreSQL server (DATABASE_URL's server, else the embedded
one), migrates it, generates a region (seed 1) into a temporary folder, then ingests each source with
`manage.py ingest --json` in its own process while a sampler keeps that process's peak memory. Rates are
records per second (a record is one HL7 message, one JAHIS dispensing, one CSV row, one Bundle or NDJSON
line) and stored resources per second. The floor: every stored resource's JSON is copied with COPY into a
one-column jsonb table on one connection — the limit the FHIR path is compared with. Results print and go
to bench/results/ingest-<timestamp>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg
from fhir_api import (
    RESULTS_DIR,
    VENV_BIN,
    django_env,
    git_commit,
    machine_facts,
    migrate,
    recreate_database,
    server_url,
    server_version,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DATABASE = "tsunagi_ingest_bench"


def peak_rss(process: subprocess.Popen[bytes]) -> int:
    """Wait for the process while sampling its RSS every 50 ms; the peak in bytes."""
    peak = 0
    watched = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    return peak


def run_source(database_url: str, raw_dir: Path, region: Path, source: dict[str, Any]) -> dict[str, Any]:
    env = django_env(database_url) | {"RAW_STORE_DIR": str(raw_dir)}
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
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(
            [
                *manage,
                "ingest",
                "--json",
                "--connector",
                source["kind"],
                "--source",
                source["code"],
                str(region / source["path"]),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
        peak = peak_rss(process)
        seconds = time.perf_counter() - started
        out.seek(0)
        summary = json.loads(out.read())
    written = summary["created"] + summary["updated"]
    return {
        "source": source["code"],
        "connector": source["kind"],
        "seconds": round(seconds, 2),
        "records": summary["records"],
        "resources_written": written,
        "quarantined": summary["quarantined"],
        "records_per_second": round(summary["records"] / seconds, 1),
        "resources_per_second": round(written / seconds, 1),
        "peak_rss_mb": round(peak / 2**20),
    }


def copy_floor(database_url: str) -> dict[str, Any]:
    """COPY every stored resource's JSON into a one-column table: resources per second."""
    with psycopg.connect(database_url) as connection:
        rows = [row[0] for row in connection.execute("SELECT content::text FROM federation_resource")]
        connection.execute("CREATE TEMPORARY TABLE copy_floor (content jsonb)")
        started = time.perf_counter()
        with connection.cursor().copy("COPY copy_floor (content) FROM STDIN") as copy:
            for text in rows:
                copy.write_row((text,))
        seconds = time.perf_counter() - started
    return {"resources": len(rows), "seconds": round(seconds, 3), "resources_per_second": round(len(rows) / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000)
    args = parser.parse_args()
    server, where = server_url()
    database_url = recreate_database(server, BENCH_DATABASE)
    migrate(database_url)
    scratch = Path(tempfile.mkdtemp(prefix="tsunagi-ingest-bench-"))
    try:
        region = scratch / "region"
        subprocess.run(
            [
                str(VENV_BIN / "python"),
                "manage.py",
                "generate_region",
                "--people",
                str(args.people),
                "--out",
                str(region),
                "--verbosity",
                "0",
            ],
            cwd=REPO_ROOT,
            env=django_env(database_url),
            check=True,
        )
        sources = json.loads((region / "sources.json").read_text(encoding="utf-8"))["sources"]
        ordered = sorted(sources, key=lambda s: s["kind"] != "resident-register")  # the register first
        per_source = []
        for source in ordered:
            per_source.append(run_source(database_url, scratch / "raw", region, source))
            print(json.dumps(per_source[-1], ensure_ascii=False), file=sys.stderr)
        floor = copy_floor(database_url)
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
        "as_of": date(2026, 3, 31).isoformat(),
        "by_connector": by_connector,
        "per_source": per_source,
        "copy_floor": floor,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"ingest-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for connector, total in by_connector.items():
        print(
            f"{connector:18} {total['records_per_second']:>8} records/s {total['resources_per_second']:>8} resources/s"
        )
    print(f"{'COPY floor':18} {floor['resources_per_second']:>8} resources/s")
    print(f"written to {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
