"""HL7 v2 bytes to parsed messages: segments streamed off the bytes, batch envelopes checked, MSH-18 decoded.

The bytes are cut into segments before they are decoded: CR and LF never occur inside a character of the
charsets read here (ISO-2022-JP, Shift_JIS, UTF-8), whereas ``|``, ``^``, ``~`` and ``\\`` do (inside JIS X 0208
and Shift_JIS characters), so fields are split only after decoding. python-hl7 parses the header's start (the
delimiters and escape character, MSH-1 and MSH-2) and unescapes values; a field is split at its delimiters
only when the mapping reads it, into the parts python-hl7 would make (see `_Header`). Only one message is held
in memory at a time, so a file of any size streams.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import hl7
import hl7.util

CHUNK = 1 << 16
MAX_MESSAGE = 16 << 20  # a message (an SS-MIX2 file) larger than this is a problem, not a memory spike
MAX_LINE = MAX_MESSAGE  # a segment longer than this is not HL7 (a binary file without line ends)
MAX_NAMED = 10  # stray lines: the segment IDs a problem names
FRAMING = b"\x0b\x1c"  # MLLP start and end bytes (SS-MIX2 files end with a 0x1C after the last CR)
BOM = b"\xef\xbb\xbf"
ENVELOPE = frozenset({"FHS", "FTS", "BHS", "BTS"})
_TERMINATOR = re.compile(rb"\r\n?|\n")
_SEGMENT_ID = re.compile(rb"[A-Z][A-Z0-9]{2}(?![A-Za-z0-9])")
_DTM = re.compile(
    r"(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?(?:([+-])(\d{2})(\d{2}))?"
)
JAPAN_OFFSET = "+09:00"


class Hl7Error(Exception):
    """Why a message cannot be taken: `line` is the file line of the segment at fault (None: the whole file)."""

    def __init__(self, line: int | None, field: str, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Line:
    """One segment's bytes (framing bytes removed) and its line number in the file, from 1."""

    number: int
    data: bytes
    terminated: bool = True  # False for the last line of a file cut short (no CR or LF after it)
    too_long: bool = False  # longer than MAX_LINE: `data` is only its first bytes
    segment_id: str | None = field(init=False)  # the segment ID the line starts with, if it does

    def __post_init__(self) -> None:
        match = _SEGMENT_ID.match(self.data)
        object.__setattr__(self, "segment_id", match.group().decode() if match else None)

    def describe(self) -> str:
        """The segment ID, or the first bytes when the line is not a segment."""
        return self.segment_id or "bytes " + self.data[:8].hex(" ")


@dataclass(slots=True)
class RawMessage:
    """A message's lines, MSH first, not yet decoded."""

    lines: list[Line]
    size: int = 0
    dropped: int = 0  # lines left out past MAX_MESSAGE bytes

    @property
    def line(self) -> int:
        return self.lines[0].number


@dataclass(frozen=True, slots=True)
class EnvelopeProblem:
    """A problem outside any message: batch and file envelopes, stray segments, an empty file."""

    line: int | None
    field: str
    reason: str


def read_lines(stream: BinaryIO) -> Iterator[Line]:
    """The non-blank lines of `stream`, read in chunks and cut at CR, LF or CRLF. Each chunk is searched
    once, and a line is kept in pieces until its end comes; one longer than MAX_LINE is not kept (its first
    bytes name it), so no input, not even a file without line ends, holds more than MAX_LINE in memory."""
    number = 0
    pieces: list[bytes] = []  # the line read so far
    held = 0  # bytes in `pieces`
    head: bytes | None = None  # the first bytes of a line too long to keep, while its end is looked for
    after_cr = False  # the last chunk ended in CR, so an LF opening this one ends nothing
    chunk = stream.read(CHUNK).removeprefix(BOM)
    while chunk:
        start = 1 if after_cr and chunk.startswith(b"\n") else 0
        for match in _TERMINATOR.finditer(chunk, start):
            number += 1
            if head is not None:
                yield Line(number, head, too_long=True)
                head = None
            else:
                pieces.append(chunk[start : match.start()])
                yield from _line(number, b"".join(pieces))
            pieces, held = [], 0
            start = match.end()
        after_cr = chunk.endswith(b"\r")
        if head is None and start < len(chunk):
            pieces.append(chunk[start:])
            held += len(chunk) - start
            if held > MAX_LINE:
                head = _first_bytes(pieces, 16)
                pieces, held = [], 0
        chunk = stream.read(CHUNK)
    if head is not None:
        yield Line(number + 1, head, terminated=False, too_long=True)
    else:
        yield from _line(number + 1, b"".join(pieces), terminated=False)


