"""FHIR JSON files as parsed values: one JSON document (a Bundle or a resource) or NDJSON, one per line.

NDJSON is told by the `.ndjson` extension, or by a first line that is a whole JSON value with more
content after it; NDJSON is read line by line, so a file of any size takes the memory of its longest
line, and a line longer than MAX_LINE_BYTES is a problem, read past and never held whole (a file without
line ends is no one big line). A JSON document is read whole, so it is refused above MAX_DOCUMENT_BYTES
(send such data as NDJSON), told from the file's size before it is read. Decimals are read as Decimal so
that 0.60 stays 0.60, as FHIR wants.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any, BinaryIO

from connectors.base import stream_size
from core.fhir_json import loads, loads_utf8

MAX_DOCUMENT_BYTES = 64 << 20
MAX_LINE_BYTES = 16 << 20  # the longest NDJSON line (one resource)
_SPACE = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 16


@dataclass(slots=True)
class Item:
    """A JSON value read from the file, or why a part of it could not be read."""

    location: str  # the file, or file:line for an NDJSON line
    value: Any = None
    problem: str | None = None
    ndjson: bool = False


def items(data: BinaryIO, origin: str) -> Iterator[Item]:
    """The file's JSON values in order: one for a JSON document, one per non-blank line for NDJSON."""
    size = stream_size(data)
    head, skipped = _head(data)
    if not head:
        yield Item(origin, problem="the file is empty")
        return
    if head[:1] != b"{":
        yield Item(origin, problem=_not_json(head))
        return
    pieces = _pieces(head, skipped, data)
    first = next(pieces)
    following = []  # the lines up to the second non-blank one, which tells NDJSON from a document
    if first[1].endswith(b"\n"):
        for piece in pieces:
            following.append(piece)
            if piece[1].strip(_SPACE):
                break
    more = bool(following) and bool(following[-1][1].strip(_SPACE))
    read = chain([first], following, pieces)
    if _named_ndjson(origin) or (more and _is_json(first[1])):
        yield from _ndjson(origin, read)
    else:
        yield _document(origin, read, size)


def ndjson_lines(data: BinaryIO, origin: str) -> bool:
    """True when `items` reads the file (`data` at its start) line by line from its first line on: it is named
    .ndjson and opens with a JSON object. Such a file may also be read in runs of lines (`line_items`)."""
    return _named_ndjson(origin) and _head(data)[0][:1] == b"{"


def line_items(data: BinaryIO, origin: str, first_line: int) -> Iterator[Item]:
    """The items of a run of whole lines of a file that `ndjson_lines` accepts, `data` starting where its line
    `first_line` does: what `items` gives for those lines (a run that opens the file may start with a BOM)."""
    head = data.read(len(_BOM)).removeprefix(_BOM) if first_line == 1 else b""
    return _ndjson(origin, _pieces(head, first_line - 1, data))


def _named_ndjson(origin: str) -> bool:
    return origin.lower().endswith(".ndjson")


def _head(data: BinaryIO) -> tuple[bytes, int]:
    """The file's first bytes from its first non-space byte on (a UTF-8 BOM is skipped), b"" if there is
    none; and how many line breaks came before it."""
    head = data.read(_CHUNK).removeprefix(_BOM)
    skipped = 0
    while head:
        stripped = head.lstrip(_SPACE)
        skipped += head.count(b"\n", 0, len(head) - len(stripped))
        if stripped:
            return stripped, skipped
        head = data.read(_CHUNK)
    return b"", skipped


def _not_json(head: bytes) -> str:
    first = head[:1]
    if first == b"[":
        return "the file is a JSON array, not a FHIR resource, Bundle or NDJSON"
    if first == b"<":
        return "the file starts with '<': FHIR XML is not read, only FHIR JSON and NDJSON"
    return f"the file is not FHIR JSON: it starts with byte 0x{first[0]:02X}, not '{{'"


