"""Benchmark of the synthetic region generator: wall time and peak memory, against the file-system floor.

Run it as `.venv/bin/python bench/generate_region.py [--people N] [--workers W]` (default 100,000 people,
2 workers). It generates a region into a temporary folder while a sampler thread adds up the resident
memory of the whole process tree every 100 ms (the peak is the figure the issue's 1 GB target is about),
records each chunk's wall time (200 households, about 440 people) for the median and p95, then copies
writes every tenth file of the output again into a second folder (same place, same size, nothing to
compute): the file-system cost of that many small files, scaled to all files, is the floor the generator
is compared with. Results print and go to
bench/results/generate_region-<timestamp>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from fhir_api import RESULTS_DIR, git_commit, machine_facts, percentile  # noqa: E402

from synthetic.region import RegionSpec, region_generate  # noqa: E402

AS_OF = date(2026, 3, 31)


class TreeMemory:
    """Samples the summed RSS of this process and its children until stopped; keeps the peak."""

    def __init__(self) -> None:
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.1):
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.peak_bytes = max(self.peak_bytes, total)


def write_floor(source: Path, target: Path, every: int = 10) -> tuple[float, int, int]:
    """Seconds to write every `every`-th file of `source` again (same folder, name and size, no content to
    compute), scaled to all files; and the number and bytes of all files. Dirty pages are flushed first so
    the floor starts from the same state as the generator did."""
    sizes: list[tuple[Path, int]] = []
    files = size = 0
    for folder, _, names in os.walk(source):
        for name in names:
            path = Path(folder) / name
            length = path.stat().st_size
            files += 1
            size += length
            if files % every == 0:
                sizes.append((target / path.relative_to(source), length))
    os.sync()
    started = time.perf_counter()
    made: set[Path] = set()
    for path, length in sizes:
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_bytes(b"x" * length)
    return (time.perf_counter() - started) * every, files, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    import django

    django.setup()
    scratch = Path(tempfile.mkdtemp(prefix="tsunagi-region-bench-"))
    try:
        chunk_seconds: list[float] = []
        out = scratch / "region"
        out.mkdir()
        os.sync()
        started = time.perf_counter()
        with TreeMemory() as memory:
            summary = region_generate(
                RegionSpec(seed=args.seed, people=args.people, as_of=AS_OF),
                out,
                workers=args.workers,
                chunk_seconds=chunk_seconds,
            )
        generate_s = time.perf_counter() - started
        print(f"generated {args.people} people in {generate_s:.1f} s, peak tree RSS {memory.peak_bytes / 2**20:.0f} MB")
        floor_s, files, size = write_floor(out, scratch / "floor")
        ordered = sorted(chunk_seconds)
        result: dict[str, Any] = {
            "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "machine": machine_facts(),
            "people": args.people,
            "workers": args.workers,
            "households": summary["households"],
            "generate_seconds": round(generate_s, 1),
            "people_per_second": round(args.people / generate_s),
            "peak_tree_rss_mb": round(memory.peak_bytes / 2**20),
            "chunks": len(ordered),
            "chunk_seconds_median": round(statistics.median(ordered), 3),
            "chunk_seconds_p95": round(percentile(ordered, 95), 3),
            "files": files,
            "megabytes": round(size / 2**20),
            "write_floor_seconds": round(floor_s, 1),
            "people_per_source": summary["people_per_source"],
        }
        report(result)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def report(result: dict[str, Any]) -> None:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"generate_region-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for key in (
        "people",
        "workers",
        "generate_seconds",
        "people_per_second",
        "peak_tree_rss_mb",
        "chunks",
        "chunk_seconds_median",
        "chunk_seconds_p95",
        "files",
        "megabytes",
        "write_floor_seconds",
    ):
        print(f"{key:24} {result[key]}")
    print(f"written to {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