def _first_bytes(pieces: list[bytes], count: int) -> bytes:
    head = b""
    for piece in pieces:
        head += piece[: count - len(head)]
        if len(head) == count:
            break
    return head


def _line(number: int, data: bytes, terminated: bool = True) -> Iterator[Line]:
    data = data.strip(FRAMING)
    if data:
        yield Line(number, data, terminated)


def read_messages(stream: BinaryIO) -> Iterator[RawMessage | EnvelopeProblem]:
    """Messages and envelope problems in file order, following HL7's batch grammar:
    ``[FHS] {[BHS] {MSH ...} [BTS]} [FTS]`` (every header and trailer optional; counts checked when given)."""
    envelope = _Envelope()
    for line in read_lines(stream):
        yield from envelope.feed(line)
    yield from envelope.close()


class _Stray:
    """A run of lines outside any message, as its problem names it. Not the lines themselves: a file that
    is not HL7 at all is such a run from its first line to its last."""

    __slots__ = ("first", "last", "lines", "more", "names")

    def __init__(self, first: Line) -> None:
        self.first = self.last = first
        self.lines = 1
        self.names = {_what(first): None}  # the lines' segment IDs (or first bytes), the first MAX_NAMED
        self.more = False  # more than MAX_NAMED

    def add(self, line: Line) -> None:
        self.last = line
        self.lines += 1
        name = _what(line)
        if name not in self.names:
            if len(self.names) < MAX_NAMED:
                self.names[name] = None
            else:
                self.more = True


