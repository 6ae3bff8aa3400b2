"""Generate a synthetic region: a municipality's people and their source-native records, with ground truth."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.progress import progress_end, progress_show
from synthetic.region import RegionSpec, region_generate

DEFAULT_AS_OF = date(2026, 3, 31)


class Command(BaseCommand):
    help = "Write a synthetic region (people, SS-MIX2 / JAHIS / care CSV / FHIR / resident register files, truth)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--people", type=int, required=True, help="number of people (1 to 1,000,000)")
        parser.add_argument("--seed", type=int, default=1, help="same seed, same bytes (default 1)")
        parser.add_argument("--out", type=Path, required=True, help="folder to write (created if missing)")
        parser.add_argument("--as-of", type=date.fromisoformat, default=DEFAULT_AS_OF, help="last simulated day")
        parser.add_argument("--years", type=int, default=1, help="length of the simulated period (default 1)")
        parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="processes")
        parser.add_argument("--force", action="store_true", help="empty a non-empty --out folder first")

    def handle(
        self,
        *args: Any,
        people: int,
        seed: int,
        out: Path,
        as_of: date,
        years: int,
        workers: int,
        force: bool,
        verbosity: int,
        **_: Any,
    ) -> None:
        if not 1 <= people <= 1_000_000:
            raise CommandError(f"--people must be between 1 and 1000000, not {people}", returncode=2)
        if not 1 <= years <= 10:
            raise CommandError(f"--years must be between 1 and 10, not {years}", returncode=2)
        if workers < 1:
            raise CommandError(f"--workers must be at least 1, not {workers}", returncode=2)
        _prepare(out, force=force)
        show = verbosity > 0
        summary = region_generate(
            RegionSpec(seed=seed, people=people, as_of=as_of, years=years),
            out,
            workers=workers,
            progress=(lambda done, total: progress_show(done, total, unit="people")) if show else None,
        )
        if show:
            progress_end()
        sources = summary["people_per_source"]
        assert isinstance(sources, dict)
        self.stdout.write(
            f"wrote {people} people in {summary['households']} households, {len(sources)} sources, to {out}"
        )


def _prepare(out: Path, *, force: bool) -> None:
    """An empty, writable folder, or a one-line reason why not."""
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out} is a file, not a folder", returncode=2)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise CommandError(f"--out {out} is not empty (use --force to replace its contents)", returncode=2)
        for child in out.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise CommandError(f"--out {out} is not writable: {error.strerror}", returncode=2) from error
