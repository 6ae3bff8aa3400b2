"""The raw store takes any size as a stream: memory stays flat, the hash is the content's."""

from __future__ import annotations

import hashlib
import io
import tracemalloc

from connectors.raw_store import raw_path, raw_store_open, raw_store_put

LINE = b'{"resourceType":"Patient","identifier":[{"system":"urn:x","value":"0000000000"}]}\n'
SIZE = 200 * 1024 * 1024


class _Lines(io.RawIOBase):
    """A 200 MB NDJSON stream made on the fly, so the test itself holds nothing big."""

    def __init__(self) -> None:
        self.sent = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        left = SIZE - self.sent
        if left <= 0:
            return 0
        block = (LINE * (len(buffer) // len(LINE) + 1))[: min(len(buffer), left)]
        buffer[: len(block)] = block
        self.sent += len(block)
        return len(block)


def expected_digest() -> str:
    digest = hashlib.sha256()
    stream = io.BufferedReader(_Lines(), buffer_size=1 << 20)
    while block := stream.read(1 << 20):
        digest.update(block)
    return digest.hexdigest()


def test_a_200_mb_message_is_streamed_into_the_store_with_flat_memory(raw_store):
    tracemalloc.start()
    try:
        sha256, size = raw_store_put(io.BufferedReader(_Lines(), buffer_size=1 << 20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert size == SIZE
    assert sha256 == expected_digest()
    assert raw_path(sha256).stat().st_size == SIZE
    assert peak < 16 * 1024 * 1024  # a few 1 MiB chunks, never the message


def test_the_same_bytes_are_kept_once(raw_store):
    first, _ = raw_store_put(io.BytesIO(b"MSH|same"))
    second, _ = raw_store_put(io.BytesIO(b"MSH|same"))

    assert first == second
    assert [path.name for path in raw_store.rglob("*") if path.is_file()] == [first]
    with raw_store_open(first) as kept:
        assert kept.read() == b"MSH|same"


class _Trickle(io.RawIOBase):
    """A stream that hands out at most 1,000 bytes a read, as a socket may."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        block, self.data = self.data[:1000], self.data[1000:]
        buffer[: len(block)] = block
        return len(block)


def test_messages_around_the_chunk_size_and_short_reads_are_kept_whole(raw_store):
    chunk = 1 << 20
    messages = [b"", b"x", b"a" * (chunk - 1), b"b" * chunk, b"c" * (chunk + 1), b"d" * (3 * chunk + 7)]
    for data in messages:
        for stream in (io.BytesIO(data), _Trickle(data)):
            sha256, size = raw_store_put(stream)  # type: ignore[arg-type]
            assert (sha256, size) == (hashlib.sha256(data).hexdigest(), len(data))
            assert raw_path(sha256).read_bytes() == data
    assert not list(raw_store.rglob(".incoming-*"))
