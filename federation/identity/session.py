"""The linker's transaction and its bulk tools, shared by linking, golden records and steward decisions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection, transaction

from consent.contracts import AccessContext
from federation.storage.batch import BatchConflictError, records_apply

IDENTITY_LOCK = 0x7473_756E_6167_6901  # "tsunagi" + 1: one linker or steward decision at a time


@contextmanager
def linker_session() -> Iterator[None]:
    """A transaction (or savepoint) that waits for any other linker or steward action, and whose own Patient
    writes (golden records, links) stay out of the link queue. The setting is put back at the end: a
    savepoint's SET LOCAL would otherwise outlive it in the enclosing transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IDENTITY_LOCK])
        cursor.execute("SELECT coalesce(current_setting('tsunagi.identity_linker', true), '')")
        (before,) = cursor.fetchone()
        cursor.execute("SELECT set_config('tsunagi.identity_linker', 'on', true)")
        # A commit lost in a crash leaves its Patients queued or its persons stale, to be done again: no need
        # to wait for the disk (200 ms a batch here).
        cursor.execute("SET LOCAL synchronous_commit = off")
        yield
        cursor.execute("SELECT set_config('tsunagi.identity_linker', %s, true)", [before])


@contextmanager
def server_bound_cursor() -> Iterator[psycopg.Cursor[Any]]:
    """A cursor on Django's connection that sends parameters apart from the query: Django's own binds them
    into the SQL text in Python, which for an array of thousands of keys took longer than the query."""
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def copy_rows(table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def patient_put(content: dict[str, Any]) -> dict[str, Any]:
    return {"resource": content, "request": {"method": "PUT", "url": f"Patient/{content['id']}"}}


def patients_write(entries: list[dict[str, Any]]) -> None:
    """Write Patient entries through the batch writer, as the linker (links are set, not kept); any refusal
    is an error of the linker's own making, so it rolls the batch back."""
    if not entries:
        return
    outcomes = records_apply(
        access=AccessContext.system("identity linking"), records=[[entry] for entry in entries], keep_person_links=False
    )
    if outcomes is None:
        raise BatchConflictError("the batch writer could not take the linker's writes")
    errors = [outcome for outcome in outcomes if not isinstance(outcome, list)]
    if errors:
        raise errors[0]
