"""`manage.py register_client --name N --kind public|confidential|backend --organization Organization/ID
[--redirect-uri URL]... --scopes "..." [--jwks FILE]`: prints the client id (and a confidential client's secret)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consent.clients import RegistrationError, client_register
from consent.models import ClientKind
from consent.scopes import ScopeError


class Command(BaseCommand):
    help = "Register an app with the SMART authorisation server; prints its client id and, once, its secret."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--kind", required=True, choices=[kind.value for kind in ClientKind])
        parser.add_argument("--organization", required=True, help="Organization/ID that answers for the app")
        parser.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris")
        parser.add_argument("--scopes", required=True, help='SMART scopes, e.g. "system/*.rs" or "patient/*.read"')
        parser.add_argument("--jwks", type=Path, help="a backend client's public JWK Set (JSON file)")

    def handle(self, *args: Any, **options: Any) -> None:
        jwks = None
        if options["jwks"] is not None:
            try:
                jwks = json.loads(options["jwks"].read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise CommandError(f"--jwks {options['jwks']}: {error}", returncode=2) from error
        try:
            client = client_register(
                name=options["name"],
                kind=ClientKind(options["kind"]),
                organization=options["organization"],
                scopes=options["scopes"],
                redirect_uris=options["redirect_uris"],
                jwks=jwks,
            )
        except (RegistrationError, ScopeError) as error:
            raise CommandError(str(error), returncode=2) from error
        self.stdout.write(f"client_id: {client.client_id}")
        if client.client_secret:
            self.stdout.write(f"client_secret: {client.client_secret}  (shown once; only its hash is kept)")
