"""The ingest pipeline: keep the raw bytes, parse them with the source's connector, store each record through
federation, quarantine what cannot be stored with where and why, and record the Provenance.

Services write, selectors read: these are the write side (`<entity>_<action>`, keyword-only arguments).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, cast

from django.db import connection, transaction
from django.utils import timezone

from connectors.base import ParsedRecord, RecordProblem, SourceInfo, SplitByLine
from connectors.inbound import Kept, messages_record
from connectors.jp import INSTITUTION_PATIENT_OID, MEDICAL_INSTITUTION, PROJECT_SYSTEMS
from connectors.lanes import (
    LISTED_BY_LANE,
    Lane,
    Stage,
    TaskRunner,
    ingest_stages,
    stage_tasks,
    streamed_tasks,
    task_runner,
)
from connectors.models import InboundMessage, MessageStatus, QuarantinedRecord, SourceSystem
from connectors.parts import LinePart, message_parts, part_bytes, part_count
from connectors.raw_store import RawBatch, raw_store_open, raw_store_open_each, raw_store_open_range, raw_store_put
from connectors.registry import connector_for
from consent.contracts import AccessContext, AuditCategory, AuditEntry
from consent.facade import audit_record
from core.outcome import FhirError
from federation.contracts import IngestCounts, LinkCounts
from federation.facade import compartment_patients, organization_ensure, provenance_entry, records_ingest

PROJECT_IDS = f"{PROJECT_SYSTEMS}IdSystem"
SOURCE_URI = "https://tsunagi.example.jp/fhir/source/"
PROVENANCE_TARGETS = 500  # targets per Provenance: a big file gets several
RECORDS_PER_COMMIT = 500
ENTRIES_PER_COMMIT = 2_000  # a batch of big records (whole-history Bundles) stops here, so memory stays flat
Numbered = tuple[InboundMessage, int, ParsedRecord]  # a record, with its message and its index there
MESSAGES_PER_GROUP = 100  # small messages processed together
MESSAGE_COUNTS = ("records", "created", "updated", "unchanged", "deleted", "quarantined")
FINISH_MESSAGES = (
    "UPDATE connectors_inboundmessage AS m SET processed_at = %s, status = v.status, records = v.records, "
    "created = v.created, updated = v.updated, unchanged = v.unchanged, deleted = v.deleted, "
    "quarantined = v.quarantined FROM unnest(%s::bigint[], %s::text[], %s::integer[], %s::integer[], "
    "%s::integer[], %s::integer[], %s::integer[], %s::integer[]) "
    "AS v(id, status, records, created, updated, unchanged, deleted, quarantined) WHERE m.id = v.id"
)
FIRST_ERRORS = 10

ProgressHook = Callable[[int, int | None], None]  # called as files are done: (done, total; None while listing)


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
    persons: LinkCounts | None = None  # what identity linking did afterwards (None: not run)

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


@transaction.atomic
def message_receive(*, source: SourceSystem, stream: BinaryIO, origin: str) -> tuple[InboundMessage, bool]:
    """Keep the raw bytes first, committed with the message's row; the same bytes from the same source are the
    same message (True when new)."""
    sha256, size = raw_store_put(stream)
    message, created = InboundMessage.objects.get_or_create(
        source=source, sha256=sha256, defaults={"origin": origin, "size": size}
    )
    return message, created


def message_process(*, message_id: int) -> tuple[InboundMessage, list[str]]:
    """Parse and store every record of a received message; see messages_process."""
    ((message, problems),) = messages_process(message_ids=[message_id])
    return message, problems


def messages_process(*, message_ids: list[int]) -> list[tuple[InboundMessage, list[str]]]:
    """Parse and store every record of received messages of one source, in order; each problem is quarantined
    and the rest goes on. Per message: the message with its counts and the problems as one-line texts.

    Records of many small messages (an SS-MIX2 file holds one) are stored together (see _batches), so a
    message costs a few statements, not a transaction of its own. Running it again is safe: every
    write is conditional."""
    found = InboundMessage.objects.select_related("source").in_bulk(message_ids)
    messages = [found[message_id] for message_id in message_ids]
    if not messages:
        return []
    source = messages[0].source
    assert all(message.source_id == source.pk for message in messages), "one source per call"
    writer = _Writer.of(source)
    tallies = _records_store(writer, messages, _numbered_records(source, messages))
    with transaction.atomic():
        _quarantine(messages, tallies)
        _finish(messages, tallies)
    return [(message, _problem_texts(source, tallies[message.pk])) for message in messages]


@dataclass
class _Writer:
    """Who writes a source's records (the system, for the purpose of ingesting it), their meta.source, and the
    source's Organization, which the Provenances name: ensured once a run, not once a batch (a conditional
    create each time was a third of the Provenances' cost)."""

    source: SourceSystem
    access: AccessContext
    source_uri: str
    _organization: str | None = None

    @classmethod
    def of(cls, source: SourceSystem) -> _Writer:
        return cls(source, AccessContext.system(reason=f"ingest:{source.code}"), f"{SOURCE_URI}{source.code}")

    def organization(self) -> str:
        """The relative URL of the source's Organization, created the first time it is needed (in a run of
        path_ingest, the first time in this process: its workers store a big file in a hundred parts)."""
        if self._organization is None:
            source = self.source
            ensured = _run_organizations.get(source.pk) if _run_organizations is not None else None
            self._organization = ensured or organization_ensure(
                access=self.access,
                name=source.organization_name,
                system=source.organization_system or f"{PROJECT_IDS}/source",
                value=source.organization_value or source.code,
            )
            if _run_organizations is not None:
                _run_organizations[source.pk] = self._organization
        return self._organization


