"""Lanes keep each person's files in order on one process; stages keep a FHIR export's dependencies in order."""

from __future__ import annotations

from pathlib import Path

from connectors import lanes
from connectors.lanes import ingest_stages, stage_tasks

ROOT = Path("/data/source")


def test_an_ss_mix2_tree_has_a_lane_per_patient_in_file_order():
    files = [
        ROOT / "000/000/0000001/20250101/ADT-00/a",
        ROOT / "000/000/0000002/20250101/ADT-00/b",
        ROOT / "000/000/0000001/20250301/ADT-00/c",
    ]
    assert ingest_stages("ssmix2", files, ROOT) == [[[files[0], files[2]], [files[1]]]]


def test_a_fhir_export_runs_tier_by_tier_with_each_file_on_its_own():
    files = [
        ROOT / name
        for name in ("Patient.ndjson", "Observation-1.ndjson", "Organization.ndjson", "Observation-2.ndjson")
    ]
    stages = ingest_stages("fhir", files, ROOT)
    assert [[lane[0].name for lane in stage] for stage in stages] == [
        ["Organization.ndjson"],
        ["Patient.ndjson"],
        ["Observation-1.ndjson", "Observation-2.ndjson"],
    ]


def test_sources_whose_files_depend_on_each_other_keep_one_lane():
    files = [ROOT / "residents.csv", ROOT / "movements.csv"]
    assert ingest_stages("resident-register", files, ROOT) == [[files]]


def test_tasks_hold_whole_lanes(monkeypatch):
    monkeypatch.setattr(lanes, "FILES_PER_TASK", 3)
    stage = [[ROOT / "a1", ROOT / "a2"], [ROOT / "b1", ROOT / "b2"], [ROOT / "c1"]]
    assert list(stage_tasks(stage)) == [[*stage[0], *stage[1]], stage[2]]


def test_a_stage_of_few_files_is_spread_over_the_workers():
    stage = [[ROOT / f"bundle-{number}.json"] for number in range(16)]
    tasks = list(stage_tasks(stage, workers=2))
    assert len(tasks) == 8
    assert [file for task in tasks for file in task] == [lane[0] for lane in stage]


def test_jahis_files_have_a_lane_per_patient_number_whatever_the_folders():
    """The patient of a JAHIS file is the number its name starts with: a flat export, or one with a folder
    per month, still keeps each patient's files in order on one process (the newest record 1 last)."""
    files = [
        ROOT / "202510/100_20251020_1.csv",
        ROOT / "202510/200_20251021_1.csv",
        ROOT / "202511/100_20251115_1.csv",
        ROOT / "300_20251201_1.csv",
        ROOT / "notes.csv",  # no patient number: the file stands for its own patient
    ]
    assert ingest_stages("jahis", files, ROOT) == [[[files[0], files[2]], [files[1]], [files[3]], [files[4]]]]
