"""Register a source: its code, connector and organisation."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connectors.pipeline import source_register
from connectors.push import push_token_issue
from connectors.registry import CONNECTORS


class Command(BaseCommand):
    help = "Register (or update) a source of data: add_source --code C --connector N --organization-name NAME"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--code", required=True, help="the source's code, as ingest --source takes it")
        parser.add_argument("--connector", required=True, help=f"one of: {', '.join(sorted(CONNECTORS))}")
        parser.add_argument("--organization-name", required=True)
        parser.add_argument("--organization-identifier", default="", metavar="SYSTEM|VALUE")
        parser.add_argument("--patient-identifier-system", default="", help="default: from the organisation")
        parser.add_argument("--push-token", action="store_true", help="issue a token for POST /ingest/CODE/messages")

    def handle(
        self,
        *args: Any,
        code: str,
        connector: str,
        organization_name: str,
        organization_identifier: str,
        patient_identifier_system: str,
        push_token: bool,
        **_: Any,
    ) -> None:
        if connector not in CONNECTORS:
            known = ", ".join(sorted(CONNECTORS))
            raise CommandError(f"unknown connector '{connector}' (known: {known})", returncode=2)
        system, value = "", ""
        if organization_identifier:
            system, bar, value = organization_identifier.rpartition("|")
            if not bar or not system or not value:
                raise CommandError("--organization-identifier must be SYSTEM|VALUE", returncode=2)
        source, created = source_register(
            code=code,
            connector=connector,
            organization_name=organization_name,
            organization_system=system,
            organization_value=value,
            patient_identifier_system=patient_identifier_system,
        )
        verb = "registered" if created else "updated"
        patients = source.patient_identifier_system
        self.stdout.write(f"{verb} source {source.code} ({source.connector}), patients under {patients}")
        if push_token:
            self.stdout.write(f"push token (shown once): {push_token_issue(source=source)}")