# The Organizations ensured during the current path_ingest run, by source, in this process (its forked workers
# start with the parent's, empty); None outside a run, where every writer ensures its own.
_run_organizations: dict[int, str] | None = None


def _records_store(writer: _Writer, messages: list[InboundMessage], numbered: Iterator[Numbered]) -> dict[int, _Tally]:
    """Store the messages' records a batch at a time, one commit each, with the Provenances of what they wrote
    (the batch writer stores them in the same writes); what each message's records did."""
    tallies = {message.pk: _Tally() for message in messages}
    for batch in _batches(numbered):
        for message, index, record in batch:
            tallies[message.pk].records += 1
            if record.problem is not None:
                tallies[message.pk].problems[index] = record.problem
        readable = [(message, index, record) for message, index, record in batch if record.problem is None]
        with transaction.atomic():  # one commit per batch; a refused record leaves no trace in it
            _batch_settings()
            # Ensured here, not while the batch writer plans: a plan that collides is rolled back to its savepoint,
            # which would take an Organization created in it along, while the run keeps its id.
            organization = writer.organization()
            provenance = partial(_provenance_records, organization, messages, readable)
            outcomes = records_ingest(
                access=writer.access,
                records=[record.entries for _, _, record in readable],
                source_uri=writer.source_uri,
                then=provenance,
                located=[record.located for _, _, record in readable],
            )
            stored = outcomes[: len(readable)]
            for (message, index, record), outcome in zip(readable, stored, strict=True):
                if isinstance(outcome, FhirError):
                    tallies[message.pk].problems[index] = _refused(record, outcome)
                else:
                    tallies[message.pk].counts.add(outcome)
            if len(outcomes) == len(stored) and (alone := provenance(stored)):  # the records went one by one
                outcomes += records_ingest(access=writer.access, records=alone, source_uri=writer.source_uri)
            for outcome in outcomes[len(stored) :]:
                if isinstance(outcome, FhirError):
                    raise outcome  # our own Provenance refused: a bug, not a record problem
            _batch_audit(writer.access, batch, stored)
        for tally in tallies.values():
            tally.counts.targets.clear()  # named by the batch's Provenances: a big file's tally keeps none
    return tallies


