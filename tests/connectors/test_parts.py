"""A big file cut into parts at line ends: the parts cover the file, and read one by one they give the records
of the whole file with its own line numbers; only files whose lines do not name each other are cut."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from connectors.base import ParsedRecord
from connectors.fhir.connector import CONNECTOR
from connectors.parts import MIN_PART_BYTES, PART_BYTES, PARTS_PER_WORKER, LinePart, message_parts, part_bytes
from connectors.raw_store import raw_store_open_range, raw_store_put
from tests.connectors.golden import as_json
from tests.connectors.test_fhir import SOURCE


def line(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource, ensure_ascii=False).encode() + b"\n"


def observation(number: int, **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"o{number}",
        "status": "final",
        "code": {"text": "体重"},
        "subject": {"reference": "Patient/p1"},
        **fields,
    }


def test_parts_are_runs_of_whole_lines_that_cover_the_file_and_know_their_first_line():
    data = b"aaaa\n\n" + b"b" * 28 + b"\nc\nd\neeeeee\nf"

    found = message_parts(7, io.BytesIO(data), len(data), part_size=8)

    assert [data[part.start : part.end] for part in found] == [
        b"aaaa\n\n" + b"b" * 28 + b"\n",  # a part ends at the first line end after its share: a long line is whole
        b"c\n",
        b"d\n",
        b"eeeeee\n",
        b"f",
    ]
    assert [part.first_line for part in found] == [1, 4, 5, 6, 7]
    assert {part.message_id for part in found} == {7}


def test_a_stage_of_little_data_is_cut_into_smaller_parts_for_every_worker_to_get_several():
    assert part_bytes(100 * PART_BYTES, workers=2) == PART_BYTES
    small = 3 * PART_BYTES  # a Patient.ndjson of 3 MB: three parts would keep one of two workers waiting
    assert part_bytes(small, workers=2) == small // (2 * PARTS_PER_WORKER) < PART_BYTES
    assert part_bytes(PART_BYTES // 2, workers=2) == MIN_PART_BYTES  # not so small that batches stay half empty
    data = b"".join(b"%d\n" % number for number in range(1000))
    assert len(message_parts(7, io.BytesIO(data), len(data), part_size=-(-len(data) // 8))) == 8


def test_a_file_of_one_part_is_not_cut():
    data = b"a\nb\n"
    assert message_parts(7, io.BytesIO(data), len(data), part_size=PART_BYTES) == [LinePart(7, 0, 4, 1)]


@pytest.mark.django_db  # a file this small is kept in PostgreSQL; its parts are read from there
def test_the_parts_of_an_ndjson_file_give_the_records_of_the_whole_file():
    """Record by record the same locations, entries and problems: a BOM, blank lines, a line that is not
    JSON and one that is no resource included."""
    raw = b"\xef\xbb\xbf\n" + b"".join(
        b"\n"
        if number == 9
        else b"{not json\n"
        if number == 12
        else b"[1]\n"
        if number == 20
        else line(observation(number))
        for number in range(30)
    )
    sha256, size = raw_store_put(io.BytesIO(raw))
    whole = list(CONNECTOR.records(SOURCE, io.BytesIO(raw), "Observation.ndjson"))

    cut = message_parts(1, io.BytesIO(raw), size, part_size=300)
    read: list[ParsedRecord] = []
    for part in cut:
        with raw_store_open_range(sha256, part.start, part.end) as data:
            read.extend(CONNECTOR.line_records(SOURCE, data, "Observation.ndjson", part.first_line))

    assert len(cut) > 5
    assert as_json(read) == as_json(whole)
    assert [record.location for record in whole if record.problem] == [
        "Observation.ndjson:14",
        "Observation.ndjson:22",
    ]


@pytest.mark.parametrize(
    ("name", "raw", "split"),
    [
        ("Observation.ndjson", line(observation(1)) + line(observation(2)), True),
        ("Observation.ndjson", line(observation(1, hasMember=[{"reference": "Observation/o2"}])), False),
        ("Observation.ndjson", line(observation(1, derivedFrom=[{"reference": "Observation?identifier=a|b"}])), False),
        ("Patient.ndjson", b'{"resourceType":"Patient","link":[{"other":{"reference":"Patient\\/p2"}}]}\n', False),
        ("mixed.ndjson", line(observation(1)) + b'{"resourceType": "Patient", "id": "p1"}\n', False),
        ("Observation.json", line(observation(1)) + line(observation(2)), False),
        ("Observation.ndjson", b"[" + line(observation(1)), False),
    ],
    ids=["apart", "hasMember", "conditional", "link", "mixed", "not-ndjson", "not-an-object"],
)
def test_only_ndjson_whose_lines_name_no_resource_of_the_file_is_split_by_line(name, raw, split):
    assert CONNECTOR.split_by_line(io.BytesIO(raw), name) is split
