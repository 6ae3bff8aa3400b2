"""Which files of a source may be ingested side by side, and running them on several processes.

Order matters where one file updates what another wrote: a patient's SS-MIX2 messages (an A08 after the A04),
a register's moves after its residents, a FHIR export's Observations after its Patients. Files are put in
*lanes*: a lane keeps its files in order on one process; lanes of a *stage* run side by side; stages run one
after the other. What two lanes share (an Organization, a prescribing institution) is written conditionally and
the batch writer turns a race on it into a retry, so lanes only need to keep each person's history in order.
A JAHIS file's patient is the number its name starts with (the records carry none), so its lanes go by that
number: a flat export, or one with a folder per month, keeps a patient's files in order on one process too.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from django.db import connections

from connectors.fhir.connector import type_tier
from connectors.jahis.parser import file_name as jahis_file_name

Lane = list[Path]
Stage = list[Lane]
FILES_PER_TASK = 200  # lanes are handed out in tasks of about this many files, so batches stay full
TASKS_PER_WORKER = 4
YOUNG_OBJECTS_PER_COLLECTION = 50_000  # Python's default is 700


LaneKey = Callable[[Path, Path], tuple[str, ...]]  # (file, root): the lane a file goes in


def _ss_mix2_lane(file: Path, root: Path) -> tuple[str, ...]:
    """<root>/<3>/<3>/<patient id>/<date>/<kind>/<file>: a lane per patient."""
    return file.relative_to(root).parts[:3]


def _jahis_lane(file: Path, root: Path) -> tuple[str, ...]:
    """A lane per patient number of the file names, whatever the folders."""
    return (jahis_file_name(file.name).patient,)


# Connectors whose listing yields each lane's files one after the other (an SS-MIX2 tree, walked patient by
# patient), so lanes can be cut from it while it is still being made (see streamed_tasks).
LISTED_BY_LANE: dict[str, LaneKey] = {"ssmix2": _ss_mix2_lane}


def ingest_stages(connector: str, files: list[Path], root: Path) -> list[Stage]:
    """The files (in the connector's order) as stages of lanes; one lane when order is all that is known."""
    if connector == "ssmix2":
        return [_lanes(files, root, _ss_mix2_lane)]
    if connector == "jahis":
        return [_lanes(files, root, _jahis_lane)]
    if connector == "fhir":  # a stage per FILE_ORDER tier; every file of a tier on its own
        tiers: dict[int, Stage] = {}
        for file in files:
            tiers.setdefault(type_tier(file.name), []).append([file])
        return [tiers[tier] for tier in sorted(tiers)]
    return [[files]]


def _lanes(files: list[Path], root: Path, key: LaneKey) -> Stage:
    lanes: dict[tuple[str, ...], Lane] = {}
    for file in files:
        lanes.setdefault(key(file, root), []).append(file)
    return list(lanes.values())


def stage_tasks(stage: Stage, workers: int = 1) -> Iterator[Lane]:
    """Whole lanes packed into tasks: at most FILES_PER_TASK files, and small enough that every worker gets
    several tasks when the stage has the lanes for it (a source of a few big files still uses all workers)."""
    size = _task_size(sum(len(lane) for lane in stage), workers)
    task: Lane = []
    for lane in stage:
        task.extend(lane)
        if len(task) >= size:
            yield task
            task = []
    if task:
        yield task


def streamed_tasks(files: Iterable[Path], root: Path, key: LaneKey, workers: int = 1) -> Iterator[Lane]:
    """Whole lanes packed into tasks as a listing that yields each lane's files together goes on: the workers
    start on the first lanes while the rest is listed (walking a big SS-MIX2 tree took 14 s of a 132 s ingest
    of its source when its folders were not in memory, with both workers waiting). A task is sized as
    stage_tasks sizes it, on the files listed so far: small at first, FILES_PER_TASK once the listing is long."""
    task: Lane = []
    current: tuple[str, ...] | None = None
    for listed, file in enumerate(files, start=1):
        lane = key(file, root)
        if lane != current and len(task) >= _task_size(listed, workers):
            yield task
            task = []
        current = lane
        task.append(file)
    if task:
        yield task


def _task_size(files: int, workers: int) -> int:
    if workers == 1:
        return FILES_PER_TASK
    return max(1, min(FILES_PER_TASK, files // (workers * TASKS_PER_WORKER)))


Task = TypeVar("Task")
Done = TypeVar("Done")


class TaskRunner(Protocol):
    def __call__(self, tasks: Iterable[Task], run: Callable[[Task], Done]) -> Iterator[Done]: ...


@contextmanager
def task_runner(workers: int) -> Iterator[TaskRunner]:
    """A function that runs tasks and yields each result as it completes: in this process for one worker,
    else on that many forked processes, each with its own database connection. Open it before listing the
    files: a worker forked later would inherit the lists, and Python's garbage collector, touching every
    object, would copy their pages into each worker. The pool draws its tasks from `tasks` in a thread of this
    process, so an iterator still listing files (streamed_tasks) goes on while the workers run."""
    with _fewer_collections():
        if workers <= 1:
            yield _in_this_process
            return
        connections.close_all()  # a forked child must not share the parent's socket
        with multiprocessing.get_context("fork").Pool(workers, initializer=connections.close_all) as pool:

            def on_the_pool(tasks: Iterable[Task], run: Callable[[Task], Done]) -> Iterator[Done]:
                return pool.imap_unordered(run, tasks)

            yield on_the_pool


def _in_this_process(tasks: Iterable[Task], run: Callable[[Task], Done]) -> Iterator[Done]:
    return map(run, tasks)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Ingest makes millions of short-lived dicts and almost no reference cycles, so the cycle collector,
    run every 700 new objects by default, mostly walks live records for nothing: it runs every
    YOUNG_OBJECTS_PER_COLLECTION instead, and what was loaded before (Django, the FHIR models) is frozen out of
    its sight, which also keeps a forked worker from copying those pages. Restored afterwards."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS_PER_COLLECTION, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