class _Envelope:
    """The state of the batch grammar while lines stream past."""

    def __init__(self) -> None:
        self.message: RawMessage | None = None
        self.stray: _Stray | None = None
        self.lines = 0
        self.messages = 0
        self.header = "BHS|^~\\&"  # the last header's delimiters, to read a trailer's count with
        self.file_line: int | None = None  # the open FHS
        self.file_batches = 0
        self.batch_line: int | None = None  # the open BHS
        self.batch_open = False  # a batch has begun (at a BHS or at a message outside one)
        self.batch_messages = 0

    def feed(self, line: Line) -> Iterator[RawMessage | EnvelopeProblem]:
        self.lines += 1
        kind = None if line.too_long else line.segment_id
        if kind == "MSH":
            yield from self._flush()
            self._begin_batch(None)
            self.batch_messages += 1
            self.messages += 1
            self.message = RawMessage([line], len(line.data))
        elif kind in ENVELOPE:
            yield from self._flush()
            yield from {"FHS": self._fhs, "FTS": self._fts, "BHS": self._bhs, "BTS": self._bts}[kind](line)
        elif self.message is not None:
            self._append(self.message, line)
        elif self.stray is None:
            self.stray = _Stray(line)
        else:
            self.stray.add(line)

    def close(self) -> Iterator[RawMessage | EnvelopeProblem]:
        if self.lines == 0:
            yield EnvelopeProblem(None, "", "the file is empty: it holds no HL7 segment")
            return
        if self.stray is not None and self.stray.lines == self.lines:
            first = self.stray.first
            reason = f"the file is not HL7 v2: it does not start with an MSH, FHS or BHS segment ({_what(first)})"
            yield EnvelopeProblem(None, "MSH", reason)
            return
        yield from self._flush()

    @staticmethod
    def _append(message: RawMessage, line: Line) -> None:
        if message.size + len(line.data) > MAX_MESSAGE:
            message.dropped += 1
        else:
            message.lines.append(line)
            message.size += len(line.data)

    def _flush(self) -> Iterator[RawMessage | EnvelopeProblem]:
        if self.message is not None:
            yield self.message
            self.message = None
        if self.stray is not None:
            first, last = self.stray.first, self.stray.last
            span = f"line {first.number}" if first is last else f"lines {first.number}-{last.number}"
            names = ", ".join([*self.stray.names, *(["…"] if self.stray.more else [])])
            verb, pronoun = ("is", "it") if first is last else ("are", "them")
            reason = f"{span} ({names}) {verb} outside any message: no MSH segment comes before {pronoun}"
            yield EnvelopeProblem(first.number, first.segment_id or "segment", reason)
            self.stray = None

    def _begin_batch(self, header: int | None) -> None:
        if header is not None or not self.batch_open:
            self.batch_open = True
            self.batch_line = header
            self.batch_messages = 0
            self.file_batches += 1

    def _fhs(self, line: Line) -> Iterator[EnvelopeProblem]:
        if self.file_line is not None:
            begun = f"the file begun by the FHS at line {self.file_line}"
            reason = f"FHS at line {line.number} is inside {begun}, which no FTS has closed: a file has one FHS"
            yield EnvelopeProblem(line.number, "FHS", reason)
            return
        if self.messages or self.batch_open:
            reason = f"FHS at line {line.number} comes after messages: an FHS must begin the file"
            yield EnvelopeProblem(line.number, "FHS", reason)
            return
        self.file_line = line.number
        self.file_batches = 0
        self.header = _delimiters(line, self.header)

    def _bhs(self, line: Line) -> Iterator[EnvelopeProblem]:
        self.header = _delimiters(line, self.header)
        self._begin_batch(line.number)
        yield from ()

    def _bts(self, line: Line) -> Iterator[EnvelopeProblem]:
        begun = f"the batch begun at line {self.batch_line}" if self.batch_line else "the batch"
        held = self.batch_messages if self.batch_open else 0
        yield from self._count(line, "BTS-1", "batch message count", held, f"{begun} holds {held}")
        self.batch_open = False
        self.batch_line = None
        self.batch_messages = 0

    def _fts(self, line: Line) -> Iterator[EnvelopeProblem]:
        begun = f"the file begun at line {self.file_line}" if self.file_line else "the file"
        batches = self.file_batches
        yield from self._count(line, "FTS-1", "file batch count", batches, f"{begun} holds {batches}")
        self.file_line = None
        self.file_batches = 0
        self.messages = 0
        self.batch_open = False
        self.batch_line = None

    def _count(self, line: Line, field: str, label: str, actual: int, holds: str) -> Iterator[EnvelopeProblem]:
        text = _trailer_value(self.header, line)
        if not text:
            return
        if not text.isdigit():
            yield EnvelopeProblem(line.number, field, f"{field} {label} '{text}' is not a number")
        elif int(text) != actual:
            yield EnvelopeProblem(line.number, field, f"{field} {label} is {int(text)}, but {holds}")


def _what(line: Line) -> str:
    if line.too_long:
        return f"a line longer than {MAX_LINE // (1 << 20)} MiB"
    return line.describe()


def _delimiters(line: Line, default: str) -> str:
    """A header's segment ID and delimiters (``BHS|^~\\&``), to parse trailers with."""
    return _header_delimiters(line.data[:16].decode("latin-1")) or default


def _header_delimiters(text: str) -> str | None:
    """The start of a header segment up to its delimiters (``MSH|^~\\&``) when they are usable: a field
    separator and four (or five) encoding characters, all different, none a letter, digit or space.
    python-hl7 fails on an assertion with repeated ones."""
    if len(text) < 8:
        return None
    end = text.find(text[3], 4)
    encoding = text[4:] if end < 0 else text[4:end]
    delimiters = text[3] + encoding
    usable = not any(char.isalnum() or char.isspace() for char in delimiters)
    if len(encoding) not in (4, 5) or len(set(delimiters)) != len(delimiters) or not usable:
        return None
    return text[: 4 + len(encoding)]


