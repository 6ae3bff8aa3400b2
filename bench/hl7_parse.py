"""Micro-benchmark of the HL7 v2 read path: parse and map every message of a generated region's SS-MIX2 sources.

Run it as `.venv/bin/python bench/hl7_parse.py [--rounds N] [--people N | --region DIR]`. It reads the
region's SS-MIX2 sources (generated with seed 1 into a temporary folder, or an existing `manage.py
generate_region` output) into memory, then, in this process and without a database, runs each file through
the `ssmix2` connector's `records` (file name, message split, decode, parse, map to FHIR) once per round,
timing each file in CPU time of this thread (other processes on the machine do not count). Prints median and
p95 microseconds per message and the total of the median round, the same for parsing and for mapping alone,
and a digest of every record the connector returned (entries and problems): the same digest on two commits,
the same output. Results go to bench/results/hl7_parse-<timestamp>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from fhir_api import RESULTS_DIR, git_commit, machine_facts, percentile  # noqa: E402
from validation import generated_region  # noqa: E402

from connectors.base import SourceInfo  # noqa: E402
from connectors.hl7v2 import mapping  # noqa: E402
from connectors.hl7v2.parser import Hl7Error, RawMessage, parse, read_messages  # noqa: E402
from connectors.ssmix2.connector import CONNECTOR, stored_file  # noqa: E402

File = tuple[SourceInfo, str, bytes]  # the source, the file's path in it (the origin), its bytes


def ssmix2_files(region: Path) -> list[File]:
    """Every file the `ssmix2` connector would read in the region, in its order, with its source."""
    files: list[File] = []
    for source in json.loads((region / "sources.json").read_text(encoding="utf-8"))["sources"]:
        if source["kind"] != "ssmix2":
            continue
        identifier = source["organization"]["identifier"]
        info = SourceInfo(
            source["code"],
            "ssmix2",
            source["organization"]["name"],
            identifier["system"],
            identifier["value"],
            source["patient_identifier_system"],
        )
        root = region / source["path"]
        files.extend((info, path.relative_to(root).as_posix(), path.read_bytes()) for path in CONNECTOR.paths(root))
    return files


def read_file(file: File) -> list[Any]:
    source, origin, data = file
    return list(CONNECTOR.records(source, io.BytesIO(data), origin))


def parsed_messages(files: list[File]) -> list[tuple[File, RawMessage]]:
    """Each file's message as read off its bytes (files that are not one message are left out)."""
    found = []
    for file in files:
        items = list(read_messages(io.BytesIO(file[2])))
        if len(items) == 1 and isinstance(items[0], RawMessage):
            found.append((file, items[0]))
    return found


def parse_only(item: tuple[File, RawMessage]) -> Any:
    try:
        return parse(item[1])
    except Hl7Error:
        return None


def parsed_again(item: tuple[File, RawMessage]) -> tuple[File, Any]:
    """The message freshly parsed, so that mapping it splits its fields (a parsed message keeps what it read)."""
    return item[0], parse_only(item)


def map_only(item: tuple[File, Any]) -> Any:
    (source, origin, _), message = item
    if message is None:
        return None
    stored = stored_file(origin)
    context = mapping.MessageContext(source, stored.key, stored.patient_id, deleted=stored.flag == "0")
    try:
        return mapping.entries(message, context)
    except Hl7Error:
        return None


def timed(
    step: Callable[[Any], Any], items: list[Any], rounds: int, prepare: Callable[[Any], Any] = lambda item: item
) -> dict[str, float]:
    """Microseconds per call of `step` on each item (`prepare`d first, untimed): median and p95 over every call
    of every round, and the milliseconds of the median round."""
    for item in items:  # warm up
        step(prepare(item))
    calls: list[float] = []
    totals: list[float] = []
    for _ in range(rounds):
        spent = 0
        for item in items:
            argument = prepare(item)
            started = time.thread_time_ns()
            step(argument)
            elapsed = time.thread_time_ns() - started
            spent += elapsed
            calls.append(elapsed / 1000)
        totals.append(spent / 1e6)
    ordered = sorted(calls)
    return {
        "median_us": round(statistics.median(ordered), 1),
        "p95_us": round(percentile(ordered, 95), 1),
        "mean_us": round(statistics.fmean(ordered), 1),
        "total_ms": round(statistics.median(totals), 1),
    }


def output_digest(files: list[File]) -> str:
    """A sha256 of every record the connector returns for the files: the same digest, the same output."""
    digest = hashlib.sha256()
    for file in files:
        for record in read_file(file):
            digest.update(json.dumps(asdict(record), sort_keys=True, ensure_ascii=False, default=str).encode())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--people", type=int, default=300, help="people in the generated region")
    parser.add_argument("--region", type=Path, help="an existing generate_region output, instead of generating")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="tsunagi-hl7-bench-"))
    try:
        files = ssmix2_files(args.region or generated_region(args.people, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    messages = parsed_messages(files)
    result: dict[str, Any] = {
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": machine_facts(),
        "rounds": args.rounds,
        "files": len(files),
        "output_sha256": output_digest(files),
        "steps": {
            "records (parse + map)": timed(read_file, files, args.rounds),
            "parse": timed(parse_only, messages, args.rounds),
            "map": timed(map_only, messages, args.rounds, prepare=parsed_again),
        },
    }
    report(result)


def report(result: dict[str, Any]) -> None:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"hl7_parse-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"{result['files']} SS-MIX2 files, {result['rounds']} rounds, commit {result['git_commit']}")
    print(f"{'step':22} {'median us':>10} {'p95 us':>8} {'mean us':>8} {'total ms':>9}")
    for name, row in result["steps"].items():
        print(f"{name:22} {row['median_us']:10} {row['p95_us']:8} {row['mean_us']:8} {row['total_ms']:9}")
    print(f"output sha256 {result['output_sha256']}")
    print(f"written to {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
