"""Ingest a region made by generate_region: register its sources from sources.json, then ingest each."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connectors.persons import persons_link
from connectors.pipeline import IngestSummary, path_ingest, source_register
from connectors.registry import CONNECTORS
from connectors.summary import summary_exit_code, summary_render, worker_count
from core.progress import progress_end, progress_show


class Command(BaseCommand):
    help = "Ingest every source of a generated region (DIR/sources.json); exit 0 stored, 1 quarantined, 2 usage."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("region", type=Path, metavar="DIR")
        parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
        parser.add_argument("--no-link", action="store_true", help="leave linking Patients to persons for later")
        parser.add_argument(
            "--workers", type=worker_count, default=1, help="processes for files that do not depend on each other"
        )

    def handle(self, *args: Any, region: Path, json: bool, **options: Any) -> None:
        sources = _sources(region)
        show = options["verbosity"] > 0 and not json
        total = IngestSummary()
        for entry in sources:
            identifier = entry["organization"].get("identifier") or {}
            source, _ = source_register(
                code=entry["code"],
                connector=entry["kind"],
                organization_name=entry["organization"]["name"],
                organization_system=identifier.get("system", ""),
                organization_value=identifier.get("value", ""),
                patient_identifier_system=entry.get("patient_identifier_system", ""),
            )
            if show:
                self.stderr.write(f"{source.code} ({source.connector})")
            summary = path_ingest(
                source=source,
                path=region / entry["path"],
                on_file=progress_show if show else None,
                workers=options["workers"],
            )
            if show:
                progress_end()
            total.merge(summary)
        if not options["no_link"]:
            persons_link(total, show=show)
        self.stdout.write(summary_render(total, as_json=json))
        if code := summary_exit_code(total):
            sys.exit(code)


def _sources(region: Path) -> list[dict[str, Any]]:
    """The region's sources, checked enough that a wrong folder is a usage error, not a crash."""
    try:
        sources = json.loads((region / "sources.json").read_text(encoding="utf-8"))["sources"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CommandError(f"{region} is not a generated region (sources.json: {error})", returncode=2) from error
    for entry in sources:
        if entry.get("kind") not in CONNECTORS:
            raise CommandError(f"sources.json names an unknown connector '{entry.get('kind')}'", returncode=2)
        if not (region / entry["path"]).is_dir():
            raise CommandError(f"source {entry['code']}: no folder {region / entry['path']}", returncode=2)
    return list(sources)