def _trailer_value(header: str, line: Line) -> str:
    """Field 1 of a BTS or FTS, parsed by python-hl7 under the header's delimiters (its value is ASCII digits)."""
    try:
        message = hl7.parse(f"{header}\r{line.data.decode('latin-1')}")
        return str(message[1].extract_field(1, 1)).strip()
    except (hl7.ParseException, IndexError, ValueError):
        return ""


# --- decoding -------------------------------------------------------------------------------------------

# MSH-18 values (upper case, without spaces, _ and -) and the codecs to try, in order. ISO-2022-JP is also the
# default: SS-MIX2 files are ISO-2022-JP whatever MSH-18 says, and plain ASCII decodes the same under it.
ISO_2022_JP = ("ISO-2022-JP", ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2004"))
CHARSETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "": ISO_2022_JP,
    "ISOIR87": ISO_2022_JP,
    "ISOIR159": ISO_2022_JP,
    "ISOIR13": ISO_2022_JP,
    "ISOIR14": ISO_2022_JP,
    "ISO2022JP": ISO_2022_JP,
    "ASCII": ("ASCII", ("ascii",)),
    "ISOIR6": ("ASCII", ("ascii",)),
    "UNICODEUTF8": ("UTF-8", ("utf-8",)),
    "UTF8": ("UTF-8", ("utf-8",)),
    "SHIFTJIS": ("Shift_JIS", ("cp932", "shift_jis_2004")),
    "SJIS": ("Shift_JIS", ("cp932", "shift_jis_2004")),
    "CP932": ("Shift_JIS", ("cp932", "shift_jis_2004")),
    "MS932": ("Shift_JIS", ("cp932", "shift_jis_2004")),
    "WINDOWS31J": ("Shift_JIS", ("cp932", "shift_jis_2004")),
    "88591": ("ISO-8859-1", ("latin-1",)),
    "ISOIR100": ("ISO-8859-1", ("latin-1",)),
}
_JAPANESE_SETS = frozenset({"ISOIR87", "ISOIR159", "ISOIR13", "ISOIR14"})
_CHARSET_NOISE = re.compile(r"[\s_\-/]")  # left out of MSH-18 values before they are looked up
_SNIFF = ("iso2022_jp", "iso2022_jp_ext", "utf-8", "cp932", "latin-1")  # to read MSH-18 with, in this order


def _sniff(data: bytes) -> tuple[str, str]:
    """The first codec that decodes the bytes (latin-1 always does), and the text: enough to read MSH-18."""
    for codec in _SNIFF:
        try:
            return codec, data.decode(codec)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def _decode(data: bytes, declared: str, charset: tuple[str, tuple[str, ...]], lines: list[Line]) -> str:
    """The bytes in the declared charset (its codecs tried in order); an Hl7Error naming the first bad byte."""
    label, codecs = charset
    error: UnicodeDecodeError | None = None
    for codec in codecs:
        try:
            return data.decode(codec)
        except UnicodeDecodeError as failure:
            error = error or failure
    assert error is not None
    line = lines[data.count(b"\r", 0, error.start)]
    said = f"as MSH-18 '{declared}' declares" if declared else "(the default when MSH-18 is empty)"
    byte = data[error.start : error.start + 1].hex()
    reason = f"the message is not {label} text {said}: byte 0x{byte} on line {line.number} cannot be decoded"
    raise Hl7Error(line.number, "MSH-18", reason)


def _charset(declared: str, line: int) -> tuple[str, tuple[str, ...]]:
    names = [_CHARSET_NOISE.sub("", name).upper() for name in declared.split("~")]
    japanese = [name for name in names if name in _JAPANESE_SETS]
    name = japanese[0] if japanese else next((name for name in names if name), "")
    if name not in CHARSETS:
        known = "ASCII, ISO IR87 (ISO-2022-JP), SHIFT_JIS, UNICODE UTF-8, 8859/1"
        raise Hl7Error(line, "MSH-18", f"MSH-18 character set '{declared}' is not one this connector reads ({known})")
    return CHARSETS[name]