def _pieces(head: bytes, skipped: int, data: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of each physical line, its line end kept. A line longer than MAX_LINE_BYTES comes
    in pieces with the same number: that much first, then the rest in chunks, so that NDJSON holds no more
    of it than that to report it, and a document still gets every byte."""
    parts = head.split(b"\n")
    number = skipped
    for part in parts[:-1]:
        number += 1
        yield number, part + b"\n"
    piece = parts[-1] + data.readline(max(MAX_LINE_BYTES - len(parts[-1]), 0))
    while piece:
        number += 1
        yield number, piece
        while not piece.endswith(b"\n") and (piece := data.readline(_CHUNK)):
            yield number, piece  # the rest of a long line
        piece = data.readline(MAX_LINE_BYTES)


def _ndjson(origin: str, pieces: Iterator[tuple[int, bytes]]) -> Iterator[Item]:
    """One item per non-blank line; the rest of a line too long to read is skipped."""
    previous = None
    for number, piece in pieces:
        if number != previous and piece.strip(_SPACE):
            yield _line_item(origin, number, piece)
        previous = number


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _line_item(origin: str, number: int, line: bytes) -> Item:
    location = f"{origin}:{number}"
    if len(line) >= MAX_LINE_BYTES and not line.endswith(b"\n"):
        return Item(location, problem=f"line {number} is longer than {MAX_LINE_BYTES:,} bytes")
    try:
        return Item(location, value=loads_utf8(line), ndjson=True)
    except (ValueError, RecursionError):
        pass  # read again below, to say why or to read what only the standard library reads
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = f"byte 0x{line[error.start]:02X} at byte {error.start + 1} cannot be decoded"
        return Item(location, problem=f"line {number} is not UTF-8 text: {bad}")
    value, problem = _parse(text)
    if problem is not None:
        return Item(location, problem=f"line {number} is not valid JSON: {problem.replace(' at line 1 ', ' at ')}")
    return Item(location, value=value, ndjson=True)


def _document(origin: str, pieces: Iterator[tuple[int, bytes]], file_size: int | None) -> Item:
    """The file's one JSON value; refused unread above MAX_DOCUMENT_BYTES when the file tells its size."""
    too_large = Item(origin, problem=f"the file is larger than {MAX_DOCUMENT_BYTES:,} bytes: send large data as "
                     "NDJSON, which is read line by line")  # fmt: skip
    if file_size is not None and file_size > MAX_DOCUMENT_BYTES:
        return too_large
    chunks = []
    size = 0
    first = None
    for number, piece in pieces:
        first = first or number
        size += len(piece)
        if size > MAX_DOCUMENT_BYTES:
            return too_large
        chunks.append(piece)
    raw = b"".join(chunks)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return Item(origin, problem=f"the file is not UTF-8 text: {_bad_byte(raw, error, first or 1)}")
    value, problem = _parse("\n" * ((first or 1) - 1) + text)  # line numbers of the file
    if problem is not None:
        return Item(origin, problem=f"the file is not valid JSON: {problem}")
    return Item(origin, value=value)


def _bad_byte(raw: bytes, error: UnicodeDecodeError, first_line: int) -> str:
    """Where the undecodable byte of a document is: `raw` starts on line `first_line` of the file."""
    line = raw.count(b"\n", 0, error.start) + first_line
    column = error.start - raw.rfind(b"\n", 0, error.start)
    return f"byte 0x{raw[error.start]:02X} at line {line} byte {column} cannot be decoded"


def _parse(text: str) -> tuple[Any, str | None]:
    """The JSON value of `text`, or why it is none; a syntax error says where as "line L column C" of `text`."""
    try:
        return loads(text), None
    except json.JSONDecodeError as error:
        return None, f"{error.msg} at line {error.lineno} column {error.colno}"
    except ValueError as error:  # NaN or Infinity, refused by FHIR JSON
        return None, str(error)
    except RecursionError:
        return None, "it is nested too deeply to be read"
