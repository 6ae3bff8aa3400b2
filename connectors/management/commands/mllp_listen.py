"""Listen for HL7 v2 messages over MLLP for one source and acknowledge each (AA / AE / AR)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connectors.mllp import listener_create
from connectors.models import SourceSystem


class Command(BaseCommand):
    help = "Run an MLLP listener for --source (an hl7v2 source) on --host:--port until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", required=True, help="a registered source using the hl7v2 connector")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=2575)

    def handle(self, *args: Any, source: str, host: str, port: int, **_: Any) -> None:
        registered = SourceSystem.objects.filter(code=source).first()
        if registered is None:
            raise CommandError(f"unknown source '{source}' (register it with add_source)", returncode=2)
        if registered.connector != "hl7v2":
            raise CommandError(f"source '{source}' uses the {registered.connector} connector, not hl7v2", returncode=2)
        try:
            server = listener_create(registered, host, port)
        except OSError as error:
            raise CommandError(f"cannot listen on {host}:{port}: {error.strerror}", returncode=2) from error
        self.stdout.write(f"listening for {source} on {host}:{port} (MLLP); Ctrl-C stops")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("stopped")
        finally:
            server.server_close()