def _batch_audit(
    access: AccessContext,
    batch: list[Numbered],
    outcomes: list[IngestCounts | FhirError],
) -> None:
    """One audit entry per stored batch: the raw messages it came from and the persons whose records it wrote
    (the batch's Provenance names each version)."""
    stored = [outcome for outcome in outcomes if not isinstance(outcome, FhirError)]
    unplaced = [
        target.split("/_history/")[0] for counts in stored if counts.patients is None for target in counts.targets
    ]
    patients = compartment_patients(unplaced)
    for counts in stored:
        patients |= counts.patients or set()
    audit_record(
        entry=AuditEntry(
            category=AuditCategory.IMPORT,
            subtype="import",
            action="C",
            status=200,
            access=access,
            outcome_text=f"{len(stored)} of {len(batch)} records stored",
            entities=tuple(dict.fromkeys(f"urn:sha256:{message.sha256}" for message, _, _ in batch)),
            patients=tuple(sorted(patients)),
        )
    )


def _problem_texts(source: SourceSystem, tally: _Tally) -> list[str]:
    return [f"{source.code}:{problem.location}: {problem.reason}" for problem in tally.problems.values()]


@dataclass
class _Tally:
    """What processing one message did so far."""

    records: int = 0
    counts: IngestCounts = field(default_factory=IngestCounts)
    problems: dict[int, RecordProblem] = field(default_factory=dict)


def _numbered_records(source: SourceSystem, messages: list[InboundMessage]) -> Iterator[Numbered]:
    """Every record of the messages in order, each with its message and its index there, read as needed."""
    for message, stream in zip(messages, raw_store_open_each([message.sha256 for message in messages]), strict=True):
        with stream as data:
            for index, record in enumerate(_records(source, data, message.origin)):
                yield message, index, record


def _batch_settings() -> None:
    """This transaction's commit returns before its WAL reaches the disk (PostgreSQL's asynchronous commit),
    and its queries are not compiled by JIT.

    A crash can lose the last fraction of a second of batches, all or nothing and never half: their
    message then still reads `received`, and ingesting or replaying it again stores the same records (every
    write is conditional; the raw bytes are on disk). Receiving keeps the default, so an acknowledged
    message is never lost. A batch's lookups probe an index a few hundred times; once the tables grow,
    their estimated cost passes PostgreSQL's JIT threshold, and compiling them costs more than running them."""
    with connection.cursor() as cursor:  # one statement: SET LOCAL twice took two round trips a batch
        cursor.execute("SELECT set_config('synchronous_commit', 'off', true), set_config('jit', 'off', true)")


def _batches(numbered: Iterator[Numbered]) -> Iterator[list[Numbered]]:
    """RECORDS_PER_COMMIT records at a time, fewer when they hold more than ENTRIES_PER_COMMIT entries."""
    batch: list[Numbered] = []
    entries = 0
    for item in numbered:
        batch.append(item)
        entries += len(item[2].entries)
        if len(batch) >= RECORDS_PER_COMMIT or entries >= ENTRIES_PER_COMMIT:
            yield batch
            batch, entries = [], 0
    if batch:
        yield batch


def _records(
    source: SourceSystem, data: BinaryIO, origin: str, first_line: int | None = None
) -> Iterator[ParsedRecord]:
    """The connector's records (of the run of lines from `first_line` on, for a part of a file split by line); a
    connector that breaks its promise not to raise quarantines the rest."""
    connector = connector_for(source.connector)
    try:
        if first_line is None:
            yield from connector.records(source_info(source), data, origin)
        else:  # parts are made for such connectors only (_stage_parts)
            yield from cast(SplitByLine, connector).line_records(source_info(source), data, origin, first_line)
    except Exception as error:  # a connector bug must not lose the message: it is quarantined
        yield ParsedRecord(
            location=origin, problem=RecordProblem(origin, "", f"the connector failed: {type(error).__name__}")
        )


def _refused(record: ParsedRecord, error: FhirError) -> RecordProblem:
    where = ", ".join(expression for issue in error.issues for expression in issue.expression)
    return RecordProblem(record.location, where, f"not stored ({error.status}): {error}")


