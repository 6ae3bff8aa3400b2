"""What the connectors' golden-file tests share: records as the `.expected.json` files hold them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from connectors.base import ParsedRecord
from core import fhir_json
from core.references import references_located
from federation.ingest.records import records_stamped


def as_json(records: list[ParsedRecord]) -> Any:
    """Records as plain JSON values, decimals exact, for comparing with a golden file."""
    plain = [
        {"location": r.location, "entries": r.entries, "problem": asdict(r.problem) if r.problem else None}
        for r in records
    ]
    return fhir_json.loads(fhir_json.dumps(plain))


def problems(records: list[ParsedRecord]) -> list[tuple[str, str, str]]:
    """(location, field, reason) of each problem record, in order."""
    return [(r.problem.location, r.problem.field, r.problem.reason) for r in records if r.problem]


def assert_references_located(records: list[ParsedRecord]) -> None:
    """Each record's `located` holds its entries' references as the batch writer finds them once the pipeline has
    stamped the resources (meta.source, security labels), paths and strings alike: it resolves them by these."""
    for record in records:
        (stamped,) = records_stamped([record.entries], "urn:test:source")
        assert record.located == [references_located(entry.get("resource") or {}) for entry in stamped]
        assert len(record.located) == len(record.entries)
