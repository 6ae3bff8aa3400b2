"""A one-line progress bar for management commands (written to stderr so stdout stays parseable)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 30


def progress_show(done: int, total: int | None, *, unit: str = "", stream: TextIO | None = None) -> None:
    """Redraw the bar in place; call `progress_end` once after the last update. A total of None (the work is
    still being listed) shows the count done so far, without a bar."""
    out = stream or sys.stderr
    suffix = f" {unit}" if unit else ""
    if total is None:
        out.write(f"\r{done}{suffix} done, more still being listed")
        out.flush()
        return
    share = done / total if total else 1.0
    filled = int(share * BAR_WIDTH)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    out.write(f"\r[{bar}] {done}/{total}{suffix} ({share:.0%})")
    out.flush()


def progress_end(stream: TextIO | None = None) -> None:
    (stream or sys.stderr).write("\n")


def progress_counter(total: int, *, unit: str = "") -> Callable[[int], None]:
    """A callback for work reported in steps: each call adds its step to the count and redraws the bar."""
    done = 0

    def step(taken: int) -> None:
        nonlocal done
        done += taken
        progress_show(done, total, unit=unit)

    return step
