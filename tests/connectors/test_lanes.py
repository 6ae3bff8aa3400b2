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


def _ss_mix2_files(patients: int, files_each: int) -> list[Path]:
    return [
        ROOT / f"000/000/{patient:07}/2025010{file}/ADT-00/m{file}"
        for patient in range(patients)
        for file in range(files_each)
    ]


def test_streamed_tasks_hold_whole_lanes_in_listing_order_and_grow_as_the_listing_does():
    files = _ss_mix2_files(patients=400, files_each=3)
    key = lanes.LISTED_BY_LANE["ssmix2"]
    tasks = list(lanes.streamed_tasks(files, ROOT, key, workers=2))
    assert [file for task in tasks for file in task] == files
    for task in tasks:
        assert len(task) % 3 == 0  # no patient is split between two tasks
        assert len({key(file, ROOT) for file in task[::3]}) == len(task) // 3
    assert len(tasks[0]) == 3  # the workers start at once, on one patient each
    assert len(tasks[-1]) <= lanes.FILES_PER_TASK
    assert max(len(task) for task in tasks) > 3 * 10  # bigger tasks once much is listed: batches fill up


def test_streamed_tasks_start_before_the_listing_ends():
    files = _ss_mix2_files(patients=100, files_each=2)
    listed: list[Path] = []

    def listing():
        for file in files:
            listed.append(file)
            yield file

    tasks = lanes.streamed_tasks(listing(), ROOT, lanes.LISTED_BY_LANE["ssmix2"], workers=2)
    assert next(tasks) == files[:2]
    assert len(listed) == 3  # the first file of the next patient closed the first task
