"""New server ids: random UUIDs, never handed out twice, by threads or by forked processes."""

from __future__ import annotations

import multiprocessing
import sys
import threading
import uuid

import pytest

from federation.storage.rows import new_logical_id


@pytest.mark.parametrize("_", range(20))
def test_new_ids_are_random_uuids_as_uuid4_writes_them(_):
    text = new_logical_id()
    assert str(uuid.UUID(text)) == text
    assert uuid.UUID(text).version == 4
    assert uuid.UUID(text).variant == uuid.RFC_4122


def ids_made(count: int) -> list[str]:
    return [new_logical_id() for _ in range(count)]


@pytest.fixture
def threads_switching_often():
    """Threads take turns every microsecond, not every 5 ms: a race between them shows within a few ids."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("threads_switching_often")
def test_threads_never_get_the_same_id():
    made: list[list[str]] = [[] for _ in range(8)]

    def make(place: int) -> None:
        made[place] = ids_made(5_000)

    threads = [threading.Thread(target=make, args=(place,)) for place in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [text for ids in made for text in ids]
    assert len(set(every)) == len(every) == 40_000


def test_a_forked_process_does_not_repeat_its_parents_ids():
    """The parent holds part of a block of random bytes when it forks: the child must not hand out the rest."""
    new_logical_id()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        children = pool.map(ids_made, [300, 300])
    parent = ids_made(300)
    every = parent + children[0] + children[1]
    assert len(set(every)) == len(every) == 900