def parse(message: RawMessage) -> Message:
    """Decode and parse one message; every structural fault is an Hl7Error."""
    for line in message.lines:
        if line.too_long:
            raise Hl7Error(line.number, "segment", f"line {line.number} is longer than {MAX_LINE >> 20} MiB")
        if line.segment_id is None:
            reason = f"line {line.number} is not an HL7 segment: it starts with {line.describe()}"
            raise Hl7Error(line.number, "segment", reason)
    if message.dropped:
        reason = f"the message at line {message.line} is longer than {MAX_MESSAGE >> 20} MiB"
        raise Hl7Error(message.line, "MSH", reason)
    last = message.lines[-1]
    if not last.terminated:
        reason = (
            f"the file ends inside the {last.segment_id} segment on line {last.number} "
            "(no CR after it): the message is truncated"
        )
        raise Hl7Error(last.number, last.segment_id or "segment", reason)
    data = b"\r".join(line.data for line in message.lines)
    sniffed, text = _sniff(data)
    segments, header = _header(text, message.line)
    msh = header.segment(message.line, 1)
    declared = "~".join(rep.value(1) for rep in msh.repetitions(18))
    charset = _charset(declared, message.line)
    plain = data.isascii() and b"\x1b" not in data  # the same text in every charset read here
    if not plain and sniffed not in charset[1]:
        segments, header = _header(_decode(data, declared, charset, message.lines), message.line)
        msh = header.segment(message.line, 1)
    others = zip(segments[1:], message.lines[1:], strict=True)
    return Message(
        [msh, *(header.segment(line.number, place, segment) for place, (segment, line) in enumerate(others, 2))]
    )


def _header(text: str, line: int) -> tuple[list[str], _Header]:
    """The message's segments as text, as python-hl7 cuts them (the message stripped of outer whitespace,
    split at CR), and the `_Header` python-hl7 reads off the first."""
    if _header_delimiters(text[:16]) is None:
        reason = f"MSH-1 and MSH-2 '{text[3:8]}' are not a field separator and four different encoding characters"
        raise Hl7Error(line, "MSH-2", reason)
    segments = text.strip().split("\r")
    return segments, _Header(segments[0], line)


# --- parsed messages ------------------------------------------------------------------------------------


def _as_parsed(sequence: list[Any], **_: Any) -> list[Any]:
    """A field, repetition or component as the plain list python-hl7 split it into."""
    return sequence


class _Factory(hl7.Factory):  # type: ignore[misc]  # python-hl7 has no type hints
    """python-hl7's containers, but below the segment the lists it splits: nothing here reads their methods,
    and building one container per field, repetition and component was a third of the parsing time."""

    create_field = staticmethod(_as_parsed)
    create_repetition = staticmethod(_as_parsed)
    create_component = staticmethod(_as_parsed)


class _Header:
    """A message's delimiters and escape character, as python-hl7 reads them off its header (MSH), and the
    header's fields.

    python-hl7 parses the start of the header up to MSH-2 (the delimiters, the escape character, MSH-1 and
    MSH-2 themselves) and unescapes every value read (``hl7.util.unescape``). The segments, and the rest of
    the header, are cut into fields with ``str.split`` at python-hl7's field separator, and a field into
    repetitions, components and subcomponents only when it is read: most of a message's fields are never
    read, and python-hl7 splits every field down to subcomponents, building a parse plan object for each
    part (nine tenths of the parsing time). The parts are those python-hl7 makes of the same text
    (tests/connectors/test_hl7v2.py compares them with ``hl7.parse``)."""

    __slots__ = ("escaper", "field", "fields", "repetition", "separators")

    def __init__(self, text: str, line: int) -> None:
        end = text.find(text[3], 4)  # the field separator after MSH-2 (none: python-hl7 parses the whole segment)
        try:
            parsed = hl7.parse(text if end < 0 else text[: end + 1], factory=_Factory)
        except (hl7.ParseException, IndexError, ValueError) as failure:
            raise Hl7Error(line, "MSH", f"the MSH segment on line {line} is malformed") from failure
        self.escaper = parsed  # a python-hl7 container: what hl7.util.unescape reads the delimiters off
        self.field: str = parsed.separators[1]
        self.repetition: str = parsed.separators[2]
        self.separators: str = parsed.separators[3:5]  # component then subcomponent separator
        self.fields: list[Any] = [*parsed[0], *(text[end + 1 :].split(self.field) if end >= 0 else [])]

    def segment(self, line: int, position: int, text: str | None = None) -> Segment:
        """The header (no `text`) or one of the message's other segments, as the `Segment` that reads it."""
        if text is None:
            return Segment(self.fields[0][0], self.fields, self, line, position)
        if not any(delimiter in text for delimiter in (self.field, self.repetition, *self.separators)):
            return Segment(text[0], [text], self, line, position)  # python-hl7 names it by its first character
        fields = text.split(self.field)
        return Segment(fields[0].split(self.repetition, 1)[0], fields, self, line, position)


