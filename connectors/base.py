"""What every connector gives the ingest pipeline: records, each a small transaction or a precise problem.

A connector reads one raw message (a file or a stream) of its source family and yields `ParsedRecord`s in
order. A record that can be mapped carries FHIR transaction entries; one that cannot carries a
`RecordProblem` (where, which field, why) and no entries, and the connector goes on with the next record.
The pipeline stores each record's entries as one transaction, adds meta.source, security labels and a
Provenance, and quarantines problems with the raw message kept.

Entries are conditional, so that re-sending is a no-op and a corrected record updates instead of
duplicating:
- the Patient: `PUT Patient?identifier=<source.patient_identifier_system>|<number>` where the record is
  the source's patient master (ADT, register row, JAHIS record 1...), otherwise `POST Patient` with
  `ifNoneExist: identifier=<system>|<number>` (a minimal Patient that the master data fills in later);
- every other resource: `PUT <Type>?identifier=<RECORD_SYSTEM><source code>|<record key>`, with that
  identifier in the resource, where the record key is stable for the same record across re-sends
  (an SS-MIX2 order number and segment position, a JAHIS file name and RP number, ...);
- references to the patient: the Patient entry's `urn:uuid:` fullUrl when it is in the same record,
  else the conditional reference `Patient?identifier=<system>|<number>`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

from core.references import Located, references_located

RECORD_SYSTEM = "https://tsunagi.example.jp/fhir/IdSystem/source-record/"
MiB = 1 << 20


@dataclass(frozen=True)
class SourceInfo:
    """The registered source a message came from (what a connector may need to map it)."""

    code: str
    connector: str
    organization_name: str
    organization_system: str
    organization_value: str
    patient_identifier_system: str

    @property
    def record_system(self) -> str:
        return f"{RECORD_SYSTEM}{self.code}"


@dataclass(frozen=True)
class RecordProblem:
    """Why a record could not be taken: `location` is file[:line] or file:segment, `field` the element."""

    location: str
    field: str
    reason: str


@dataclass(slots=True)
class ParsedRecord:
    """A record as its connector made it. Each entry's references are located as it is made (see `located`)."""

    location: str  # where the record is: "file:line", "file:MSH-10=...", "file:entry[3]"
    entries: list[dict[str, Any]] = field(default_factory=list)  # Bundle.entry items (fullUrl, resource, request)
    problem: RecordProblem | None = None
    # Per entry, its resource's references (`references_located`), for the batch writer. Found as the record is made,
    # while its objects are still in the processor's caches: the walk takes half the time it takes once a batch of
    # 500 records has been read (4.8 against 8 to 13 µs a resource). A connector that walked them already gives
    # them; else they are found here.
    located: list[Located] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.located) != len(self.entries):
            self.located = [references_located(_resource_of(entry)) for entry in self.entries]


def _resource_of(entry: Any) -> dict[str, Any]:
    """The entry's resource; {} for an entry without one (a DELETE) or that is no object (the writer refuses it)."""
    resource = entry.get("resource") if isinstance(entry, dict) else None
    return resource if isinstance(resource, dict) else {}


class Connector(Protocol):
    name: str  # the --connector value: ssmix2, hl7v2, jahis, care, fhir, resident-register

    def paths(self, root: Path) -> Iterator[Path]:
        """The files under a folder to ingest, in the order to ingest them (e.g. SS-MIX2 skips superseded
        files); `all_files(root)` is the default."""
        ...

    def records(self, source: SourceInfo, data: BinaryIO, origin: str) -> Iterator[ParsedRecord]:
        """Read `data` (positioned at its start; may be large: stream it) named `origin` (a path relative to
        what was ingested, used in locations) and yield its records in order; never raise for bad input."""
        ...


@runtime_checkable
class SplitByLine(Protocol):
    """A connector some of whose files hold one record per line, none depending on another line of the file:
    the pipeline may then store runs of such a file's lines on several processes at once."""

    def split_by_line(self, data: BinaryIO, origin: str) -> bool:
        """True when the file (`data` at its start, named `origin`) is one of those."""
        ...

    def line_records(self, source: SourceInfo, data: BinaryIO, origin: str, first_line: int) -> Iterator[ParsedRecord]:
        """The records of a run of whole lines of such a file, `data` starting where its line `first_line`
        does: the records `records` gives for those lines, with the same locations."""
        ...


def all_files(root: Path) -> Iterator[Path]:
    """Every regular file under `root`, in sorted path order, hidden files (.name) left out."""
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts):
            yield path


def bounded_lines(data: BinaryIO, limit: int) -> Iterator[bytes | None]:
    """Each physical line of `data` with its line end, never more than `limit` bytes of it held: None for a
    longer line (a file without line ends), whose rest is read past."""
    while line := data.readline(limit + 1):
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        while (rest := data.readline(limit)) and not rest.endswith(b"\n"):
            pass
        yield None


def oversize_reason(data: BinaryIO, limit: int, what: str) -> str | None:
    """Why a file larger than `limit` bytes is not read, told from its size before a byte is read: for
    formats whose files are small by nature (`what` names such a file: "an SS-MIX2 file"). None when it is
    not larger, or when `data` cannot tell its size (a pipe), where the connector's bounds on lines hold."""
    size = stream_size(data)
    if size is None or size <= limit:
        return None
    return f"the file is {size:,} bytes ({size / MiB:,.1f} MiB); {what} larger than {limit // MiB} MiB is not read"


def stream_size(data: BinaryIO) -> int | None:
    """The bytes left in `data` from where it stands, told without reading them (None for a pipe)."""
    try:
        if not data.seekable():
            return None
        here = data.tell()
        end = data.seek(0, os.SEEK_END)
        data.seek(here)
    except (OSError, ValueError):
        return None
    return end - here
