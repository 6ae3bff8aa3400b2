"""End to end: generate a region, ingest every source, compare with the generator's truth; again: no change."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from federation.models import PersonRecord, Resource
from synthetic.region import RegionSpec, region_generate

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Path:
    out: Path = tmp_path_factory.mktemp("region")
    region_generate(RegionSpec(seed=5, people=60, as_of=date(2026, 3, 31)), out)
    return out


def ingest_region(region: Path, *options: str) -> tuple[int, dict[str, Any]]:
    out = StringIO()
    try:
        call_command("ingest_region", str(region), "--json", *options, stdout=out)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, json.loads(out.getvalue())


def stored_patient_numbers() -> dict[str, set[str]]:
    numbers: dict[str, set[str]] = defaultdict(set)
    for content in Resource.objects.filter(resource_type="Patient", is_deleted=False).values_list("content", flat=True):
        for identifier in (content or {}).get("identifier", []):
            numbers[identifier.get("system", "")].add(identifier.get("value", ""))
    return numbers


def assert_patients_are_the_truth(region: Path) -> None:
    sources = {s["code"]: s for s in json.loads((region / "sources.json").read_text(encoding="utf-8"))["sources"]}
    expected: dict[str, set[str]] = defaultdict(set)
    with (region / "truth" / "identity.csv").open(encoding="utf-8", newline="") as rows:
        for row in csv.DictReader(rows):
            expected[sources[row["source_code"]]["patient_identifier_system"]].add(row["source_patient_id"])
    stored = stored_patient_numbers()
    for system, numbers in expected.items():
        assert stored[system] == numbers, system


def test_every_source_of_a_generated_region_arrives_once(region):
    code, summary = ingest_region(region)

    assert summary["first_errors"] == []
    assert (code, summary["quarantined"]) == (0, 0)
    assert_patients_are_the_truth(region)
    # every source Patient was linked to a person as the command finished
    truth_rows = sum(1 for _ in (region / "truth" / "identity.csv").open(encoding="utf-8")) - 1
    assert (
        summary["persons"]["new_persons"] + summary["persons"]["linked"] == truth_rows == PersonRecord.objects.count()
    )

    again_code, again = ingest_region(region)

    assert again_code == 0
    assert again["duplicates"] == again["received"] == summary["received"]
    assert (again["created"], again["updated"], again["deleted"]) == (0, 0, 0)
    assert set(again["persons"].values()) == {0}


@pytest.mark.django_db(transaction=True)  # the worker processes read what this one committed
def test_two_worker_processes_store_the_same_region_without_duplicates(region):
    code, summary = ingest_region(region, "--workers", "2")

    assert summary["first_errors"] == []
    assert (code, summary["quarantined"]) == (0, 0)
    assert_patients_are_the_truth(region)
    # What lanes share (organisations, practitioners, insurers) was created once, not once per process.
    for resource_type in ("Organization", "Practitioner", "Patient", "Coverage"):
        keys = [
            (identifier["system"], identifier["value"])
            for content in Resource.objects.filter(resource_type=resource_type, is_deleted=False).values_list(
                "content", flat=True
            )
            for identifier in (content or {}).get("identifier", [])[:1]
        ]
        assert len(keys) == len(set(keys)), resource_type
