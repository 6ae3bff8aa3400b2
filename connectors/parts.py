"""A big file's records as parts that several processes store side by side: runs of its whole lines.

A file whose records are its lines, none waiting for another (`connectors.base.SplitByLine`), is received once
and then cut at line ends into runs of about PART_BYTES: a worker reads only its run's bytes and numbers its
lines as the file does. The pipeline adds the parts' tallies up in file order, so the message ends with the
record indexes, counts, quarantine and status of the whole file read at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

# About 400 to 900 lines of a Bulk export (1 to 2.5 KB a resource): a few full batches of the batch writer, a second
# or two of a worker's time, so that a stage still ends with every worker busy. A file is cut when larger.
PART_BYTES = 1 << 20
# A stage of less than this many parts' bytes a worker is cut finer, down to MIN_PART_BYTES: a stage ends when its
# last part does, and the 3 parts of a 3 MB Patient.ndjson kept one of two workers waiting a third of the stage.
PARTS_PER_WORKER = 4
# A part much smaller than the batch writer's batch costs more than it saves: at 256 KB (about 100 to 250 lines
# of a Bulk export), the 1,000-person export took 15% more CPU than at 1 MB.
MIN_PART_BYTES = 1 << 18
_CHUNK = 1 << 20


@dataclass(frozen=True)
class LinePart:
    """Bytes `start` to `end` of a received message: whole lines, the first of them line `first_line`."""

    message_id: int
    start: int
    end: int
    first_line: int


def part_bytes(stage_bytes: int, workers: int) -> int:
    """About how big the parts of a stage's files are, for `workers` processes sharing the stage's `stage_bytes`
    of files that may be cut: PART_BYTES, or less for a stage too small to give each worker PARTS_PER_WORKER."""
    return min(PART_BYTES, max(MIN_PART_BYTES, -(-stage_bytes // (workers * PARTS_PER_WORKER))))


def part_count(size: int, part_size: int) -> int:
    """Into how many parts of about `part_size` bytes a file of `size` bytes is cut (one: it is not)."""
    return max(1, -(-size // part_size))


def message_parts(message_id: int, data: BinaryIO, size: int, part_size: int) -> list[LinePart]:
    """The `size` bytes of `data` (from its start) as `part_count(size, part_size)` runs of whole lines of about the
    same size, in order. A line longer than a run is not cut: its run is longer, and there are fewer."""
    runs = part_count(size, part_size)
    cuts = [(0, 1)]  # (offset, number of the line starting there)
    offset = lines = 0
    while len(cuts) < runs and (block := data.read(_CHUNK)):
        counted = 0  # this block's bytes whose line ends are in `lines`
        while len(cuts) < runs:
            after = max(len(cuts) * size // runs, cuts[-1][0] + 1) - offset
            end = block.find(b"\n", max(after - 1, 0)) if after <= len(block) else -1
            if end < 0:
                break
            lines += block.count(b"\n", counted, end + 1)
            counted = end + 1
            cuts.append((offset + counted, lines + 1))
        lines += block.count(b"\n", counted)
        offset += len(block)
    ends = [offset for offset, _ in cuts[1:]] + [size]
    return [
        LinePart(message_id, start, end, first_line)
        for (start, first_line), end in zip(cuts, ends, strict=True)
        if end > start
    ]