class Repetition:
    """One repetition of a field: components of subcomponents, unescaped; HL7's null ``""`` reads as empty."""

    __slots__ = ("components", "filled", "separators")

    def __init__(self, components: list[list[str]], separators: str) -> None:
        self.components = components
        self.separators = separators  # component then subcomponent separator
        self.filled = len(components)  # the number of components up to the last non-empty one
        while self.filled and not any(components[self.filled - 1]):
            self.filled -= 1

    def value(self, component: int, subcomponent: int = 1) -> str:
        """One subcomponent (1-based), or ``""`` when absent."""
        if component > len(self.components):
            return ""
        parts = self.components[component - 1]
        return parts[subcomponent - 1] if subcomponent <= len(parts) else ""

    def component(self, component: int) -> str:
        """A whole component as written, its subcomponents joined (a code such as ``9A100&IMP``)."""
        if component > len(self.components):
            return ""
        return self.separators[1].join(self.components[component - 1]).rstrip(self.separators[1])

    def text(self) -> str:
        """The whole repetition as written, its components joined (a value such as ``^182``)."""
        return self.separators[0].join(self.component(i) for i in range(1, self.filled + 1))

    def count(self) -> int:
        """The number of components up to the last non-empty one."""
        return self.filled

    def __bool__(self) -> bool:
        return self.filled > 0


_NO_REPETITION = Repetition([], "^&")  # what an empty field reads as (its separators are never used)


class Segment:
    """A parsed segment and where it is: `line` in the file, `position` in its message (from 1)."""

    __slots__ = ("_fields", "_read_fields", "header", "line", "name", "position")

    def __init__(self, name: str, fields: list[Any], header: _Header, line: int, position: int) -> None:
        self.name = name
        self.line = line
        self.position = position
        self.header = header
        self._fields = fields  # by HL7 number: a field's text, or (the header's) the lists python-hl7 split it into
        self._read_fields: dict[int, list[Repetition]] = {}

    def repetitions(self, number: int) -> list[Repetition]:
        """Field `number` (HL7 numbering) as its non-empty repetitions."""
        cached = self._read_fields.get(number)
        if cached is None:
            cached = self._read_fields[number] = self._read(number)
        return cached

    def repetition(self, number: int) -> Repetition:
        """The field's first repetition (empty when the field is empty)."""
        repetitions = self.repetitions(number)
        return repetitions[0] if repetitions else _NO_REPETITION

    def value(self, number: int, component: int = 1, subcomponent: int = 1) -> str:
        """One subcomponent of the field's first repetition (the mapping's most frequent call: kept short)."""
        repetitions = self._read_fields.get(number)
        if repetitions is None:
            repetitions = self.repetitions(number)
        return repetitions[0].value(component, subcomponent) if repetitions else ""

    def _read(self, number: int) -> list[Repetition]:
        if number >= len(self._fields):
            return []
        field = self._fields[number]
        repetitions = []
        for components in self._split(field) if isinstance(field, str) else self._nest(field):
            read = Repetition(components, self.header.separators)
            if read.filled:
                repetitions.append(read)
        return repetitions

    def _split(self, field: str) -> list[list[list[str]]]:
        """A field's text as python-hl7 would split it: repetitions of components of subcomponents, unescaped."""
        header = self.header
        component, subcomponent = header.separators[0], header.separators[1]
        if header.escaper.esc in field or '""' in field:
            return [
                [[self._unescape(sub) for sub in part.split(subcomponent)] for part in text.split(component)]
                for text in field.split(header.repetition)
            ]
        if header.repetition not in field and component not in field and subcomponent not in field:
            return [[[field]]] if field else []  # most fields: one value
        return [[part.split(subcomponent) for part in text.split(component)] for text in field.split(header.repetition)]

    def _nest(self, field: list[Any]) -> Iterator[list[list[str]]]:
        """A field python-hl7 split (the header's), unescaped; it leaves a part without delimiters as a bare
        string, and every part is nested alike here."""
        for repetition in field:
            if not repetition:  # an empty field
                continue
            parts = [repetition] if isinstance(repetition, str) else repetition
            yield [
                [self._unescape(part)] if isinstance(part, str) else [self._unescape(sub) for sub in part]
                for part in parts
            ]

    def _unescape(self, text: str) -> str:
        if text == '""':
            return ""
        if self.header.escaper.esc not in text:
            return text
        try:
            return str(hl7.util.unescape(self.header.escaper, text))
        except (ValueError, IndexError) as failure:
            reason = f"{self.name} holds a malformed escape sequence in '{text}'"
            raise Hl7Error(self.line, self.name, reason) from failure


