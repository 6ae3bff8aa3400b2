"""The hash chain: how a row's hash is made, how a row is appended, and how the chain is checked.

Each row's hash is SHA-256 over the previous row's hash followed by the canonical JSON of the row (every column
but `id` and `hash`, keys sorted, no spaces, UTF-8). Appends take a transaction-scoped PostgreSQL advisory lock,
so two requests never chain onto the same predecessor; the lock is released when the request's transaction
commits, which keeps `id` order and chain order the same."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction

from consent.audit.models import AuditRecord

GENESIS = "0" * 64  # the previous hash of the first row
CHAIN_LOCK = 0x7453_756E_6167_6941  # pg_advisory_xact_lock key: "tsunagiA" (audit), unique in this platform
CHAINED_FIELDS = tuple(
    field.name for field in AuditRecord._meta.concrete_fields if field.name not in ("id", "previous_hash", "hash")
)
VERIFY_CHUNK = 2000


def canonical_json(fields: Mapping[str, Any]) -> bytes:
    """The row's chained columns as canonical JSON; instants in UTC with microseconds, so a value read back
    from PostgreSQL gives the same bytes as the value written."""
    values = {name: _plain(fields[name]) for name in CHAINED_FIELDS}
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def row_hash(previous_hash: str, fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(previous_hash.encode() + canonical_json(fields)).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


@transaction.atomic(savepoint=False)  # the lock lasts until the caller's transaction ends
def chain_append(fields: dict[str, Any]) -> AuditRecord:
    """Append one row after the newest; `fields` holds every chained column."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])
    previous = AuditRecord.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS
    return AuditRecord.objects.create(**fields, previous_hash=previous, hash=row_hash(previous, fields))


@dataclass(frozen=True)
class ChainBreak:
    """The first entry where the chain does not hold, and what was done to it."""

    record_id: int
    message: str


def chain_verify(*, on_progress: Callable[[int], None] | None = None) -> tuple[int, ChainBreak | None]:
    """Walk the chain in id order: the number of entries checked, and the first break (None when intact).

    A row whose hash does not match its content was changed. A row whose previous hash is not the hash of the
    row before it follows a deleted row, or (when its previous hash is that of the row two back) follows a row
    slipped in. Deleting the newest rows leaves a shorter chain that holds: compare the head hash
    `audit_verify` prints with one kept elsewhere."""
    checked = 0
    before_previous, previous, previous_id = None, GENESIS, None
    for row in _rows():
        if row["previous_hash"] != previous:
            if previous_id is not None and row["previous_hash"] == before_previous:
                message = f"entry {previous_id} was inserted: entry {row['id']} chains onto the entry before it"
                return checked, ChainBreak(previous_id, message)
            return checked, ChainBreak(row["id"], _gap_message(previous_id, row["id"]))
        if row_hash(row["previous_hash"], row) != row["hash"]:
            return checked, ChainBreak(row["id"], f"entry {row['id']} was changed: its content does not match its hash")
        before_previous, previous, previous_id = previous, row["hash"], row["id"]
        checked += 1
        if on_progress is not None and checked % VERIFY_CHUNK == 0:
            on_progress(VERIFY_CHUNK)
    if on_progress is not None and checked % VERIFY_CHUNK:
        on_progress(checked % VERIFY_CHUNK)
    return checked, None


def _gap_message(previous_id: int | None, record_id: int) -> str:
    if previous_id is None:
        return f"entry {record_id} is not the start of the chain: the entries before it were deleted"
    return (
        f"entry {record_id} does not chain onto entry {previous_id}: an entry between them was deleted "
        f"(or entry {previous_id} was rewritten with a new hash)"
    )


def chain_head() -> str:
    """The newest row's hash (the genesis value for an empty chain): an anchor to keep outside the database."""
    return AuditRecord.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS


def _rows() -> Iterator[dict[str, Any]]:
    columns = ("id", "previous_hash", "hash", *CHAINED_FIELDS)
    yield from AuditRecord.objects.order_by("id").values(*columns).iterator(chunk_size=VERIFY_CHUNK)
