"""How the ingest commands report: one closing summary, as text or as one JSON object; and the exit code."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from connectors.pipeline import IngestSummary

EXIT_STORED = 0
EXIT_QUARANTINED = 1


def summary_render(summary: IngestSummary, *, as_json: bool) -> str:
    if as_json:
        return json.dumps(asdict(summary), ensure_ascii=False)
    lines = [
        f"received {summary.received} messages ({summary.duplicates} already seen), {summary.records} records: "
        f"stored {summary.created}, updated {summary.updated}, unchanged {summary.unchanged}, "
        f"deleted {summary.deleted}, quarantined {summary.quarantined}",
        *(f"  {error}" for error in summary.first_errors),
    ]
    if summary.persons is not None:
        persons = summary.persons
        lines.append(
            f"persons: {persons.linked} records linked to a known person, {persons.new_persons} new persons, "
            f"{persons.reviews} possible matches for review"
        )
    return "\n".join(lines)


def summary_exit_code(summary: IngestSummary) -> int:
    """0 when everything was stored, 1 when anything was quarantined."""
    return EXIT_QUARANTINED if summary.quarantined else EXIT_STORED


def worker_count(text: str) -> int:
    """`--workers`: a whole number of processes, at least 1 (argparse turns the error into exit code 2)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"--workers takes a whole number of processes, 1 or more, not '{text}'")
    return int(text)
