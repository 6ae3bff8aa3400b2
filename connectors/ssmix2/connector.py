"""The `ssmix2` connector: an SS-MIX2 standardized storage tree, one HL7 v2.5 message per file.

Tree and file name: ``<root>/<ID[0:3]>/<ID[3:6]>/<ID>/<診療日|->/<データ種別>/<file>`` with
``file = <患者ID>_<診療日>_<データ種別>_<オーダNo>_<発生日時>_<診療科>_<コンディションフラグ>``.
Condition flags: 1 current (ingested), 2 superseded (left out by `paths`: the newer file with flag 1 holds
the same order as it stands now), 0 deleted (a record of DELETEs of what that order had written).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from connectors.base import ParsedRecord, RecordProblem, SourceInfo, oversize_reason
from connectors.hl7v2 import mapping
from connectors.hl7v2.connector import envelope_record, message_record
from connectors.hl7v2.parser import MAX_MESSAGE, EnvelopeProblem, read_messages

NO_ORDER = "9" * 15  # the order number of messages that belong to no order (ADT)
PATIENT_MASTER = "ADT-00"
PATTERN = "<患者ID>_<診療日>_<データ種別>_<オーダNo>_<発生日時>_<診療科>_<コンディションフラグ>"
_NAME = re.compile(
    r"(?P<patient_id>[0-9A-Za-z]{1,15})_(?P<day>\d{8}|-)_(?P<kind>[A-Z]{3}(?:-\d{2})?)_(?P<order>[0-9A-Za-z]{1,15})_"
    r"(?P<stamp>\d{17})_(?P<department>[0-9A-Za-z]{1,3}|-)_(?P<flag>[012])"
)


class StorageNameError(ValueError):
    """A stored file's path that does not follow the storage's naming."""


@dataclass(frozen=True)
class StoredFile:
    """What an SS-MIX2 file name says."""

    patient_id: str
    day: str
    kind: str
    order: str
    stamp: str
    department: str
    flag: str

    @property
    def key(self) -> str:
        """The record key (SS-MIX2 logical ID, ssmix2-to-fhir): ``<患者ID>.ADT-00`` for the patient master, else
        ``<患者ID>.<診療日>.<種別>.<オーダNo>``. 発生日時 is left out where an order number names the order, so
        that a corrected order (a new file; the old one flagged 2) updates what the first one wrote; messages
        of no order (ADT) keep it, as nothing else tells them apart."""
        if self.kind == PATIENT_MASTER:
            return f"{self.patient_id}.{PATIENT_MASTER}"
        parts = [self.patient_id, self.day, self.kind, self.order]
        return ".".join([*parts, self.stamp] if self.order == NO_ORDER else parts)


def stored_file(path: str) -> StoredFile:
    """The file name's parts, checked against the folders above it (as far as `path`, relative to the tree's
    root and '/'-separated, has them)."""
    *folders, name = path.split("/")
    match = _NAME.fullmatch(name)
    if match is None:
        raise StorageNameError(f"file name '{name}' does not follow the SS-MIX2 pattern {PATTERN}")
    stored = StoredFile(**match.groupdict())
    if stored.day != "-" and not _is_moment(stored.day):
        raise StorageNameError(f"file name visit date (診療日) '{stored.day}' is not a calendar date")
    if not _is_moment(stored.stamp[:14]):
        raise StorageNameError(f"file name event time (発生日時) '{stored.stamp}' is not a calendar date and time")

    def folder(depth: int) -> str | None:
        return folders[-depth] if depth <= len(folders) else None

    patient = stored.patient_id
    if folder(3) not in (None, patient):
        raise StorageNameError(f"the file is in patient folder '{folder(3)}', but its name says patient '{patient}'")
    if folder(5) not in (None, patient[:3]) or folder(4) not in (None, patient[3:6]):
        where = "/".join(part for part in (folder(5), folder(4)) if part is not None)
        raise StorageNameError(f"patient '{patient}' belongs under '{patient[:3]}/{patient[3:6]}/', not '{where}/'")
    if folder(2) not in (None, stored.day):
        raise StorageNameError(f"the file is in visit date folder '{folder(2)}', but its name says '{stored.day}'")
    if folder(1) not in (None, stored.kind):
        raise StorageNameError(f"the file is in data type folder '{folder(1)}', but its name says '{stored.kind}'")
    return stored


def _is_moment(digits: str) -> bool:
    """Whether ``YYYYMMDD[hhmmss]`` (digits, as the name pattern has them) is a calendar date [and time]."""
    day, clock = digits[:8], digits[8:] or "000000"
    try:
        datetime(int(day[:4]), int(day[4:6]), int(day[6:]), int(clock[:2]), int(clock[2:4]), int(clock[4:]))
    except ValueError:
        return False
    return True


class SsMix2Connector:
    name = "ssmix2"

    def paths(self, root: Path) -> Iterator[Path]:
        """Every file in the tree, patient by patient; in a patient's folder the patient master (ADT-00) first,
        then by 発生日時. Superseded files (flag 2) are left out; a file whose name does not follow the pattern
        is kept, so that `records` reports it."""
        yield from _patient_files(root, root) if _is_patient_folder(root) else _walk(root, root)

    def records(self, source: SourceInfo, data: BinaryIO, origin: str) -> Iterator[ParsedRecord]:
        """The file's message as one record, keyed by the file name; flag 0 turns its entries into DELETEs.
        A file larger than a message may be (MAX_MESSAGE) is refused unread."""
        try:
            stored = stored_file(origin.replace(os.sep, "/"))
        except StorageNameError as error:
            yield ParsedRecord(origin, problem=RecordProblem(origin, "file name", str(error)))
            return
        too_large = oversize_reason(data, MAX_MESSAGE, "an SS-MIX2 file (one HL7 v2 message)")
        if too_large is not None:
            yield ParsedRecord(origin, problem=RecordProblem(origin, "file", too_large))
            return
        context = mapping.MessageContext(source, stored.key, stored.patient_id, deleted=stored.flag == "0")
        messages = 0
        for item in read_messages(data):
            if isinstance(item, EnvelopeProblem):
                yield envelope_record(origin, item)
                continue
            messages += 1
            if messages == 1:
                yield message_record(origin, origin, item, lambda _message: context)
            else:
                reason = f"an SS-MIX2 file holds one message, but another MSH begins on line {item.line}"
                location = f"{origin}:{item.line}"
                yield ParsedRecord(location, problem=RecordProblem(location, "MSH", reason))


def _walk(root: Path, folder: Path) -> Iterator[Path]:
    """Files outside patient folders in path order; each patient folder's files as `_patient_files` orders them.
    os.scandir, not pathlib: the crawl runs before any worker starts, and pathlib's calls made it four times
    slower (a twentieth of a source's ingest time)."""
    with os.scandir(folder) as found:
        entries = sorted(found, key=lambda entry: entry.name)
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if entry.is_dir():
            yield from _patient_files(root, path) if _is_patient_folder(path) else _walk(root, path)
        elif entry.is_file():
            yield path


def _is_patient_folder(folder: Path) -> bool:
    name = folder.name
    return folder.parent.name == name[3:6] and folder.parent.parent.name == name[:3] and len(name) > 3


def _patient_files(root: Path, folder: Path) -> list[Path]:
    prefix = os.path.join(root, "")
    ranked = []
    for file in _visible_files(os.fspath(folder)):
        relative = file[len(prefix) :]
        try:
            stored = stored_file(relative)
        except StorageNameError:
            ranked.append(((2, "", relative), file))
            continue
        if stored.flag != "2":
            ranked.append(((0 if stored.kind == PATIENT_MASTER else 1, stored.stamp, relative), file))
    return [Path(file) for _, file in sorted(ranked)]


def _visible_files(folder: str) -> Iterator[str]:
    """The files under a folder, at any depth, but for hidden ones (a name with a leading dot, or in such a
    folder); links to folders are not followed."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                yield from _visible_files(entry.path)
            elif entry.is_file():
                yield entry.path


CONNECTOR = SsMix2Connector()
