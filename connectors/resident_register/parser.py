"""The register's CP932 CSV tables, read line by line: which table the header names, then its rows.

Lines are decoded one at a time (0x0A is never a CP932 trail byte, so splitting the bytes on LF is safe),
which keeps memory flat on a large extract and lets an undecodable byte be reported with its line; the
decoded lines go through the csv module, so quoted fields with commas or line breaks read as written.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from connectors.base import bounded_lines
from core.formats import RESIDENT_REGISTER_COLUMNS

RESIDENTS = "residents.csv"
MOVEMENTS = "movements.csv"
COLUMNS = RESIDENT_REGISTER_COLUMNS
# A physical line longer than this is not held (its row is reported, the rest of it read past): no register
# row comes near it, and a file without line ends must not be read as one line.
MAX_LINE_BYTES = 1 << 20


@dataclass(frozen=True)
class Row:
    """A data row: the line it starts on and its fields by column name."""

    line: int
    fields: dict[str, str]


@dataclass(frozen=True)
class BadRow:
    """A line (or the whole file, line 0 or 1) that cannot be read; `reason` is one sentence."""

    line: int
    reason: str


@dataclass(frozen=True)
class Table:
    """An opened register file: its table name and its rows (or row problems), in file order."""

    name: str
    rows: Iterator[Row | BadRow]


def open_table(data: BinaryIO, origin: str) -> Table | BadRow:
    """The table `data` holds, told by its header line; a BadRow when the file has no usable header."""
    first = data.readline(MAX_LINE_BYTES + 1)
    if not first.strip():
        return BadRow(1, "the file is empty: a register table starts with its header line")
    if _too_long(first):
        return BadRow(1, f"line 1 is longer than {MAX_LINE_BYTES:,} bytes, so it is no register header")
    try:
        header = _fields(first.decode("cp932"))
    except UnicodeDecodeError:
        header = None
    name = next((table for table, columns in COLUMNS.items() if tuple(header or ()) == columns), None)
    if name is None:
        return BadRow(1, _header_problem(first, header, PurePosixPath(origin).name))
    return Table(name, _rows(data, COLUMNS[name], name))


def _header_problem(first: bytes, header: list[str] | None, file_name: str) -> str:
    """Why line 1 is no register header, as precisely as can be told."""
    try:
        as_utf8 = _fields(first.decode("utf-8-sig"))
    except UnicodeDecodeError:
        as_utf8 = None
    if as_utf8 is not None and tuple(as_utf8) in COLUMNS.values() and header != as_utf8:
        return "the file is UTF-8 encoded; the register extract must be CP932 (Windows Shift_JIS)"
    if header is None:
        return "line 1 is not CP932 text, so it cannot be the header of residents.csv or movements.csv"
    # A file named like a table (residents.csv, residents_20260331.csv) is compared with that table's header.
    table = next((name for name in COLUMNS if file_name.startswith(name.removesuffix(".csv"))), None)
    if table is None:
        return "line 1 is neither the header of residents.csv nor that of movements.csv"
    expected = COLUMNS[table]
    for number, (found, wanted) in enumerate(zip(header, expected, strict=False), start=1):
        if found != wanted:
            return f"header column {number} is '{found}' where {table} has '{wanted}'"
    return f"the header has {len(header)} columns where {table} has {len(expected)}"


def _fields(line: str) -> list[str]:
    return next(csv.reader([line]), [])


def _rows(data: BinaryIO, columns: tuple[str, ...], name: str) -> Iterator[Row | BadRow]:
    unreadable: dict[int, str] = {}
    reader = csv.reader(_decoded_lines(data, unreadable), strict=True)
    consumed = 1  # the header line
    while True:
        line = consumed + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            values = None
            problem = (
                f"line {line} opens a quoted field that the file never closes: it is probably truncated"
                if "unexpected end of data" in str(error)
                else f"line {line} is not a well-formed CSV row: {error}"
            )
        consumed = reader.line_num + 1
        reason = unreadable.pop(line, None)
        for passed in [number for number in unreadable if number < consumed]:  # inside a quoted value
            del unreadable[passed]
        if reason is not None:
            yield BadRow(line, reason)
        elif values is None:
            yield BadRow(line, problem)
        elif not values:
            continue  # a blank line (a trailing CRLF) holds no row
        elif len(values) != len(columns):
            yield BadRow(line, f"line {line} has {len(values)} fields where {name} has {len(columns)}")
        else:
            yield Row(line, dict(zip(columns, values, strict=True)))


def _decoded_lines(data: BinaryIO, unreadable: dict[int, str]) -> Iterator[str]:
    """Each physical line after the header as text; an undecodable or overlong one is noted by number and
    read as empty, so the rows after it are still read."""
    for number, raw in enumerate(bounded_lines(data, MAX_LINE_BYTES), start=2):
        if raw is None:
            unreadable[number] = f"line {number} is longer than {MAX_LINE_BYTES:,} bytes, far beyond any register row"
            yield "\r\n"
            continue
        try:
            yield raw.decode("cp932")
        except UnicodeDecodeError as error:
            bad = raw[error.start]
            unreadable[number] = (
                f"line {number} is not CP932 text: byte 0x{bad:02X} at byte {error.start + 1} cannot be decoded"
            )
            yield "\r\n"


def _too_long(line: bytes) -> bool:
    """A line read with readline(MAX_LINE_BYTES + 1) that is longer than MAX_LINE_BYTES."""
    return len(line) > MAX_LINE_BYTES and not line.endswith(b"\n")
