"""Raw bytes by content: every message is written here, streamed and hashed, before anything parses it."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings

CHUNK = 1 << 20


def raw_root() -> Path:
    return Path(settings.RAW_STORE_DIR)


def raw_path(sha256: str) -> Path:
    return raw_root() / sha256[:2] / sha256


def raw_store_put(stream: BinaryIO) -> tuple[str, int]:
    """Copy `stream` into the store in 1 MiB chunks (memory stays flat for any size); its SHA-256 and size.
    The same bytes stored twice are kept once."""
    head = stream.read(CHUNK)
    more = stream.read(CHUNK) if head else b""
    if not more:
        return _small_put(head), len(head)
    return _streamed_put([head, more], stream)


def _small_put(data: bytes) -> str:
    """A message of one chunk (most are a few KB) is hashed before it is written: bytes kept before are not
    written again, and the new file is made beside its final name rather than moved across folders."""
    sha256 = hashlib.sha256(data).hexdigest()
    target = raw_path(sha256)
    if target.exists():
        return sha256
    # Unique per writer, so two processes or threads keeping the same bytes at once do not share a file.
    temporary = target.with_name(f".incoming-{os.getpid()}-{threading.get_ident()}-{sha256[:16]}")
    try:
        out = temporary.open("wb")
    except FileNotFoundError:
        temporary.parent.mkdir(parents=True, exist_ok=True)
        out = temporary.open("wb")
    try:
        with out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return sha256


def _streamed_put(first: list[bytes], stream: BinaryIO) -> tuple[str, int]:
    """A big message is written as it is read (its hash is known only at the end), then moved into place."""
    root = raw_root()
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    handle, temporary = tempfile.mkstemp(dir=root, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as out:
            for block in itertools.chain(first, iter(lambda: stream.read(CHUNK), b"")):
                digest.update(block)
                out.write(block)
                size += len(block)
        sha256 = digest.hexdigest()
        target = raw_path(sha256)
        target.parent.mkdir(exist_ok=True)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return sha256, size


def raw_store_open(sha256: str) -> BinaryIO:
    return raw_path(sha256).open("rb")


def raw_store_open_range(sha256: str, start: int, end: int) -> BinaryIO:
    """Bytes `start` to `end` of a message as a stream that ends there: a part of a big file, read alone."""
    file = raw_path(sha256).open("rb", buffering=0)
    file.seek(start)
    return io.BufferedReader(_Range(file, end - start))


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
