"""Link every queued Patient to its person (what ingest commands run with --no-link left for later)."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.progress import progress_counter, progress_end
from federation.identity.linking import identity_link_all, identity_queue_size


class Command(BaseCommand):
    help = "Link queued Patients to persons; prints what it did and how long its batches took (--json: one object)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the counts and timings as one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        show = options["verbosity"] > 0 and not options["json"]
        total = identity_queue_size()
        bar = progress_counter(total, unit="Patients linked") if show and total else None
        batch_seconds: list[float] = []
        started = last = time.perf_counter()

        def batch_done(taken: int) -> None:
            nonlocal last
            now = time.perf_counter()
            batch_seconds.append(now - last)
            last = now
            if bar is not None:
                bar(taken)

        counts = identity_link_all(progress=batch_done)
        seconds = time.perf_counter() - started
        if bar is not None:
            progress_end()
        timing = _timing(seconds, batch_seconds)
        if options["json"]:
            self.stdout.write(json.dumps({**asdict(counts), "records": counts.records, **timing}))
            return
        self.stdout.write(
            f"linked {counts.linked} records to a known person, {counts.new_persons} new persons, "
            f"{counts.reviews} possible matches for review, {counts.refreshed} refreshed, {counts.unlinked} unlinked, "
            f"{counts.golden_records} golden records written in {seconds:.1f} s ({len(batch_seconds)} batches, "
            f"median {timing['batch_median_s']} s, p95 {timing['batch_p95_s']} s)"
        )


def _timing(seconds: float, batches: list[float]) -> dict[str, float]:
    ordered = sorted(batches)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0
    return {
        "seconds": round(seconds, 2),
        "batch_median_s": round(statistics.median(ordered), 3) if ordered else 0.0,
        "batch_p95_s": round(p95, 3),
    }
