"""Row-level helpers the write paths share: ids, server meta, the change hash, and COPY into the two tables.

The single-resource services and the batch writer both store through these, so a version looks the same
whichever path wrote it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from core import fhir_json
from core.instant import format_instant
from core.outcome import invalid
from core.pg_arrays import bigint_array, text_array
from federation.fhir.spec import is_valid_id

SERVER_META_FIELDS = ("versionId", "lastUpdated")
RESOURCE_IDS = "federation_resource_id_seq"  # the sequence of resource rows' keys


def next_values(sequence: str, count: int) -> list[int]:
    """Keys before the rows exist, so rows that refer to each other (or are written by different statements in
    a given order) can be copied in one go."""
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [sequence, count])
        return [row[0] for row in cursor.fetchall()]


class _RandomBytes:
    """Random bytes from the operating system, asked for in blocks: a system call per id took 0.3 µs on its own
    and up to 4 µs amid ingest's work. Each piece is handed out once: under a lock, as the server's threads
    make ids too, and a forked process drops its parent's block, which the parent goes on handing out."""

    BLOCK = 4096

    def __init__(self) -> None:
        self._forget()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        """A new lock too: a thread of the parent may have held it when it forked."""
        self._lock = threading.Lock()
        self._block, self._used = b"", 0

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._used + count > len(self._block):
                self._block, self._used = os.urandom(self.BLOCK), 0
            start = self._used
            self._used += count
            return self._block[start : self._used]


_random_bytes = _RandomBytes()


def new_logical_id() -> str:
    """A new resource's server id: what `str(uuid.uuid4())` gives, formatted from its random bytes without a
    UUID object (most of its cost, and ingest makes one for every new resource)."""
    digits = bytearray(_random_bytes.take(16))
    digits[6] = (digits[6] & 0x0F) | 0x40  # version 4
    digits[8] = (digits[8] & 0x3F) | 0x80  # RFC 4122 variant
    hex_digits = digits.hex()
    return f"{hex_digits[:8]}-{hex_digits[8:12]}-{hex_digits[12:16]}-{hex_digits[16:20]}-{hex_digits[20:]}"


def require_valid_id(resource_type: str, logical_id: str) -> None:
    if not is_valid_id(logical_id):
        raise invalid(
            f"'{logical_id}' is not a valid FHIR id ([A-Za-z0-9-.], 1-64 characters).",
            expression=f"{resource_type}.id",
        )


def client_meta(resource: dict[str, Any]) -> dict[str, Any]:
    """The meta a client controls (tags, profiles, security, source): all but the server's fields."""
    return {key: value for key, value in (resource.get("meta") or {}).items() if key not in SERVER_META_FIELDS}


def with_server_meta(resource: dict[str, Any], logical_id: str, version_id: int, moment: datetime) -> dict[str, Any]:
    meta = client_meta(resource)
    meta["versionId"] = str(version_id)
    meta["lastUpdated"] = format_instant(moment)
    return {**resource, "id": logical_id, "meta": meta}


def content_hash(resource: dict[str, Any]) -> str:
    """Hash of the content a client controls: server meta fields do not count as a change."""
    return Serialised(resource).content_hash


class Serialised:
    """A resource's content hash (of its canonical text without the server's meta fields) and, when asked,
    the text to store (canonical JSON with its whole meta; jsonb keeps no key order anyway), from one
    serialisation of the content: an unchanged resource never needs the second."""

    def __init__(self, content: dict[str, Any], *, plain_json: bool = False) -> None:
        """`plain_json`: `content` is known to hold only JSON's own values (see fhir_json._orjson_compact)."""
        self._with_meta = fhir_json.canonical_utf8_with_member(content, "meta", plain_json=plain_json)
        self._meta = content.get("meta")
        self.content_hash = hashlib.sha256(self._with_meta(client_meta(content) or None)).hexdigest()

    @functools.cached_property
    def text(self) -> str:
        return self._with_meta(self._meta).decode()


@dataclass(slots=True)
class CopiedRow:
    """One row for COPY: a resource's state (current row) or one of its versions; `text` None for a deletion."""

    pk: int
    resource_type: str
    logical_id: str
    version_id: int
    last_updated: datetime
    text: str | None
    content_hash: str = ""
    method: str = ""
    owners: list[str] | None = None  # the current row's placement (federation.search.placement)
    data_period: str | None = None
    current: bool = False  # a version its resource's row holds as its current state (see versions_copy)


def owners_array(owners: list[str] | None) -> str | None:
    """A placement's owners as the `owners text[]` column takes them (NULL outside the Patient compartment)."""
    return None if owners is None else text_array(owners)


def resources_copy(cursor: Any, rows: Iterable[CopiedRow]) -> None:
    """New current rows, as one COPY stream (the raw psycopg cursor)."""
    with cursor.copy(
        "COPY federation_resource (id, resource_type, logical_id, version_id, last_updated, is_deleted, "
        "content, content_hash, owners, data_period) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(
                (
                    row.pk,
                    row.resource_type,
                    row.logical_id,
                    row.version_id,
                    row.last_updated,
                    row.text is None,
                    row.text,
                    row.content_hash,
                    owners_array(row.owners),
                    row.data_period,
                )
            )


def versions_copy(cursor: Any, versions: Sequence[CopiedRow]) -> None:
    """Versions of resources (`pk` is the resource's), in the order given (their ids follow it).

    A version its resource's row already holds (`current`) is copied from that row by the server: its content
    is parsed and sent once, not twice (parsing and compressing the second copy was a sixth of PostgreSQL's
    work per ingested resource). The others (a resource written twice in one batch) go by COPY with their text.
    Ids are drawn first, so that both kinds keep the given order."""
    if not versions:
        return
    ids = next_values("federation_resourceversion_id_seq", len(versions))
    copied = [(version_id, row) for version_id, row in zip(ids, versions, strict=True) if not row.current]
    if copied:
        with cursor.copy(
            "COPY federation_resourceversion (id, resource_id, resource_type, logical_id, version_id, last_updated, "
            "method, content) FROM STDIN"
        ) as copy:
            for version_id, row in copied:
                copy.write_row(
                    (
                        version_id,
                        row.pk,
                        row.resource_type,
                        row.logical_id,
                        row.version_id,
                        row.last_updated,
                        row.method,
                        row.text,
                    )
                )
    current = [(version_id, row) for version_id, row in zip(ids, versions, strict=True) if row.current]
    if current:
        cursor.execute(
            VERSIONS_OF_CURRENT_ROWS,
            [
                bigint_array(version_id for version_id, _ in current),
                bigint_array(row.pk for _, row in current),
                text_array(row.method for _, row in current),
            ],
        )


VERSIONS_OF_CURRENT_ROWS = (
    "INSERT INTO federation_resourceversion (id, resource_id, resource_type, logical_id, version_id, last_updated, "
    "method, content) SELECT v.id, r.id, r.resource_type, r.logical_id, r.version_id, r.last_updated, v.method, "
    "r.content FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS v(id, resource_id, method) "
    "JOIN federation_resource AS r ON r.id = v.resource_id"
)
