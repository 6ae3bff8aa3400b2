"""Many small transactions written at once: the batched form of the write path, for ingest.

A connector's records are small transactions of Bundle entries whose conditions name business identifiers
(`Type?identifier=system|value`). Run one at a time, each costs dozens of round trips. Here a batch of records
is planned in memory against one lookup of every identifier and id it names, then written with a handful of
statements: COPY for new rows, versions and index rows, one UPDATE for changed rows. The outcome is that of
`transaction_entries_apply` run record by record in order: each record all or nothing (a refused record
changes nothing and the others go on), a later record sees what an earlier one wrote.

`records_apply` answers None when a record holds anything else (other criteria, If-Match): such a batch is
run one record at a time by the caller. BatchConflictError means another writer changed a row this batch read, or
created a resource under an identifier this batch creates, since it looked: the caller rolls back and runs
the records one at a time, which sees the other writer's work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from consent.contracts import AccessContext
from consent.facade import access_filter
from core.outcome import FhirError, conflict, invalid
from core.pg_arrays import bigint_array
from core.references import Located, references_located
from federation.identity.golden import with_kept_golden_link
from federation.identity.persons import golden_ids_of
from federation.models import Resource, WriteMethod
from federation.search.indexing import IndexBatch, IndexRows, index_rows, token_codes_with_system
from federation.search.placement import Placement, placement_of
from federation.search.registry import index_key, parameters_for
from federation.storage.bundles import (
    PROCESSING_ORDER,
    BundleEntry,
    ErrorsNamingEntry,
    ReferenceResolver,
    conditional_reference_parts,
    parse_entry,
    refuse_duplicate_targets,
)
from federation.storage.claims import Key, identifier_claim_key, identifier_key
from federation.storage.rows import (
    RESOURCE_IDS,
    CopiedRow,
    Serialised,
    new_logical_id,
    next_values,
    owners_array,
    require_valid_id,
    resources_copy,
    versions_copy,
    with_server_meta,
)
from federation.storage.services import resource_checked

Target = tuple[str, str]  # (resource type, logical id)


class BatchConflictError(Exception):
    """Another writer got in between this batch's reads and its writes."""


@dataclass(slots=True)
class EntryOutcome:
    """What one entry did: the version it leaves current (None: a delete that found nothing)."""

    method: str
    version_url: str | None
    created: bool = False
    changed: bool = False
    patients: list[str] | None = None  # the Patients whose compartments the version is in (None: outside them)


RecordOutcome = list[EntryOutcome] | FhirError


Records = list[list[dict[str, Any]]]
FollowUp = Callable[[list[RecordOutcome]], Records]


def records_apply(
    *,
    access: AccessContext,
    records: Records,
    keep_person_links: bool = True,
    then: FollowUp | None = None,
    located: list[list[Located]] | None = None,
) -> list[RecordOutcome] | None:
    """Run each record (a list of Bundle write entries) as its own transaction, all in one go; per record
    what its entries did, or the error that refused it. None when the batch needs the one-by-one path.
    A linked source Patient keeps its link to its golden record unless `keep_person_links` is off (the
    identity linker, which sets those links itself). `located`, when given, holds each record's entries'
    references as `references_located` finds them in their resources (found already, as the records were made).

    `then`, given what the records did, gives more records to store with them in the same writes (the
    Provenance of what they wrote): their outcomes follow the records' in the answer. They may name only what
    the batch looked up (see batch_plan_more); when the batch goes the one-by-one path (None), `then` is not
    asked."""
    plan = batch_plan(access=access, records=records, keep_person_links=keep_person_links, located=located)
    if plan is None:
        return None
    if then is not None:
        follow_up = then(plan.outcomes)
        if follow_up:
            batch_plan_more(plan, follow_up)
    batch_write(plan=plan)
    return plan.outcomes


@dataclass
class BatchPlan:
    """A batch planned against what was stored when it looked; `batch_write` stores it."""

    state: _State
    outcomes: list[RecordOutcome]
    moment: datetime


