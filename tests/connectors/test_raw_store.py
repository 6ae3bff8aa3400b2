"""The raw store takes any size as a stream: memory stays flat, the hash is the content's; small messages are
rows of PostgreSQL, big ones files, and readers cannot tell."""

from __future__ import annotations

import hashlib
import io
import tracemalloc

import pytest
from django.db import transaction

from connectors.models import RawContent
from connectors.raw_store import (
    SMALL_MESSAGE,
    RawBatch,
    raw_path,
    raw_store_open,
    raw_store_open_each,
    raw_store_open_range,
    raw_store_put,
)

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


@pytest.mark.django_db
def test_the_same_bytes_are_kept_once(raw_store):
    first, _ = raw_store_put(io.BytesIO(b"MSH|same"))
    second, _ = raw_store_put(io.BytesIO(b"MSH|same"))

    assert first == second
    assert list(RawContent.objects.values_list("sha256", flat=True)) == [first]
    assert not raw_store.exists()  # no file for a small message
    with raw_store_open(first) as kept:
        assert kept.read() == b"MSH|same"


@pytest.mark.django_db
def test_a_batch_keeps_repeated_bytes_once_and_several_batches_fit_in_one_transaction(raw_store):
    with transaction.atomic():
        batch = RawBatch()
        kept = [batch.put(io.BytesIO(data)) for data in (b"MSH|a", b"MSH|b", b"MSH|a")]
        batch.write()
        again = RawBatch()
        kept.append(again.put(io.BytesIO(b"MSH|b")))
        kept.append(again.put(io.BytesIO(b"MSH|c")))
        again.write()

    assert [size for _, size in kept] == [5] * 5
    assert kept[2] == kept[0]
    assert kept[3] == kept[1]
    assert RawContent.objects.count() == 3
    hashes = [sha256 for sha256, _ in kept]
    assert [stream.read() for stream in raw_store_open_each(hashes)] == [
        b"MSH|a",
        b"MSH|b",
        b"MSH|a",
        b"MSH|b",
        b"MSH|c",
    ]


@pytest.mark.django_db
def test_small_and_big_messages_open_in_order_whole_and_by_range(raw_store):
    small, big = b"MSH|small\r" * 10, b"x" * (SMALL_MESSAGE + 1)
    batch = RawBatch()
    small_hash, _ = batch.put(io.BytesIO(small))
    big_hash, _ = batch.put(io.BytesIO(big))
    assert raw_path(big_hash).read_bytes() == big  # a big message is in its file before the batch is written
    batch.write()

    streams = list(raw_store_open_each([big_hash, small_hash, big_hash]))
    assert [stream.read() for stream in streams] == [big, small, big]
    for stream in streams:
        stream.close()
    with raw_store_open_range(small_hash, 4, 9) as part:
        assert part.read() == b"small"
    with raw_store_open_range(big_hash, 10, 13) as part:
        assert part.read() == b"xxx"
    assert not raw_path(small_hash).exists()
    assert list(RawContent.objects.values_list("sha256", flat=True)) == [small_hash]


@pytest.mark.django_db
def test_a_small_message_kept_as_a_file_before_the_table_existed_still_opens(raw_store):
    data = b"MSH|kept before"
    sha256 = hashlib.sha256(data).hexdigest()
    raw_path(sha256).parent.mkdir(parents=True)
    raw_path(sha256).write_bytes(data)

    with raw_store_open(sha256) as kept:
        assert kept.read() == data
    with raw_store_open_range(sha256, 4, 8) as part:
        assert part.read() == b"kept"
    assert raw_store_put(io.BytesIO(data)) == (sha256, len(data))  # received again: kept once more, in the table
    with raw_store_open(sha256) as kept:
        assert kept.read() == data


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


@pytest.mark.django_db
def test_messages_around_the_size_limit_and_the_chunk_size_and_short_reads_are_kept_whole(raw_store):
    chunk = 1 << 20
    small = [b"", b"x", b"s" * SMALL_MESSAGE]
    big = [b"t" * (SMALL_MESSAGE + 1), b"a" * (chunk - 1), b"b" * chunk, b"c" * (chunk + 1), b"d" * (3 * chunk + 7)]
    for data in small + big:
        for stream in (io.BytesIO(data), _Trickle(data)):
            sha256, size = raw_store_put(stream)  # type: ignore[arg-type]
            assert (sha256, size) == (hashlib.sha256(data).hexdigest(), len(data))
            with raw_store_open(sha256) as kept:
                assert kept.read() == data
            assert raw_path(sha256).exists() == (data in big)
    assert RawContent.objects.count() == len(small)
    assert not list(raw_store.rglob(".incoming-*"))


@pytest.mark.django_db(transaction=True)
def test_a_message_kept_outside_any_transaction_is_committed_whole(raw_store):
    sha256, _ = raw_store_put(io.BytesIO(b"MSH|autocommit"))

    with raw_store_open(sha256) as kept:
        assert kept.read() == b"MSH|autocommit"