def _quarantine(messages: list[InboundMessage], tallies: dict[int, _Tally]) -> None:
    """Record this run's problems; earlier open entries that no longer fail are resolved, not deleted."""
    now = timezone.now()
    open_entries = {
        (entry.message_id, entry.record_index): entry
        for entry in QuarantinedRecord.objects.filter(message__in=messages, resolved_at__isnull=True)
    }
    resolved = [
        entry for (message_id, index), entry in open_entries.items() if index not in tallies[message_id].problems
    ]
    for entry in resolved:
        entry.resolved_at = now
    QuarantinedRecord.objects.bulk_update(resolved, ["resolved_at"])
    fresh: list[QuarantinedRecord] = []
    again: list[QuarantinedRecord] = []
    for message in messages:
        for index, problem in tallies[message.pk].problems.items():
            known = open_entries.get((message.pk, index))
            entry = known or QuarantinedRecord(message=message, record_index=index)
            (again if known else fresh).append(entry)
            entry.location, entry.field, entry.reason = problem.location[:500], problem.field[:200], problem.reason
    QuarantinedRecord.objects.bulk_create(fresh)
    QuarantinedRecord.objects.bulk_update(again, ["location", "field", "reason"])


def _provenance_records(
    organization: str,
    messages: list[InboundMessage],
    readable: list[Numbered],
    outcomes: list[IngestCounts | FhirError],
) -> list[list[dict[str, Any]]]:
    """The Provenances of what a batch's records wrote (`outcomes`, one per readable record): one per
    PROVENANCE_TARGETS versions and one for the rest, in message order, each naming as entities the messages its
    targets came from: small messages processed together share one, a big file gets several. It only reads its
    arguments: the batch writer asks again when it plans a batch again."""
    targets: dict[int, list[str]] = {message.pk: [] for message in messages}
    for (message, _, _), outcome in zip(readable, outcomes, strict=True):
        if not isinstance(outcome, FhirError):
            targets[message.pk] += outcome.targets
    written = [(message, target) for message in messages for target in targets[message.pk]]
    now = timezone.now()
    return [
        [
            provenance_entry(
                targets=[target for _, target in chunk],
                organization=organization,
                messages=list({message.sha256: message.origin for message, _ in chunk}.items()),
                recorded=now,
            )
        ]
        for chunk in (
            written[start : start + PROVENANCE_TARGETS] for start in range(0, len(written), PROVENANCE_TARGETS)
        )
    ]


def _finish(messages: list[InboundMessage], tallies: dict[int, _Tally]) -> None:
    """Each message's counts and status, in one statement."""
    now = timezone.now()
    for message in messages:
        tally = tallies[message.pk]
        counts = tally.counts
        message.records = tally.records
        message.created, message.updated, message.unchanged = counts.created, counts.updated, counts.unchanged
        message.deleted, message.quarantined = counts.deleted, len(tally.problems)
        message.status = _status(tally.records, len(tally.problems))
        message.processed_at = now
    columns: list[Any] = [[getattr(message, name) for message in messages] for name in MESSAGE_COUNTS]
    with connection.cursor() as cursor:
        cursor.execute(FINISH_MESSAGES, [now, [m.pk for m in messages], [m.status for m in messages], *columns])


def _status(records: int, quarantined: int) -> str:
    if quarantined == 0:
        return MessageStatus.STORED
    return MessageStatus.QUARANTINED if quarantined >= records else MessageStatus.PARTIAL


def path_ingest(
    *, source: SourceSystem, path: Path, on_file: ProgressHook | None = None, workers: int = 1
) -> IngestSummary:
    """Ingest a file, or every file the connector takes from a folder; with `workers` > 1, lanes of files that
    do not depend on each other run on that many processes (see connectors.lanes), and so do the parts of a
    big file whose lines are its records (see connectors.parts)."""
    global _run_organizations
    _run_organizations = {}
    try:
        return _path_ingest(source, path, on_file, workers)
    finally:
        _run_organizations = None