def batch_plan(
    *,
    access: AccessContext,
    records: Records,
    keep_person_links: bool = True,
    located: list[list[Located]] | None = None,
) -> BatchPlan | None:
    """Read what the records name and decide every write in memory; None when a record is not for this path."""
    parsed = _parsed(records)
    wanted = _Wanted()
    located = wanted.add_records(parsed, located)
    if located is None:
        return None
    state = _State.load(access, wanted)
    if keep_person_links:
        state.golden_ids = golden_ids_of(
            row.pk
            for row in state.rows.values()
            if row.pk is not None and row.resource_type == "Patient" and wanted.may_write(state, row)
        )
    now = timezone.now()
    outcomes = [
        record if isinstance(record, FhirError) else _record_apply(state, record, references, now)
        for record, references in zip(parsed, located, strict=True)
    ]
    return BatchPlan(state, outcomes, now)


def batch_plan_more(plan: BatchPlan, records: Records) -> None:
    """Plan records after the batch's, in its state: they may name what it plans or holds, nothing else (no
    criteria, no ids to look up). Their outcomes follow the batch's."""
    parsed = _parsed(records)
    wanted = _Wanted()
    located = wanted.add_records(parsed)
    if located is None or wanted.keys or wanted.targets:
        raise ValueError("records planned after a batch may name nothing it has not looked up")
    plan.outcomes.extend(
        record if isinstance(record, FhirError) else _record_apply(plan.state, record, references, plan.moment)
        for record, references in zip(parsed, located, strict=True)
    )


def _parsed(records: Records) -> list[list[BundleEntry] | FhirError]:
    parsed: list[list[BundleEntry] | FhirError] = []
    for entries in records:
        try:
            parsed.append([parse_entry(index, raw) for index, raw in enumerate(entries)])
        except FhirError as error:
            parsed.append(error)
    return parsed


def batch_write(*, plan: BatchPlan) -> None:
    """Store a planned batch; BatchConflictError when another writer got in between (roll back, go slowly)."""
    _write(plan.state, plan.moment)


@dataclass
class _Wanted:
    """The identifiers and ids a batch names: looked up once, before planning."""

    keys: set[Key] = field(default_factory=set)
    targets: set[Target] = field(default_factory=set)  # the ids entries name (never their references)
    entry_keys: set[Key] = field(default_factory=set)  # the keys of entries' criteria (not of their references)
    references: set[str] = field(default_factory=set)  # those taken already: the same ones recur across a batch

    def add_records(
        self, parsed: list[list[BundleEntry] | FhirError], found: list[list[Located]] | None = None
    ) -> list[list[Located]] | None:
        """`add_record` for each record (an unparsed one names nothing); None when one is not for this path.
        `found`: the records' references located already, if they were."""
        located: list[list[Located]] = []  # per record, per entry: its references, found once for the whole plan
        for number, record in enumerate(parsed):
            references = (
                self.add_record(record, None if found is None else found[number]) if isinstance(record, list) else []
            )
            if references is None:
                return None
            located.append(references)
        return located

    def add_record(self, entries: list[BundleEntry], found: list[Located] | None = None) -> list[Located] | None:
        """Collect what the record names; per entry (in order) its references (as `found`, else located here), for
        resolving them without walking the resource again. None when something in it is not for this path."""
        located: list[Located] = []
        for entry in entries:
            if entry.method == "GET" or entry.if_match is not None:
                return None
            if entry.logical_id is not None:
                self.targets.add((entry.resource_type, entry.logical_id))
            for criteria in (entry.query, entry.if_none_exist):
                if criteria is not None:
                    key = self._add_key(entry.resource_type, criteria)
                    if key is None:
                        return None
                    self.entry_keys.add(key)
            body_id = (entry.resource or {}).get("id")
            if entry.method == "PUT" and entry.query is not None and isinstance(body_id, str):
                self.targets.add((entry.resource_type, body_id))  # the id it creates when nothing matches
            references = references_located(entry.resource or {}) if found is None else found[entry.index]
            for _, reference in references:
                if reference not in self.references:
                    conditional = conditional_reference_parts(reference)
                    if conditional is not None and self._add_key(*conditional) is None:
                        return None
                    self.references.add(reference)
            located.append(references)
        return located

    def _add_key(self, resource_type: str, criteria: str) -> Key | None:
        """The key of `identifier=system|value` criteria, kept to look up; None for any other criteria."""
        key = identifier_key(resource_type, criteria)
        if key is not None:
            self.keys.add(key)
        return key

    def may_write(self, state: _State, row: _Row) -> bool:
        """Whether an entry may write this stored row (it names its id, or criteria that match it), not merely
        refer to it: a batch of Observations names its Patients only to refer to them."""
        return row.target in self.targets or not self.entry_keys.isdisjoint(state.row_keys.get(row.target, ()))


