"""Pull a registered fhir source's data from its FHIR server: paged search or Bulk $export."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connectors.fhir.bulk_export import EXPORT_PATHS, export_request
from connectors.fhir.pull import DEFAULT_COUNT, ProgressHook, bulk_pull, search_parse, search_pull
from connectors.fhir.remote import PullError, Remote, base_url_check
from connectors.models import SourceSystem
from connectors.persons import persons_link
from connectors.pipeline import IngestSummary
from connectors.summary import summary_exit_code, summary_render
from core.progress import progress_end, progress_show


class Command(BaseCommand):
    help = (
        "Pull from the FHIR server at --base-url for --source (a fhir source): --search TYPE[?QUERY] ... (pages "
        "in the order given: masters and patients first) or --bulk [system|patient]; exit 0 stored, 1 "
        "quarantined, 2 usage or server error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", required=True, help="a code registered with add_source, connector fhir")
        parser.add_argument("--base-url", required=True, help="the server's FHIR base, e.g. https://host/fhir")
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument(
            "--search",
            action="append",
            metavar="TYPE[?QUERY]",
            help=f"a search to page through (repeatable; _count={DEFAULT_COUNT} unless the query sets one)",
        )
        mode.add_argument(
            "--bulk", nargs="?", const="system", choices=list(EXPORT_PATHS), help="Bulk $export (default system)"
        )
        parser.add_argument("--type", default="", metavar="T,...", help="--bulk only: these types (_type)")
        parser.add_argument("--since", metavar="INSTANT", help="--bulk only: changed after this instant (_since)")
        parser.add_argument("--token-env", metavar="NAME", help="environment variable holding a bearer token")
        parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
        parser.add_argument("--no-link", action="store_true", help="leave linking Patients to persons for later")

    def handle(self, *args: Any, **options: Any) -> None:
        source = _fhir_source(options["source"])
        as_json = options["json"]
        show = options["verbosity"] > 0 and not as_json
        summary = IngestSummary()
        try:
            remote = Remote(base_url_check(options["base_url"]), _token(options["token_env"]))
            if options["search"]:
                if options["type"] or options["since"]:
                    raise PullError("--type and --since go with --bulk, not --search")
                for search in [search_parse(text) for text in options["search"]]:
                    search_pull(
                        source=source,
                        remote=remote,
                        search=search,
                        summary=summary,
                        on_page=_bar(show, f"{search.resource_type} resources"),
                    )
                    if show:
                        progress_end()
            else:
                request = export_request(level=options["bulk"], types=options["type"], since=options["since"])
                on_wait = (lambda text: self.stderr.write(f"export: {text}")) if show else None
                bulk_pull(
                    source=source, remote=remote, request=request, summary=summary, on_wait=on_wait,
                    on_file=_bar(show, "files"),
                )  # fmt: skip
                if show and summary.received:
                    progress_end()
        except PullError as error:
            if summary.received:  # what arrived before the failure is stored: say so
                self.stdout.write(summary_render(summary, as_json=as_json))
            raise CommandError(str(error), returncode=2) from None
        if not options["no_link"]:
            persons_link(summary, show=show)
        self.stdout.write(summary_render(summary, as_json=as_json))
        if code := summary_exit_code(summary):
            sys.exit(code)


def _fhir_source(code: str) -> SourceSystem:
    source = SourceSystem.objects.filter(code=code).first()
    if source is None:
        raise CommandError(f"unknown source '{code}' (register it with add_source)", returncode=2)
    if source.connector != "fhir":
        raise CommandError(
            f"source '{code}' uses the {source.connector} connector: pull reads fhir sources", returncode=2
        )
    return source


def _token(variable: str | None) -> str | None:
    """The bearer token from the environment (never from the command line, where it would show)."""
    if variable is None:
        return None
    token = os.environ.get(variable, "").strip()
    if not token:
        raise PullError(f"--token-env {variable}: that environment variable is not set or empty")
    return token


def _bar(show: bool, unit: str) -> ProgressHook | None:
    return (lambda done, total: progress_show(done, total, unit=unit)) if show else None
