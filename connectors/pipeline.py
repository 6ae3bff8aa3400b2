"""The ingest pipeline: keep the raw bytes, parse them with the source's connector, store each record through
federation, quarantine what cannot be stored with where and why, and record the Provenance.

Services write, selectors read: these are the write side (`<entity>_<action>`, keyword-only arguments).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from django.db import transaction
from django.utils import timezone

from connectors.base import ParsedRecord, RecordProblem, SourceInfo
from connectors.jp import INSTITUTION_PATIENT_OID, MEDICAL_INSTITUTION, PROJECT_SYSTEMS
from connectors.models import InboundMessage, MessageStatus, QuarantinedRecord, SourceSystem
from connectors.raw_store import raw_store_open, raw_store_put
from connectors.registry import connector_for
from consent.contracts import AccessContext
from core.outcome import FhirError
from federation.contracts import IngestCounts
from federation.facade import organization_ensure, provenance_record, record_ingest

PROJECT_IDS = f"{PROJECT_SYSTEMS}IdSystem"
SOURCE_URI = "https://tsunagi.example.jp/fhir/source/"
PROVENANCE_TARGETS = 500  # targets per Provenance: a big file gets several
RECORDS_PER_COMMIT = 200
FIRST_ERRORS = 10

ProgressHook = Callable[[int, int], None]  # called after each file: (done, total)


@dataclass
class IngestSummary:
    """What an ingest run did, as the CLI prints it."""

    received: int = 0  # messages (files) received
    duplicates: int = 0  # of which already received before: nothing to do
    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    quarantined: int = 0
    first_errors: list[str] = field(default_factory=list)

    def add(self, message: InboundMessage, problems: list[str]) -> None:
        self.records += message.records
        self.created += message.created
        self.updated += message.updated
        self.unchanged += message.unchanged
        self.deleted += message.deleted
        self.quarantined += message.quarantined
        room = FIRST_ERRORS - len(self.first_errors)
        self.first_errors.extend(problems[:room])

    def merge(self, other: IngestSummary) -> None:
        for name in ("received", "duplicates", "records", "created", "updated", "unchanged", "deleted", "quarantined"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.first_errors.extend(other.first_errors[: FIRST_ERRORS - len(self.first_errors)])


def default_patient_identifier_system(code: str, organization_system: str, organization_value: str) -> str:
    """JP Core's institution patient-id OID for a 10-digit 医療機関コード; a project system otherwise."""
    if organization_system == MEDICAL_INSTITUTION and len(organization_value) == 10:
        return f"{INSTITUTION_PATIENT_OID}{organization_value}"
    return f"{PROJECT_IDS}/patient/{code}"


@transaction.atomic
def source_register(
    *,
    code: str,
    connector: str,
    organization_name: str,
    organization_system: str = "",
    organization_value: str = "",
    patient_identifier_system: str = "",
) -> tuple[SourceSystem, bool]:
    """Register a source (or update its details); True when it is new. The connector must exist."""
    connector_for(connector)
    defaults = {
        "connector": connector,
        "organization_name": organization_name,
        "organization_system": organization_system,
        "organization_value": organization_value,
        "patient_identifier_system": patient_identifier_system
        or default_patient_identifier_system(code, organization_system, organization_value),
    }
    return SourceSystem.objects.update_or_create(code=code, defaults=defaults)


def source_info(source: SourceSystem) -> SourceInfo:
    return SourceInfo(
        code=source.code,
        connector=source.connector,
        organization_name=source.organization_name,
        organization_system=source.organization_system,
        organization_value=source.organization_value,
        patient_identifier_system=source.patient_identifier_system,
    )


def message_receive(*, source: SourceSystem, stream: BinaryIO, origin: str) -> tuple[InboundMessage, bool]:
    """Keep the raw bytes first; the same bytes from the same source are the same message (True when new)."""
    sha256, size = raw_store_put(stream)
    message, created = InboundMessage.objects.get_or_create(
        source=source, sha256=sha256, defaults={"origin": origin, "size": size}
    )
    return message, created