_Pair = tuple[int, int, int]  # an identifier parameter's key, and an identifier's hashed system and value


def _identifier_pair(key: Key) -> _Pair:
    resource_type, system, code = key
    return index_key(parameters_for(resource_type)["identifier"]), system, code


@dataclass(slots=True)
class _Row:
    """A resource as this batch sees it; `stored_version` is the database's when the batch began (None: new)."""

    pk: int | None  # None until a new row gets its key at write time
    resource_type: str
    logical_id: str
    version_id: int
    content_hash: str
    is_deleted: bool
    stored_version: int | None
    text: str | None = None  # the latest content this batch wrote, as stored
    index_rows: IndexRows | None = None  # its search index rows: extracted once, for identifier matches and writing
    # Where consent finds it (written on the row). Placed as it is planned, before any COPY starts: placing reads
    # the search registry, which may look at the database, and a query sent while a COPY of the same connection
    # is open waits for that COPY forever.
    placement: Placement | None = None

    @property
    def target(self) -> Target:
        return (self.resource_type, self.logical_id)

    @property
    def version_url(self) -> str:
        return f"{self.resource_type}/{self.logical_id}/_history/{self.version_id}"


@dataclass(slots=True)
class _Version:
    target: Target
    version_id: int
    method: str
    text: str | None  # None: a deletion


_MISSING = object()


# Token index rows of (parameter, identifier) pairs, one index probe per pair. The planner underestimates how
# selective a pair is (it guesses ~100 rows where there are 0 or 1), so a plain join of the pairs with the
# index was planned as a hash join over a scan of the whole table once the table grew (seconds at 10,000
# people; with `LIMIT 1`, which makes a scan that should stop early look cheap, every few batches). A LATERAL
# subquery that cannot be pulled up (OFFSET 0, LIMIT) is run per pair, so each pair is one index probe.
TOKENS_OF_PAIRS = (
    "SELECT wanted.param, wanted.system, wanted.code, t.resource_id "
    "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS wanted(param, system, code) "
    "CROSS JOIN LATERAL (SELECT resource_id FROM federation_tokenindex "
    "WHERE param = wanted.param AND system = wanted.system AND code = wanted.code OFFSET 0) AS t"
)
ANY_LIVE_OF_PAIRS = (
    "SELECT 1 FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS wanted(param, system, code) "
    "CROSS JOIN LATERAL (SELECT 1 FROM federation_tokenindex t JOIN federation_resource r ON r.id = t.resource_id "
    "WHERE t.param = wanted.param AND t.system = wanted.system AND t.code = wanted.code AND NOT r.is_deleted "
    "LIMIT 1) AS live LIMIT 1"
)


def _pair_arrays(pairs: Iterable[_Pair]) -> list[str]:
    """The parameters, systems and values of the pairs, as the three arrays TOKENS_OF_PAIRS takes."""
    listed = list(pairs)
    return [bigint_array(pair[column] for pair in listed) for column in range(3)]


