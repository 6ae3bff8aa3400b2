"""Listen for HL7 v2 messages over MLLP for one source and acknowledge each (AA / AE / AR)."""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from connectors.mllp import listener_create
from connectors.models import SourceSystem
from federation.facade import identity_link_all


class Command(BaseCommand):
    help = "Run an MLLP listener for --source (an hl7v2 source) on --host:--port until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", required=True, help="a registered source using the hl7v2 connector")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=2575)
        parser.add_argument(
            "--link-every",
            type=float,
            default=5.0,
            metavar="SECONDS",
            help="link stored Patients to persons this often",
        )

    def handle(self, *args: Any, source: str, host: str, port: int, link_every: float, **_: Any) -> None:
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
        stop_linking = threading.Event()
        threading.Thread(target=_link_until, args=(stop_linking, link_every), name="mllp-linker", daemon=True).start()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("stopped")
        finally:
            stop_linking.set()
            server.server_close()


def _link_until(stop: threading.Event, every: float) -> None:
    """Link what the connections stored, beside them, so that no acknowledgement waits for linking."""
    while not stop.wait(every):
        try:
            identity_link_all()
        finally:
            close_old_connections()
