"""FHIR JSON files as parsed values: one JSON document (a Bundle or a resource) or NDJSON, one per line.

NDJSON is told by the `.ndjson` extension, or by a first line that is a whole JSON value with more
content after it; NDJSON is read line by line, so a file of any size takes the memory of its longest
line. A JSON document is read whole, so it is refused above MAX_DOCUMENT_BYTES (send such data as
NDJSON). Decimals are read as Decimal so that 0.60 stays 0.60, as FHIR wants.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any, BinaryIO

from core.fhir_json import loads

MAX_DOCUMENT_BYTES = 64 << 20  # also the longest NDJSON line
_SPACE = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Item:
    """A JSON value read from the file, or why a part of it could not be read."""

    location: str  # the file, or file:line for an NDJSON line
    value: Any = None
    problem: str | None = None
    ndjson: bool = False


def items(data: BinaryIO, origin: str) -> Iterator[Item]:
    """The file's JSON values in order: one for a JSON document, one per non-blank line for NDJSON."""
    head, skipped = _head(data)
    if not head:
        yield Item(origin, problem="the file is empty")
        return
    if head[:1] != b"{":
        yield Item(origin, problem=_not_json(head))
        return
    lines = _lines(head, skipped, data)
    first = next(lines)
    following = []  # the lines up to the second non-blank one, which tells NDJSON from a document
    for line in lines:
        following.append(line)
        if line[1].strip(_SPACE):
            break
    more = bool(following) and bool(following[-1][1].strip(_SPACE))
    read = chain([first], following, lines)
    if origin.lower().endswith(".ndjson") or (more and _is_json(first[1])):
        yield from (_line_item(origin, number, line) for number, line in read if line.strip(_SPACE))
    else:
        yield _document(origin, read)


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


def _lines(head: bytes, skipped: int, data: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of each physical line; a line longer than MAX_DOCUMENT_BYTES comes cut to that
    length (and is reported as too long), the rest of it skipped."""
    parts = head.split(b"\n")
    number = skipped
    for part in parts[:-1]:
        number += 1
        yield number, part + b"\n"
    line = parts[-1]
    if not line.endswith(b"\n"):
        line += data.readline(max(MAX_DOCUMENT_BYTES - len(line), 0))
    while line:
        number += 1
        yield number, line
        while len(line) >= MAX_DOCUMENT_BYTES and not line.endswith(b"\n"):
            line = data.readline(MAX_DOCUMENT_BYTES)  # the rest of an overlong line
        line = data.readline(MAX_DOCUMENT_BYTES)


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _line_item(origin: str, number: int, line: bytes) -> Item:
    location = f"{origin}:{number}"
    if len(line) >= MAX_DOCUMENT_BYTES and not line.endswith(b"\n"):
        return Item(location, problem=f"line {number} is longer than {MAX_DOCUMENT_BYTES:,} bytes")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = f"byte 0x{line[error.start]:02X} at byte {error.start + 1} cannot be decoded"
        return Item(location, problem=f"line {number} is not UTF-8 text: {bad}")
    value, problem = _parse(text)
    if problem is not None:
        return Item(location, problem=f"line {number} is not valid JSON: {problem.replace(' at line 1 ', ' at ')}")
    return Item(location, value=value, ndjson=True)


def _document(origin: str, lines: Iterator[tuple[int, bytes]]) -> Item:
    chunks = []
    size = 0
    first = None
    for number, line in lines:
        first = first or number
        size += len(line)
        if size > MAX_DOCUMENT_BYTES:
            return Item(origin, problem=f"the file is larger than {MAX_DOCUMENT_BYTES:,} bytes: send large data "
                        "as NDJSON, which is read line by line")  # fmt: skip
        chunks.append(line)
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