def message_process(*, message_id: int) -> tuple[InboundMessage, list[str]]:
    """Parse and store every record of a received message; each problem is quarantined and the rest goes
    on. Returns the message with its counts and the problems as one-line texts. Running it again is safe:
    every write is conditional."""
    message = InboundMessage.objects.select_related("source").get(pk=message_id)
    source = message.source
    access = AccessContext.system(purpose=f"ingest:{source.code}")
    source_uri = f"{SOURCE_URI}{source.code}"
    counts = IngestCounts()
    problems: dict[int, RecordProblem] = {}
    records = 0
    with raw_store_open(message.sha256) as data:
        numbered = enumerate(_records(source, data, message.origin))
        while batch := list(islice(numbered, RECORDS_PER_COMMIT)):
            with transaction.atomic():  # one commit per batch; each record is its own savepoint inside it
                for index, record in batch:
                    records += 1
                    problem = record.problem or _store(access, record, source_uri, counts)
                    if problem is not None:
                        problems[index] = problem
    _quarantine(message, problems)
    if counts.targets:
        _provenance(access, message, counts.targets, source_uri)
    message.records = records
    message.created, message.updated, message.unchanged = counts.created, counts.updated, counts.unchanged
    message.deleted, message.quarantined = counts.deleted, len(problems)
    message.status = _status(records, len(problems))
    message.processed_at = timezone.now()
    message.save()
    return message, [f"{message.source.code}:{p.location}: {p.reason}" for p in problems.values()]


def _records(source: SourceSystem, data: BinaryIO, origin: str) -> Iterator[ParsedRecord]:
    """The connector's records; a connector that breaks its promise not to raise quarantines the rest."""
    try:
        yield from connector_for(source.connector).records(source_info(source), data, origin)
    except Exception as error:  # a connector bug must not lose the message: it is quarantined
        yield ParsedRecord(
            location=origin, problem=RecordProblem(origin, "", f"the connector failed: {type(error).__name__}")
        )


def _store(access: AccessContext, record: ParsedRecord, source_uri: str, counts: IngestCounts) -> RecordProblem | None:
    try:  # record_ingest is atomic: a refused record rolls back to its savepoint, its batch goes on
        counts.add(record_ingest(access=access, entries=record.entries, source_uri=source_uri))
    except FhirError as error:
        where = ", ".join(expression for issue in error.issues for expression in issue.expression)
        return RecordProblem(record.location, where, f"not stored ({error.status}): {error}")
    return None


def _quarantine(message: InboundMessage, problems: dict[int, RecordProblem]) -> None:
    """Record this run's problems; earlier open entries that no longer fail are resolved, not deleted."""
    now = timezone.now()
    open_entries = {entry.record_index: entry for entry in message.quarantine.filter(resolved_at__isnull=True)}
    for index, entry in open_entries.items():
        if index not in problems:
            entry.resolved_at = now
            entry.save(update_fields=["resolved_at"])
    for index, problem in problems.items():
        entry = open_entries.get(index) or QuarantinedRecord(message=message, record_index=index)
        entry.location, entry.field, entry.reason = problem.location[:500], problem.field[:200], problem.reason
        entry.save()


def _provenance(access: AccessContext, message: InboundMessage, targets: list[str], source_uri: str) -> None:
    source = message.source
    system = source.organization_system or f"{PROJECT_IDS}/source"
    value = source.organization_value or source.code
    organization = organization_ensure(access=access, name=source.organization_name, system=system, value=value)
    for start in range(0, len(targets), PROVENANCE_TARGETS):
        provenance_record(
            access=access,
            targets=targets[start : start + PROVENANCE_TARGETS],
            organization=organization,
            message_sha256=message.sha256,
            message_origin=message.origin,
            recorded=timezone.now(),
            source_uri=source_uri,
        )


def _status(records: int, quarantined: int) -> str:
    if quarantined == 0:
        return MessageStatus.STORED
    return MessageStatus.QUARANTINED if quarantined >= records else MessageStatus.PARTIAL


def path_ingest(*, source: SourceSystem, path: Path, on_file: ProgressHook | None = None) -> IngestSummary:
    """Ingest a file, or every file the connector takes from a folder, message by message."""
    files = [path] if path.is_file() else list(connector_for(source.connector).paths(path))
    root = path.parent if path.is_file() else path
    summary = IngestSummary()
    for number, file in enumerate(files, start=1):
        with file.open("rb") as stream:
            message, new = message_receive(source=source, stream=stream, origin=str(file.relative_to(root)))
        summary.received += 1
        if not new and message.status != MessageStatus.RECEIVED:
            summary.duplicates += 1
        else:
            message, problems = message_process(message_id=message.pk)
            summary.add(message, problems)
        if on_file is not None:
            on_file(number, len(files))
    return summary


def message_replay(*, message_id: int) -> tuple[InboundMessage, list[str]]:
    """Run a message again (after a mapping fix): stored records stay as they are, fixed ones get stored."""
    return message_process(message_id=message_id)
