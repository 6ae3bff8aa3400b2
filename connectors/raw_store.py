"""Raw bytes by content: every message is kept here, hashed, before anything parses it.

A small message (SMALL_MESSAGE bytes or fewer: an SS-MIX2 file, an MLLP frame, a JAHIS file) is a row of
`connectors_rawcontent`, written by COPY a batch at a time in the caller's transaction, so it commits with its
InboundMessage row. A bigger one is streamed to a file under RAW_STORE_DIR (`<sha[:2]>/<sha>`), synced before
the caller commits. Readers do not need to know which: a message kept as a file before the table existed (of
any size) still opens from its file.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.db import connection, transaction

CHUNK = 1 << 20
SMALL_MESSAGE = 64 * 1024  # a few hundred to a few thousand bytes for SS-MIX2, JAHIS and MLLP

INCOMING_TABLE = "CREATE TEMPORARY TABLE IF NOT EXISTS raw_incoming (sha256 text, content bytea) ON COMMIT DELETE ROWS"
# Emptied as it is read: a transaction may write several batches. Sorted, so two writers of the same bytes at
# once wait for each other in one order rather than deadlock.
KEEP_INCOMING = (
    "WITH incoming AS (DELETE FROM raw_incoming RETURNING sha256, content) "
    "INSERT INTO connectors_rawcontent (sha256, content) "
    "SELECT DISTINCT ON (sha256) sha256, content FROM incoming ORDER BY sha256 ON CONFLICT (sha256) DO NOTHING"
)


def raw_root() -> Path:
    return Path(settings.RAW_STORE_DIR)


def raw_path(sha256: str) -> Path:
    return raw_root() / sha256[:2] / sha256


class RawBatch:
    """Messages kept together: `put` each, then `write` once inside the transaction that records them. A big
    message is in its file when `put` returns; the small ones go to PostgreSQL in one COPY at `write`."""

    def __init__(self) -> None:
        self._small: dict[str, bytes] = {}

    def put(self, stream: BinaryIO) -> tuple[str, int]:
        """Read `stream` to its end (memory stays flat for any size); its SHA-256 and size."""
        head = _read_up_to(stream, SMALL_MESSAGE + 1)
        if len(head) > SMALL_MESSAGE:
            return _file_put(head, stream)
        sha256 = hashlib.sha256(head).hexdigest()
        self._small[sha256] = head
        return sha256, len(head)

    def write(self) -> None:
        """Send the small messages put so far; the same bytes kept before are not written again."""
        if not self._small:
            return
        # One transaction at least, or the temporary table would be emptied by the COPY's own commit.
        with transaction.atomic(savepoint=False), connection.cursor() as cursor:
            cursor.execute(INCOMING_TABLE)
            with cursor.cursor.copy("COPY raw_incoming (sha256, content) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "bytea"])
                for row in self._small.items():
                    copy.write_row(row)
            cursor.execute(KEEP_INCOMING)
        self._small.clear()


def raw_store_put(stream: BinaryIO) -> tuple[str, int]:
    """Keep one message (see RawBatch); the caller's transaction, if any, commits it with the message's row."""
    batch = RawBatch()
    kept = batch.put(stream)
    batch.write()
    return kept


def _read_up_to(stream: BinaryIO, limit: int) -> bytes:
    """The first `limit` bytes of `stream` (fewer at its end), across short reads (a socket gives what it has)."""
    blocks: list[bytes] = []
    size = 0
    while size < limit and (block := stream.read(limit - size)):
        blocks.append(block)
        size += len(block)
    return b"".join(blocks)


def _file_put(head: bytes, stream: BinaryIO) -> tuple[str, int]:
    """A big message is written as it is read (its hash is known only at the end), synced, then moved into
    place: its InboundMessage row commits after this, and must not outlive the bytes in a power cut."""
    root = raw_root()
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    handle, temporary = tempfile.mkstemp(dir=root, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as out:
            for block in itertools.chain([head], iter(lambda: stream.read(CHUNK), b"")):
                digest.update(block)
                out.write(block)
                size += len(block)
            out.flush()
            os.fsync(out.fileno())
        sha256 = digest.hexdigest()
        target = raw_path(sha256)
        target.parent.mkdir(exist_ok=True)
        os.replace(temporary, target)
        _sync_folder(target.parent)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return sha256, size


def _sync_folder(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def raw_store_open(sha256: str) -> BinaryIO:
    (stream,) = raw_store_open_each([sha256])
    return stream


def raw_store_open_each(hashes: Sequence[str]) -> Iterator[BinaryIO]:
    """Each message's bytes as a stream, in order: those in PostgreSQL fetched in one query (SMALL_MESSAGE
    bytes at most each), files opened as they come. The caller closes each."""
    held = _held(hashes)
    for sha256 in hashes:
        content = held.get(sha256)
        yield io.BytesIO(content) if content is not None else raw_path(sha256).open("rb")


def raw_store_open_range(sha256: str, start: int, end: int) -> BinaryIO:
    """Bytes `start` to `end` of a message as a stream that ends there: a part of a big file, read alone."""
    content = _held([sha256]).get(sha256)
    if content is not None:
        return io.BytesIO(content[start:end])
    file = raw_path(sha256).open("rb", buffering=0)
    file.seek(start)
    return io.BufferedReader(_Range(file, end - start))


def _held(hashes: Sequence[str]) -> dict[str, bytes]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sha256, content FROM connectors_rawcontent WHERE sha256 = ANY(%s)", [list(hashes)])
        return {sha256: bytes(content) for sha256, content in cursor.fetchall()}


class _Range(io.RawIOBase):
    """The next `size` bytes of an unbuffered file."""

    def __init__(self, file: io.RawIOBase, size: int) -> None:
        self._file = file
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        read = self._file.readinto(memoryview(buffer)[: self._left]) or 0
        self._left -= read
        return read

    def close(self) -> None:
        self._file.close()
        super().close()