def _path_ingest(source: SourceSystem, path: Path, on_file: ProgressHook | None, workers: int) -> IngestSummary:
    summary = IngestSummary()
    with task_runner(workers) as run_tasks:
        if workers > 1 and path.is_dir() and source.connector in LISTED_BY_LANE:
            _listing_ingest(source, path, run_tasks, workers, summary, on_file)
            return summary
        files = [path] if path.is_file() else list(connector_for(source.connector).paths(path))
        root = path.parent if path.is_file() else path
        stages = ingest_stages(source.connector, files, root)
        prepared = _stage_parts(source, root, stages[0], summary, workers) if stages else None
        for number in range(len(stages)):
            assert prepared is not None
            lanes, parts = prepared
            running = run_tasks([*parts, *stage_tasks(lanes, workers)], partial(_task_run, source.pk, root))
            if number + 1 < len(stages):  # received and cut while the workers store this stage
                prepared = _stage_parts(source, root, stages[number + 1], summary, workers)
            part_tallies = _gathered(running, summary, on_file, lambda: len(files))
            for message, problems in _parts_finish(source, parts, part_tallies):
                summary.add(message, problems)
    return summary


def _listing_ingest(
    source: SourceSystem,
    root: Path,
    run_tasks: TaskRunner,
    workers: int,
    summary: IngestSummary,
    on_file: ProgressHook | None,
) -> None:
    """A folder whose listing yields each lane's files together, stored by the workers while it is still being
    listed. One worker would store it in this thread, after the walk or interleaved with it, in the same time:
    there the folder is listed first, so its progress bar has a total from the start."""
    listing = _Listing(connector_for(source.connector).paths(root))
    tasks = streamed_tasks(listing, root, LISTED_BY_LANE[source.connector], workers)
    _gathered(run_tasks(tasks, partial(_task_run, source.pk, root)), summary, on_file, listing.total)


class _Listing:
    """Files as a connector lists them, counted as they come: their total, once the listing is done."""

    def __init__(self, files: Iterable[Path]) -> None:
        self._files = files
        self._found = 0
        self._done = False

    def __iter__(self) -> Iterator[Path]:
        for file in self._files:
            self._found += 1
            yield file
        self._done = True

    def total(self) -> int | None:
        return self._found if self._done else None


def _gathered(
    running: Iterable[IngestSummary | tuple[LinePart, _Tally]],
    summary: IngestSummary,
    on_file: ProgressHook | None,
    total: Callable[[], int | None],
) -> dict[LinePart, _Tally]:
    """The tasks' results as they finish: lanes' summaries merged into `summary`, parts' tallies returned."""
    part_tallies: dict[LinePart, _Tally] = {}
    for done in running:
        if isinstance(done, IngestSummary):
            summary.merge(done)
        else:
            part, tally = done
            part_tallies[part] = tally
        if on_file is not None:
            on_file(summary.received, total())
    return part_tallies


def _task_run(source_id: int, root: Path, task: Lane | LinePart) -> IngestSummary | tuple[LinePart, _Tally]:
    """A worker's task: files to receive and process, or a part of a received file."""
    if isinstance(task, LinePart):
        return task, _part_store(task)
    return _files_ingest(source_id, root, task)


def _stage_parts(
    source: SourceSystem, root: Path, stage: Stage, summary: IngestSummary, workers: int
) -> tuple[Stage, list[LinePart]]:
    """The stage less its files to store in parts, and their parts: each such file (a lane of its own, of more
    than one part, split by line as its connector says) is received here, once, and cut if it is to be
    processed (with more than one worker; one stores each file whole). The workers were forked when the pool
    opened, so this process's connection is its own. The next stage's files are received while the workers
    store this one: hashing and keeping the big files of the benchmark's 1,000-person export took 1.1 s of one
    core, with both workers waiting. Parts are cut finer in a stage of little data (connectors.parts.part_bytes)."""
    connector = connector_for(source.connector)
    if workers <= 1 or not isinstance(connector, SplitByLine):
        return stage, []
    sizes = {lane[0]: lane[0].stat().st_size for lane in stage if len(lane) == 1}
    part_size = part_bytes(sum(sizes.values()), workers)
    big = [file for file, size in sizes.items() if _split_by_line(connector, file, size, root, part_size)]
    if not big:
        return stage, []
    parts: list[LinePart] = []
    waiting: list[int] = []
    for message, new in _files_receive(source, root, big):
        if _to_process(summary, message, new, waiting):
            waiting.append(message.pk)
            with raw_store_open(message.sha256) as data:
                parts.extend(message_parts(message.pk, data, message.size, part_size))
    return [lane for lane in stage if lane[0] not in big], parts


