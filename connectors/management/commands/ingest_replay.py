"""Run quarantined messages again after a mapping fix, and messages received but never processed (a crash)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from connectors.models import InboundMessage, MessageStatus
from connectors.persons import persons_link
from connectors.pipeline import IngestSummary, message_replay
from connectors.summary import summary_exit_code, summary_render
from core.progress import progress_end, progress_show


class Command(BaseCommand):
    help = "Re-run messages with open quarantine entries or never processed (all, --source CODE, or --message ID ...)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", help="only this source's messages")
        parser.add_argument("--message", type=int, action="append", default=[], help="message id (repeatable)")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--no-link", action="store_true", help="leave linking Patients to persons for later")

    def handle(self, *args: Any, source: str | None, message: list[int], json: bool, **options: Any) -> None:
        waiting = Q(quarantine__resolved_at__isnull=True, quarantine__isnull=False) | Q(status=MessageStatus.RECEIVED)
        messages = InboundMessage.objects.filter(waiting).distinct().order_by("pk")
        if source:
            messages = messages.filter(source__code=source)
        if message:
            known = set(InboundMessage.objects.filter(pk__in=message).values_list("pk", flat=True))
            unknown = sorted(set(message) - known)
            if unknown:
                raise CommandError(f"no such message: {', '.join(map(str, unknown))}", returncode=2)
            messages = InboundMessage.objects.filter(pk__in=message).order_by("pk")
        ids = list(messages.values_list("pk", flat=True))
        show = options["verbosity"] > 0 and not json
        summary = IngestSummary()
        for number, message_id in enumerate(ids, start=1):
            replayed, problems = message_replay(message_id=message_id)
            summary.received += 1
            summary.add(replayed, problems)
            if show:
                progress_show(number, len(ids), unit="messages")
        if show and ids:
            progress_end()
        if not options["no_link"]:
            persons_link(summary, show=show)
        self.stdout.write(summary_render(summary, as_json=json))
        if code := summary_exit_code(summary):
            sys.exit(code)
