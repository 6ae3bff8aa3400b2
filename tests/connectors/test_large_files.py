"""A 200 MB file reaches every connector: it ends in one precise quarantine entry or in records, never in a
crash, and the memory a connector holds while reading it stays far below its size.

The inputs are written to a temporary folder by the tests (and removed after them). Memory is traced with
tracemalloc: its peak counts every buffer Python allocates, so a file read whole would show its 200 MB.
Files that are refused go through the whole pipeline (raw store, connector, quarantine); files of valid
records are read through the connector's `records()` alone, since storing some thousand records is the
store's work, not what is measured here. Their rows and lines are wide (tens of KiB), so that 200 MB are a
few thousand records and the tests take seconds.
"""

from __future__ import annotations

import json
import shutil
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from connectors.base import SourceInfo
from connectors.models import MessageStatus
from connectors.pipeline import message_process, message_receive, source_register
from connectors.registry import connector_for

MiB = 1 << 20
SIZE = 200 * MiB
MEMORY_BOUND = 50 * MiB  # a quarter of the file: whatever a connector holds, it is not the file
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
MEDICAL_INSTITUTION = ("http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no", "1312345670")
MUNICIPALITY = ("https://tsunagi.example.jp/fhir/IdSystem/local-government-code", "229990")
SS_MIX2_NAME = "0000001_20240401_OMP-01_000000000000001_20240401090000000_01_1"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where this module's 200 MB files are written; removed at the end, not left to pytest's retention."""
    path = tmp_path_factory.mktemp("large")
    yield path
    shutil.rmtree(path)


@pytest.fixture(autouse=True)
def raw_store(settings, folder: Path) -> Iterator[Path]:
    """The raw store in the module's folder, emptied after each test (it holds a 200 MB copy)."""
    settings.RAW_STORE_DIR = folder / "raw"
    yield settings.RAW_STORE_DIR
    shutil.rmtree(settings.RAW_STORE_DIR, ignore_errors=True)


def write(path: Path, line: bytes, head: bytes = b"") -> int:
    """Write `head`, then `line` again and again up to SIZE bytes or a little more (whole lines); how many
    times `line` was written."""
    copies = max(1, MiB // len(line))
    block = line * copies
    written = 0
    with path.open("wb") as out:
        out.write(head)
        while len(head) + written * len(line) < SIZE:
            out.write(block)
            written += copies
    return written


@pytest.fixture(scope="module")
def unterminated(folder: Path) -> Path:
    """200 MiB without a single line end, opening like a FHIR resource that never closes."""
    path = folder / "unterminated"
    write(path, b"x" * 4096, head=b'{"resourceType": "Patient", "text": "')
    with path.open("r+b") as out:
        out.truncate(SIZE)
    return path


Result = TypeVar("Result")


def peak_memory(run: Callable[[], Result]) -> tuple[Result, int]:
    """What `run` returns, and the most memory it held at once (bytes allocated by Python)."""
    tracemalloc.start()
    try:
        result = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def organization(connector: str) -> tuple[str, str]:
    return MUNICIPALITY if connector == "resident-register" else MEDICAL_INSTITUTION


def ingest(connector: str, path: Path, origin: str) -> tuple[Any, list[str]]:
    system, value = organization(connector)
    source, _ = source_register(
        code=f"large-{connector}",
        connector=connector,
        organization_name="テスト",
        organization_system=system,
        organization_value=value,
    )
    with path.open("rb") as stream:
        message, _ = message_receive(source=source, stream=stream, origin=origin)
    return message_process(message_id=message.pk)


def source(connector: str) -> SourceInfo:
    system, value = organization(connector)
    return SourceInfo(
        code=f"large-{connector}",
        connector=connector,
        organization_name="テスト",
        organization_system=system,
        organization_value=value,
        patient_identifier_system="urn:oid:1.2.392.100495.20.3.51.11312345670",
    )


def read_records(connector: str, path: Path, origin: str) -> tuple[int, int]:
    """How many records the connector gives for the file, and how many of them are problems."""
    records = problems = 0
    with path.open("rb") as data:
        for record in connector_for(connector).records(source(connector), data, origin):
            records += 1
            problems += record.problem is not None
    return records, problems


def streamed_records(connector: str, path: Path) -> int:
    """How many records the connector reads from the file (deleted afterwards), checking that none is a
    problem and that memory stayed within MEMORY_BOUND all along."""
    (records, problems), peak = peak_memory(lambda: read_records(connector, path, path.name))
    assert problems == 0
    assert peak < MEMORY_BOUND
    path.unlink()
    return records


# --- refused: the whole pipeline ----------------------------------------------------------------------

TOO_LARGE = "the file is 209,715,200 bytes (200.0 MiB)"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("connector", "origin", "problem"),
    [
        pytest.param(
            "ssmix2",
            SS_MIX2_NAME,
            f"{SS_MIX2_NAME}: {TOO_LARGE}; an SS-MIX2 file (one HL7 v2 message) larger than 16 MiB is not read",
            id="ssmix2",
        ),
        pytest.param(
            "hl7v2",
            "big.hl7",
            "big.hl7: the file is not HL7 v2: it does not start with an MSH, FHS or BHS segment "
            "(a line longer than 16 MiB)",
            id="hl7v2",
        ),
        pytest.param(
            "jahis",
            "0000001_20240401_1.csv",
            f"0000001_20240401_1.csv: {TOO_LARGE}; a JAHIS e-medication notebook file larger than 4 MiB is not read",
            id="jahis",
        ),
        pytest.param(
            "care",
            "clients.csv",
            "clients.csv:1: line 1 is longer than 65536 bytes, far beyond any care CSV row",
            id="care",
        ),
        pytest.param(
            "resident-register",
            "residents.csv",
            "residents.csv:1: line 1 is longer than 1,048,576 bytes, so it is no register header",
            id="resident-register",
        ),
        pytest.param(
            "fhir",
            "big.ndjson",
            "big.ndjson:1: line 1 is longer than 16,777,216 bytes",
            id="fhir-ndjson",
        ),
        pytest.param(
            "fhir",
            "big.json",
            "big.json: the file is larger than 67,108,864 bytes: send large data as NDJSON, which is read line by line",
            id="fhir-document",
        ),
    ],
)
def test_a_200_mb_file_without_line_ends_is_one_precise_problem(unterminated, connector, origin, problem):
    (message, problems), peak = peak_memory(lambda: ingest(connector, unterminated, origin))

    assert (message.status, message.records, message.quarantined) == (MessageStatus.QUARANTINED, 1, 1)
    assert problems == [f"large-{connector}:{problem}"]
    assert message.quarantine.get().reason == problem.partition(": ")[2]
    assert peak < MEMORY_BOUND