@dataclass(frozen=True)
class Message:
    segments: list[Segment]
    _by_name: dict[str, list[Segment]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for segment in self.segments:
            self._by_name.setdefault(segment.name, []).append(segment)

    def all(self, name: str) -> list[Segment]:
        return self._by_name.get(name, [])

    def first(self, name: str) -> Segment | None:
        found = self._by_name.get(name)
        return found[0] if found else None

    @property
    def header(self) -> Segment:
        return self.segments[0]

    @property
    def control_id(self) -> str:
        return self.header.value(10)

    @property
    def message_type(self) -> str:
        """MSH-9 as ``code^trigger`` (the structure, MSH-9.3, left out)."""
        msh9 = self.header.repetition(9)
        return f"{msh9.value(1)}^{msh9.value(2)}"


# --- data types -----------------------------------------------------------------------------------------


class FormatError(ValueError):
    """A value that does not follow its HL7 data type; the message says how, after the field's label."""


def date_time(text: str) -> str:
    """An HL7 DTM as a FHIR dateTime: as precise as given, Japan time (+09:00) unless an offset is written."""
    match = _DTM.fullmatch(text.strip())
    if match is None:
        raise FormatError("is not an HL7 date/time (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+ZZZZ])")
    year, month, day, hour, minute, second, fraction, sign, offset_hours, offset_minutes = match.groups()
    _check_calendar(year, month, day, hour, minute, second)
    if hour is None:
        return "-".join(part for part in (year, month, day) if part is not None)
    if sign and (int(offset_hours) > 14 or int(offset_minutes) > 59):
        raise FormatError("has an offset from UTC that does not exist")
    seconds = f"{second or '00'}{f'.{fraction}' if fraction else ''}"
    zone = f"{sign}{offset_hours}:{offset_minutes}" if sign else JAPAN_OFFSET
    return f"{year}-{month}-{day}T{hour}:{minute or '00'}:{seconds}{zone}"


def date(text: str) -> str:
    """An HL7 DT (or the date part of a DTM) as a FHIR date."""
    return date_time(text).partition("T")[0]


def _check_calendar(*parts: str | None) -> None:
    year, month, day, hour, minute, second = (int(part) if part is not None else None for part in parts)
    try:
        datetime(year or 0, month or 1, day or 1, hour or 0, minute or 0, second or 0)
    except ValueError as failure:
        kind = "date" if hour is None else "date and time"
        raise FormatError(f"is not a calendar {kind}") from failure