class _State:
    """The rows and identifier matches a batch works on, with an undo journal so a refused record leaves
    no trace. `matches` covers exactly the looked-up keys: every live resource each one matches."""

    def __init__(self, wanted: set[Key], rows: dict[Target, _Row], row_keys: dict[Target, frozenset[Key]]) -> None:
        self.wanted = wanted
        self.rows = rows
        self.row_keys = row_keys
        self.matches: dict[Key, frozenset[Target]] = {key: frozenset() for key in wanted}
        for target, keys in row_keys.items():
            for key in keys:
                self.matches[key] |= {target}
        self.versions: list[_Version] = []
        self.golden_ids: dict[int, str] = {}  # by resource pk: the golden Patient a source Patient links to
        self._journal: list[tuple[dict[Any, Any], Any, Any]] = []

    @classmethod
    def load(cls, access: AccessContext, wanted: _Wanted) -> _State:
        """Two queries: token index rows of the wanted identifiers, then the rows they and the ids name."""
        keys_by_pair = {_identifier_pair(key): key for key in wanted.keys}
        found: dict[int, set[Key]] = {}
        if keys_by_pair:
            with connection.cursor() as cursor:
                cursor.execute(TOKENS_OF_PAIRS, _pair_arrays(keys_by_pair))
                for param, system, code, resource_id in cursor.fetchall():
                    found.setdefault(resource_id, set()).add(keys_by_pair[(param, system, code)])
        named = Q(pk__in=list(found), is_deleted=False)
        ids_by_type: dict[str, list[str]] = {}
        for resource_type, logical_id in wanted.targets:
            ids_by_type.setdefault(resource_type, []).append(logical_id)
        for resource_type, logical_ids in ids_by_type.items():  # one condition per type, not per id
            named |= Q(resource_type=resource_type, logical_id__in=logical_ids)
        rows: dict[Target, _Row] = {}
        row_keys: dict[Target, frozenset[Key]] = {}
        if found or wanted.targets:
            columns = ("pk", "resource_type", "logical_id", "version_id", "content_hash", "is_deleted")
            for pk, resource_type, logical_id, version_id, hash_, is_deleted in access_filter(
                access, Resource.objects.filter(named)
            ).values_list(*columns):
                row = _Row(pk, resource_type, logical_id, version_id, hash_, is_deleted, stored_version=version_id)
                rows[row.target] = row
                keys = frozenset(found.get(pk, ())) if not is_deleted else frozenset()
                if keys:
                    row_keys[row.target] = keys
        return cls(wanted.keys, rows, row_keys)

    # Planning reads

    def matching(self, resource_type: str, criteria: str) -> list[_Row]:
        """The live resources `identifier=system|value` criteria match, as this batch sees them."""
        key = identifier_key(resource_type, criteria)
        assert key is not None, "the batch was checked for criteria of this path"
        targets = self.matches[key]
        if len(targets) <= 1:  # mostly: nothing to sort
            return [self.rows[target] for target in targets]
        return sorted((self.rows[target] for target in targets), key=lambda row: row.logical_id)

    def find(self, resource_type: str, criteria: str) -> list[str]:
        """Conditional references: the relative URLs of the live matches."""
        return [f"{row.resource_type}/{row.logical_id}" for row in self.matching(resource_type, criteria)]

    # Journaled writes

    def mark(self) -> tuple[int, int]:
        return len(self._journal), len(self.versions)

    def undo(self, mark: tuple[int, int]) -> None:
        journal_length, versions_length = mark
        while len(self._journal) > journal_length:
            table, key, old = self._journal.pop()
            if old is _MISSING:
                del table[key]
            else:
                table[key] = old
        del self.versions[versions_length:]

    def _set(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        self._journal.append((table, key, table.get(key, _MISSING)))
        table[key] = value

    def store(self, row: _Row, method: WriteMethod) -> _Row:
        """Make `row` current (its text None for a deletion), keep its version and its key matches."""
        target = row.target
        self._set(self.rows, target, row)
        self.versions.append(_Version(target, row.version_id, method.value, row.text))
        old_keys = self.row_keys.get(target, frozenset())
        found = row.index_rows
        new_keys = _identifier_keys(row.resource_type, found) & self.wanted if found is not None else frozenset()
        if new_keys != old_keys:
            self._set(self.row_keys, target, new_keys)
            for key in old_keys - new_keys:
                self._set(self.matches, key, self.matches[key] - {target})
            for key in new_keys - old_keys:
                self._set(self.matches, key, self.matches[key] | {target})
        return row


def _identifier_keys(resource_type: str, found: IndexRows) -> frozenset[Key]:
    """The keys the token index will hold for the resource's `identifier` parameter."""
    parameter = parameters_for(resource_type).get("identifier")
    if parameter is None:
        return frozenset()
    return frozenset(
        (resource_type, system, code) for system, code in token_codes_with_system(found, index_key(parameter))
    )


def _record_apply(state: _State, entries: list[BundleEntry], located: list[Located], now: datetime) -> RecordOutcome:
    mark = state.mark()
    try:
        return _record_entries(state, entries, located, now)
    except FhirError as error:
        state.undo(mark)
        return error


def _record_entries(
    state: _State, entries: list[BundleEntry], located: list[Located], now: datetime
) -> list[EntryOutcome]:
    """As transaction_entries_apply: deletes, then where each write lands, then references, then writes.
    `located` holds each entry's references, by its index (its place in the record)."""
    refuse_duplicate_targets(entries)
    ordered = sorted(entries, key=lambda entry: PROCESSING_ORDER[entry.method])
    outcomes: dict[int, EntryOutcome] = {}
    for entry in ordered:
        if entry.method == "DELETE":
            with ErrorsNamingEntry(entry):
                outcomes[entry.index] = _delete(state, entry, now)
    plans: dict[int, _Plan] = {}
    for entry in ordered:
        if entry.method in ("POST", "PUT"):
            with ErrorsNamingEntry(entry):
                plans[entry.index] = _plan(state, entry)
    targets = {
        entry.full_url: plans[entry.index].relative for entry in entries if entry.full_url and entry.index in plans
    }
    resolver = ReferenceResolver(targets, state.find)
    for entry in ordered:
        if entry.index in plans:
            with ErrorsNamingEntry(entry):
                outcomes[entry.index] = _execute(state, entry, plans[entry.index], resolver, located[entry.index], now)
    return [outcomes[entry.index] for entry in entries]


@dataclass(slots=True)
class _Plan:
    resource_type: str
    logical_id: str
    existing: _Row | None  # a conditional create that matched: nothing is written

    @property
    def relative(self) -> str:
        return f"{self.resource_type}/{self.logical_id}"


def _one_match(state: _State, entry: BundleEntry, criteria: str, what: str) -> _Row | None:
    matches = state.matching(entry.resource_type, criteria)
    if len(matches) > 1:
        raise conflict(412, f"{what} '{criteria}' matches more than one {entry.resource_type}.")
    return matches[0] if matches else None


def _plan(state: _State, entry: BundleEntry) -> _Plan:
    if entry.method == "POST":
        match = _one_match(state, entry, entry.if_none_exist, "ifNoneExist") if entry.if_none_exist else None
        if match is not None:
            return _Plan(entry.resource_type, match.logical_id, match)
        return _Plan(entry.resource_type, new_logical_id(), None)
    if entry.logical_id is not None:
        return _Plan(entry.resource_type, entry.logical_id, None)
    if entry.query is None:
        raise invalid("A PUT entry needs Type/id or Type?criteria in request.url.")
    match = _one_match(state, entry, entry.query, "Conditional update")
    body_id = (entry.resource or {}).get("id")
    if match is not None:
        if body_id is not None and body_id != match.logical_id:
            raise invalid(
                f"The body's id '{body_id}' differs from the matched {entry.resource_type}/{match.logical_id}."
            )
        return _Plan(entry.resource_type, match.logical_id, None)
    return _Plan(entry.resource_type, body_id if isinstance(body_id, str) else new_logical_id(), None)


def _execute(
    state: _State, entry: BundleEntry, plan: _Plan, resolver: ReferenceResolver, located: Located, now: datetime
) -> EntryOutcome:
    if plan.existing is not None:
        return EntryOutcome(entry.method, plan.existing.version_url)
    resource = resolver.rewrite_located(entry.resource or {}, located)
    if entry.method == "PUT" and entry.query is not None:
        resource = {**resource, "id": plan.logical_id}
    row = state.rows.get((entry.resource_type, plan.logical_id))
    if row is not None and row.pk in state.golden_ids:
        resource = with_kept_golden_link(resource, state.golden_ids[row.pk])
    if entry.method == "PUT" and resource.get("id") != plan.logical_id:
        raise invalid(
            f"The body's id '{resource.get('id')}' differs from the id '{plan.logical_id}' in the URL.",
            expression=f"{entry.resource_type}.id",
        )
    content = with_server_meta(resource, plan.logical_id, (row.version_id + 1) if row else 1, now)
    if row is None:  # checked first: content the check vouches for is plain JSON, written without a walk of its own
        serialised = Serialised(content, plain_json=resource_checked(resource, expected_type=entry.resource_type))
    else:
        serialised = Serialised(content)
        if not row.is_deleted and row.content_hash == serialised.content_hash:
            return EntryOutcome(entry.method, row.version_url)  # what is stored was valid: no need to check again
        resource_checked(resource, expected_type=entry.resource_type)
    new_hash = serialised.content_hash
    require_valid_id(entry.resource_type, plan.logical_id)
    found = index_rows(entry.resource_type, content)
    placement = placement_of(entry.resource_type, plan.logical_id, found)
    if row is None:
        row = _Row(
            None, entry.resource_type, plan.logical_id, 1, new_hash, False, None, serialised.text, found, placement
        )
        method = WriteMethod.POST if entry.method == "POST" else WriteMethod.PUT
        return _stored(state.store(row, method), entry, created=True)
    row = replace(
        row,
        version_id=row.version_id + 1,
        content_hash=new_hash,
        is_deleted=False,
        text=serialised.text,
        index_rows=found,
        placement=placement,
    )
    return _stored(state.store(row, WriteMethod.PUT), entry, created=False)


def _stored(row: _Row, entry: BundleEntry, *, created: bool) -> EntryOutcome:
    assert row.placement is not None
    return EntryOutcome(entry.method, row.version_url, created=created, changed=True, patients=row.placement.owners)


def _delete(state: _State, entry: BundleEntry, now: datetime) -> EntryOutcome:
    """Delete Type/id, or the one match of Type?criteria (none: nothing to do; several: 412)."""
    if entry.logical_id is not None:
        row = state.rows.get((entry.resource_type, entry.logical_id))
    elif entry.query is not None:
        row = _one_match(state, entry, entry.query, "Conditional delete")
    else:
        raise invalid("A DELETE entry needs Type/id or Type?criteria in request.url.")
    if row is None:
        return EntryOutcome(entry.method, None)
    if row.is_deleted:
        return EntryOutcome(entry.method, row.version_url)
    row = replace(
        row,
        version_id=row.version_id + 1,
        content_hash="",
        is_deleted=True,
        text=None,
        index_rows=None,
        placement=placement_of(row.resource_type, row.logical_id, None),
    )
    return EntryOutcome(entry.method, state.store(row, WriteMethod.DELETE).version_url, changed=True)


def _write(state: _State, now: datetime) -> None:
    """Write what the batch planned: new rows, changed rows, versions and index rows."""
    if not state.versions:
        return
    rows = [state.rows[target] for target in dict.fromkeys(version.target for version in state.versions)]
    new_rows = [row for row in rows if row.pk is None]
    changed_rows = [row for row in rows if row.pk is not None]
    with connection.cursor() as cursor:
        _claim_new_identifiers(cursor, state, new_rows)
        # New rows' keys are kept beside them, not put in a copy of each row (dataclasses.replace: 2 µs a row).
        new_keys = next_values(RESOURCE_IDS, len(new_rows))
        keyed = [*zip(new_rows, new_keys, strict=True), *((row, row.pk) for row in changed_rows)]
        resources_copy(cursor.cursor, [_copied(row, pk, now) for row, pk in zip(new_rows, new_keys, strict=True)])
        _update_changed(cursor, changed_rows, now)
        versions_copy(cursor.cursor, _version_rows(state, {row.target: pk for row, pk in keyed}, now))
    index = IndexBatch()
    for row, pk in keyed:
        assert pk is not None
        index.add(pk, row.index_rows, is_new=row.stored_version is None)
    index.write()


def _claim_new_identifiers(cursor: Any, state: _State, new_rows: list[_Row]) -> None:
    """Identifiers this batch is first to use are locked, then checked again: another writer that created a
    resource under one of them meanwhile makes this batch a conflict instead of a duplicate."""
    created = {row.target for row in new_rows}
    keys = [key for key, targets in state.matches.items() if targets and targets <= created]
    if not keys:
        return
    claimed = sorted({identifier_claim_key(key) for key in keys})
    cursor.execute(
        "SELECT pg_advisory_xact_lock(key) FROM (SELECT unnest(%s::bigint[]) AS key ORDER BY 1) AS claimed",
        [bigint_array(claimed)],
    )
    cursor.execute(ANY_LIVE_OF_PAIRS, _pair_arrays({_identifier_pair(key) for key in keys}))
    if cursor.fetchone() is not None:
        raise BatchConflictError("a resource was created under an identifier this batch creates")


def _placed(row: _Row) -> Placement:
    assert row.placement is not None, "a row this batch writes was placed as it was planned"
    return row.placement


def _copied(row: _Row, pk: int, now: datetime) -> CopiedRow:
    placement = _placed(row)
    return CopiedRow(
        pk,
        row.resource_type,
        row.logical_id,
        row.version_id,
        now,
        row.text,
        row.content_hash,
        owners=placement.owners,
        data_period=placement.data_period,
    )


# Changed rows go to the server by COPY, then one UPDATE joins them: when Django bound parameters on the client, a
# text[] parameter of the contents was quoted element by element in Python, ten times slower than COPY.
CHANGED_ROWS_TABLE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS batch_changed_rows (id bigint, read_version integer, "
    "version_id integer, is_deleted boolean, content text, content_hash text, owners text[], "
    "data_period tstzmultirange) ON COMMIT DELETE ROWS"
)
UPDATE_CHANGED_ROWS = (
    "UPDATE federation_resource AS r SET version_id = v.version_id, last_updated = %s, is_deleted = v.is_deleted, "
    "content = v.content::jsonb, content_hash = v.content_hash, owners = v.owners, data_period = v.data_period "
    "FROM batch_changed_rows AS v WHERE r.id = v.id AND r.version_id = v.read_version"
)


def _update_changed(cursor: Any, rows: list[_Row], now: datetime) -> None:
    """One UPDATE for every changed row (with its placement), each only if its version is still the one read."""
    if not rows:
        return
    cursor.execute(CHANGED_ROWS_TABLE)
    cursor.execute("TRUNCATE batch_changed_rows")  # an earlier batch of the same transaction
    with cursor.cursor.copy(
        "COPY batch_changed_rows (id, read_version, version_id, is_deleted, content, content_hash, owners, "
        "data_period) FROM STDIN"
    ) as copy:
        for row in rows:
            placement = _placed(row)
            copy.write_row(
                (
                    row.pk,
                    row.stored_version,
                    row.version_id,
                    row.is_deleted,
                    row.text,
                    row.content_hash,
                    owners_array(placement.owners),
                    placement.data_period,
                )
            )
    cursor.execute(UPDATE_CHANGED_ROWS, [now])
    if cursor.rowcount != len(rows):
        raise BatchConflictError("a resource this batch read was changed meanwhile")


def _version_rows(state: _State, pks: dict[Target, int | None], now: datetime) -> list[CopiedRow]:
    """The batch's versions in order; the last of each resource is what its row now holds."""
    rows: list[CopiedRow] = []
    for version in state.versions:
        resource_type, logical_id = version.target
        pk = pks[version.target]
        assert pk is not None
        current = version.version_id == state.rows[version.target].version_id
        rows.append(
            CopiedRow(
                pk,
                resource_type,
                logical_id,
                version.version_id,
                now,
                version.text,
                method=version.method,
                current=current,
            )
        )
    return rows
