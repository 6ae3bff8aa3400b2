"""Ingest files or folders from a registered source with its connector."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connectors.models import SourceSystem
from connectors.persons import persons_link
from connectors.pipeline import IngestSummary, path_ingest
from connectors.registry import CONNECTORS
from connectors.summary import summary_exit_code, summary_render, worker_count
from core.progress import progress_end, progress_show


class Command(BaseCommand):
    help = "Ingest PATH... (files or folders) from --source with --connector; exit 0 stored, 1 quarantined, 2 usage."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--connector", required=True, help=f"one of: {', '.join(sorted(CONNECTORS))}")
        parser.add_argument("--source", required=True, help="a code registered with add_source")
        parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
        parser.add_argument("--no-link", action="store_true", help="leave linking Patients to persons for later")
        parser.add_argument(
            "--workers", type=worker_count, default=1, help="processes for files that do not depend on each other"
        )
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")

    def handle(self, *args: Any, connector: str, source: str, json: bool, paths: list[Path], **options: Any) -> None:
        if connector not in CONNECTORS:
            known = ", ".join(sorted(CONNECTORS))
            raise CommandError(f"unknown connector '{connector}' (known: {known})", returncode=2)
        registered = SourceSystem.objects.filter(code=source).first()
        if registered is None:
            raise CommandError(f"unknown source '{source}' (register it with add_source)", returncode=2)
        if registered.connector != connector:
            used = registered.connector
            raise CommandError(f"source '{source}' uses the {used} connector, not {connector}", returncode=2)
        missing = [str(path) for path in paths if not path.exists()]
        if missing:
            raise CommandError(f"no such file or folder: {', '.join(missing)}", returncode=2)
        show = options["verbosity"] > 0 and not json
        summary = IngestSummary()
        for path in paths:
            summary.merge(
                path_ingest(
                    source=registered, path=path, on_file=progress_show if show else None, workers=options["workers"]
                )
            )
            if show:
                progress_end()
        if not options["no_link"]:
            persons_link(summary, show=show)
        self.stdout.write(summary_render(summary, as_json=json))
        if code := summary_exit_code(summary):
            sys.exit(code)