@pytest.mark.django_db
def test_a_200_mb_hl7_message_is_refused_as_it_streams_past(folder):
    segment = b"OBX|1|TX|9Z999^" + b"x" * 8000 + b"^99X03||text||||||F\r"
    path = folder / "one-message.hl7"
    write(path, segment, head=b"MSH|^~\\&|HIS||GW||20240401||ORU^R01|C-1|P|2.5\r")

    (message, problems), peak = peak_memory(lambda: ingest("hl7v2", path, "one-message.hl7"))

    assert message.status == MessageStatus.QUARANTINED
    assert problems == ["large-hl7v2:one-message.hl7:1: the message at line 1 is longer than 16 MiB"]
    assert peak < MEMORY_BOUND
    path.unlink()


# --- valid records: the connector streams them ----------------------------------------------------------


def wide_rows(fixture: Path, column: int, padding: str) -> bytes:
    """The fixture's data rows (CP932 CSV, no quoted values), each with `padding` added to one column."""
    lines = fixture.read_bytes().decode("cp932").splitlines()[1:]
    rows = [line.split(",") for line in lines]
    for row in rows:
        row[column] += padding
    return "".join(",".join(row) + "\r\n" for row in rows).encode("cp932")


def header(fixture: Path) -> bytes:
    return fixture.read_bytes().splitlines(keepends=True)[0]


def test_a_200_mb_care_table_streams_row_by_row(folder):
    fixture = FIXTURES / "care" / "clients__day-service.csv"
    rows = wide_rows(fixture, 6, "グランドール駅前" * 3800)  # 住所: a row is 60 KiB
    path = folder / "clients.csv"
    copies = write(path, rows, head=header(fixture))

    assert streamed_records("care", path) == copies * rows.count(b"\r\n")


def test_a_200_mb_resident_register_streams_row_by_row(folder):
    fixture = FIXTURES / "resident-register" / "residents__synthetic.csv"
    rows = wide_rows(fixture, 8, "グランドール駅前" * 3800)  # 住所: a row is 60 KiB
    households = {row.split(b",")[1] for row in rows.splitlines()}
    path = folder / "residents.csv"
    copies = write(path, rows, head=header(fixture))

    assert streamed_records("resident-register", path) == copies * rows.count(b"\r\n") + len(households)


def test_200_mb_of_ndjson_stream_line_by_line(folder):
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:oid:1.2.392.100495.20.3.51.11312345670", "value": "1"}],
        "name": [{"text": "山田 花子"}],
        "address": [{"text": "静岡県綱木市本町一丁目" + "グランドール駅前" * 8000}],
    }
    line = json.dumps(patient, ensure_ascii=False).encode() + b"\n"
    path = folder / "Patient.ndjson"
    copies = write(path, line)

    assert streamed_records("fhir", path) == copies


def test_a_200_mb_hl7_batch_streams_message_by_message(folder):
    message = (
        b"MSH|^~\\&|HIS|1312345670|GW|1312345670|20240401090000||ORU^R01^ORU_R01|C-1|P|2.5\r"
        b"PID|0001||00050^^^^PI||YAMADA^TARO^^^^^L^A||19400101|M\r"
        b"OBR|1|000000000000201||E002^LAB^99O03|||202404150900\r"
        b"OBX|1|TX|9Z999000000000002^COMMENT^99X03||" + b"x" * MiB + b"||||||F\r"
    )
    path = folder / "batch.hl7"
    copies = write(path, message)

    assert streamed_records("hl7v2", path) == copies
