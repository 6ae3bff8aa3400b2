"""`manage.py seed_demo_accounts --region DIR`: give the demo provider's accounts their roles (make demo)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.demo import demo_accounts_seed


class Command(BaseCommand):
    help = "Give the demo OpenID provider's accounts their roles, tied to a generated region's data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--region", type=Path, required=True, help="the generated region make demo loaded")
        parser.add_argument("--issuer", default=None, help="the provider's issuer (default: OIDC_ISSUER)")

    def handle(self, *args: Any, **options: Any) -> None:
        region: Path = options["region"]
        if not (region / "sources.json").is_file():
            raise CommandError(f"{region} is not a generated region (no sources.json)")
        for account in demo_accounts_seed(issuer=options["issuer"] or settings.OIDC_ISSUER, region=region):
            ties = account.patient or account.organization or account.municipality
            self.stdout.write(f"  {account.subject}: {account.role}{f' ({ties})' if ties else ''}")