def _split_by_line(connector: SplitByLine, file: Path, size: int, root: Path, part_size: int) -> bool:
    if part_count(size, part_size) == 1:
        return False
    with file.open("rb") as data:
        return connector.split_by_line(data, str(file.relative_to(root)))


def _part_store(part: LinePart) -> _Tally:
    """Store a part's records, with the Provenance of what they wrote; its tally, indexed within the part."""
    message = InboundMessage.objects.select_related("source").get(pk=part.message_id)
    source = message.source
    writer = _Writer.of(source)
    return _records_store(writer, [message], _part_records(source, message, part))[message.pk]


def _part_records(source: SourceSystem, message: InboundMessage, part: LinePart) -> Iterator[Numbered]:
    with raw_store_open_range(message.sha256, part.start, part.end) as data:
        for index, record in enumerate(_records(source, data, message.origin, part.first_line)):
            yield message, index, record


def _parts_finish(
    source: SourceSystem, parts: list[LinePart], tallies: dict[LinePart, _Tally]
) -> list[tuple[InboundMessage, list[str]]]:
    """The messages stored in parts, finished as if one process had read each: the parts' tallies added up in
    file order (an index within a part becomes one within the file), then quarantine, counts and status."""
    totals: dict[int, _Tally] = {}
    for part in parts:
        total, tally = totals.setdefault(part.message_id, _Tally()), tallies[part]
        total.problems.update((total.records + index, problem) for index, problem in tally.problems.items())
        total.records += tally.records
        total.counts.add(tally.counts)
    if not totals:
        return []
    found = InboundMessage.objects.in_bulk(list(totals))
    messages = [found[message_id] for message_id in totals]
    with transaction.atomic():
        _quarantine(messages, totals)
        _finish(messages, totals)
    return [(message, _problem_texts(source, totals[message.pk])) for message in messages]


def _files_ingest(source_id: int, root: Path, files: list[Path]) -> IngestSummary:
    """Files of one source in order, MESSAGES_PER_GROUP at a time: a group is kept raw and received in one
    commit, then processed."""
    source = SourceSystem.objects.get(pk=source_id)
    summary = IngestSummary()
    for start in range(0, len(files), MESSAGES_PER_GROUP):
        waiting: list[int] = []
        for message, new in _files_receive(source, root, files[start : start + MESSAGES_PER_GROUP]):
            if _to_process(summary, message, new, waiting):
                waiting.append(message.pk)
        for processed, problems in messages_process(message_ids=waiting):
            summary.add(processed, problems)
    return summary


@transaction.atomic
def _files_receive(source: SourceSystem, root: Path, files: list[Path]) -> list[tuple[InboundMessage, bool]]:
    """message_receive for many files: their raw bytes kept in one batch and their rows in one statement, all in
    one commit. Per file, its message and whether it is new (the same bytes as an earlier file are not)."""
    raw = RawBatch()
    kept: list[Kept] = []
    for file in files:
        with file.open("rb") as stream:
            sha256, size = raw.put(stream)
        kept.append(Kept(str(file.relative_to(root)), sha256, size))
    raw.write()
    return messages_record(source=source, kept=kept)


def message_ingest(*, source: SourceSystem, stream: BinaryIO, origin: str, summary: IngestSummary) -> InboundMessage:
    """Receive one message and process it unless it was already; counted in `summary`."""
    message, new = message_receive(source=source, stream=stream, origin=origin)
    if not _to_process(summary, message, new, ()):
        return message
    message, problems = message_process(message_id=message.pk)
    summary.add(message, problems)
    return message


def _to_process(summary: IngestSummary, message: InboundMessage, new: bool, waiting: Collection[int]) -> bool:
    """Count a received message; False when it was processed before or is already waiting (the same bytes)."""
    summary.received += 1
    if message.pk in waiting or (not new and message.status != MessageStatus.RECEIVED):
        summary.duplicates += 1
        return False
    return True


def message_replay(*, message_id: int) -> tuple[InboundMessage, list[str]]:
    """Run a message again (after a mapping fix): stored records stay as they are, fixed ones get stored."""
    return message_process(message_id=message_id)
