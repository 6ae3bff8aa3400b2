"""Check the audit trail's hash chain from the first entry to the newest."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from consent.audit.chain import chain_head, chain_verify
from consent.audit.models import AuditRecord
from core.progress import progress_counter, progress_end


class Command(BaseCommand):
    help = (
        "Walk the audit trail's hash chain: exit 0 with the number of entries and the head hash when it holds, "
        "exit 1 naming the first entry changed, deleted or inserted."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        total = AuditRecord.objects.count()
        checked, broken = chain_verify(on_progress=progress_counter(total, unit="entries"))
        progress_end()
        if broken is not None:
            raise CommandError(f"audit trail broken after {checked} good entries: {broken.message}", returncode=1)
        self.stdout.write(f"audit trail intact: {checked} entries, head {chain_head()}")
