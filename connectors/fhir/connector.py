"""The `fhir` connector: Bundles (transaction, batch, collection, searchset), lone resources and NDJSON files.

Records: a transaction Bundle is one record (atomic, as its sender meant it); a batch gives one record per
entry; a collection, an NDJSON file or a lone resource gives one idempotent record per resource (see
mapping.py), and so does a searchset (a page pulled from a remote server: matches and includes, not the
server's outcome entries). A collection's records come in dependency order (a resource after those of the
file it refers to), so that the conditional references resolve when the pipeline stores them in order.
NDJSON is streamed: its references `Type/id` become conditional references on the record identifier, with
no map of the file kept, so a reference to a later line or to a file not yet ingested fails at ingest (the
record is quarantined; `ingest_replay` takes it once its target is stored). `paths` therefore orders a Bulk
export's files (`Patient.ndjson`, `Observation-1.ndjson`...) so that master data and patients come first,
and pull.py orders a Bulk export's manifest by `type_tier`. A big NDJSON file whose lines do not name each
other may be stored in parts on several processes (`split_by_line`, connectors/parts.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from connectors.base import ParsedRecord, RecordProblem, SourceInfo, all_files
from connectors.fhir.mapping import (
    COPIED_BUNDLE_TYPES,
    LOOSE_BUNDLE_TYPES,
    SEARCH_BUNDLE_TYPE,
    Loose,
    bundle_entries,
    check_resource,
    check_write_entry,
    references,
    relative_name,
)
from connectors.fhir.parser import MAX_LINE_BYTES, Item, items, line_items, ndjson_lines
from connectors.jp import FieldError, Json

# Files named after a resource type are ingested in this order of types (anything else comes in between).
FILE_ORDER = (
    ("Organization", "Location", "Practitioner", "PractitionerRole", "HealthcareService", "Endpoint", "Device"),
    ("Medication", "Substance"),
    ("Patient",),
    ("RelatedPerson", "Person", "Group", "Coverage", "Account", "EpisodeOfCare", "CareTeam"),
    ("Encounter",),
    (),  # every other type, and files that name none
    ("DiagnosticReport", "Composition", "DocumentReference", "List", "ClinicalImpression"),
    ("Provenance", "AuditEvent"),
)
_TIERS = {name: tier for tier, names in enumerate(FILE_ORDER) for name in names}
_OTHER_TIER = FILE_ORDER.index(())
_WORD = re.compile(r"[A-Za-z]+")
_RESOURCE_TYPE = re.compile(rb'"resourceType"\s*:\s*"([A-Za-z]+)"')
_REFERENCE_TYPE = re.compile(rb'"reference"\s*:\s*"([A-Z][A-Za-z]+)(?:/|\\/|\?)')  # Type/id, Type\/id, Type?criteria
_SCAN_BYTES = 1 << 20


class FhirConnector:
    name = "fhir"

    def paths(self, root: Path) -> Iterator[Path]:
        """Every file, those named after a resource type in FILE_ORDER, the rest in path order."""
        return iter(sorted(all_files(root), key=lambda path: (type_tier(path.name), str(path))))

    def records(self, source: SourceInfo, data: BinaryIO, origin: str) -> Iterator[ParsedRecord]:
        return _item_records(source, items(data, origin), origin)

    def split_by_line(self, data: BinaryIO, origin: str) -> bool:
        """An NDJSON file whose lines name no resource of a type it holds, as a Bulk export's Observation.ndjson
        (its lines name Patients and Encounters): no line waits for another. One whose lines may name each other
        (Observation.hasMember, Patient.link) is read in order, so that a reference to an earlier line resolves
        because that line was stored first."""
        if not ndjson_lines(data, origin):
            return False
        data.seek(0)
        return not _names_own_types(data)

    def line_records(self, source: SourceInfo, data: BinaryIO, origin: str, first_line: int) -> Iterator[ParsedRecord]:
        return _item_records(source, line_items(data, origin, first_line), origin)


def type_tier(name: str) -> int:
    """Where a file (or a Bulk export output) named after a resource type comes in FILE_ORDER."""
    return next((_TIERS[word] for word in _WORD.findall(name) if word in _TIERS), _OTHER_TIER)


def _item_records(source: SourceInfo, values: Iterator[Item], origin: str) -> Iterator[ParsedRecord]:
    lines = Loose(source)  # an NDJSON line names no other line's fullUrl: one for them all
    for item in values:
        if item.problem is not None:
            yield _problem(item.location, "", item.problem)
        elif item.ndjson:
            yield _loose_record(lines, item.value, item.location, None)
        else:
            yield from _document(source, item.value, origin)


def _names_own_types(data: BinaryIO) -> bool:
    """Whether a reference in the file may name a resource of a type the file holds, told from its bytes, whole
    lines at a time (a type only a contained resource has counts too: that merely keeps a file in order)."""
    held: set[bytes] = set()
    named: set[bytes] = set()
    while block := data.read(_SCAN_BYTES) + data.readline(MAX_LINE_BYTES):
        held.update(_RESOURCE_TYPE.findall(block))
        named.update(_REFERENCE_TYPE.findall(block))
    return not held.isdisjoint(named)


def _problem(location: str, field: str, reason: str) -> ParsedRecord:
    return ParsedRecord(location=location, problem=RecordProblem(location, field, reason))


def _loose_record(loose: Loose, resource: Any, location: str, full_url: str | None, where: str = "") -> ParsedRecord:
    """One resource as an idempotent record; `where` names it in problems (its type when empty)."""
    try:
        resource_type = check_resource(resource, where)
        entry, located = loose.entry(resource, full_url, where or resource_type)
    except FieldError as problem:
        return _problem(location, problem.field, problem.reason)
    return ParsedRecord(location=location, entries=[entry], located=[located])


def _document(source: SourceInfo, document: Json, origin: str) -> Iterator[ParsedRecord]:
    if document.get("resourceType") != "Bundle":
        yield _loose_record(Loose(source), document, origin, None)
        return
    bundle_type = document.get("type")
    try:
        if bundle_type == "transaction":
            entries = bundle_entries(document)
            yield ParsedRecord(
                location=origin,
                entries=[check_write_entry(entry, f"entry[{index}]") for index, entry in enumerate(entries)],
            )
        elif bundle_type == "batch":
            yield from _batch(bundle_entries(document), origin)
        elif bundle_type in LOOSE_BUNDLE_TYPES:
            yield from _collection(source, enumerate(bundle_entries(document)), origin)
        elif bundle_type == SEARCH_BUNDLE_TYPE:
            yield from _collection(source, _search_results(document), origin)
        else:
            *others, last = (*COPIED_BUNDLE_TYPES, *LOOSE_BUNDLE_TYPES)
            kinds = f"{', '.join(others)} or {last}"
            raise FieldError("Bundle.type", f"Bundle.type '{bundle_type}' is not ingested: send a {kinds} Bundle")
    except FieldError as problem:
        yield _problem(origin, problem.field, problem.reason)


def _batch(entries: list[Any], origin: str) -> Iterator[ParsedRecord]:
    """Each entry on its own, as the batch's sender meant."""
    for index, entry in enumerate(entries):
        location = f"{origin}:entry[{index}]"
        try:
            yield ParsedRecord(location=location, entries=[check_write_entry(entry, f"entry[{index}]")])
        except FieldError as problem:
            yield _problem(location, problem.field, problem.reason)


def _search_results(searchset: Json) -> Iterator[tuple[int, Any]]:
    """(index, entry) of a searchset's matches and includes; an empty page has none. Outcome entries are the
    server's remarks on the search (an ignored parameter), not data."""
    entries = searchset.get("entry", [])
    if not isinstance(entries, list):
        raise FieldError("Bundle.entry", "Bundle.entry is not a JSON array")
    for index, entry in enumerate(entries):
        search = entry.get("search") if isinstance(entry, dict) else None
        if not (isinstance(search, dict) and search.get("mode") == "outcome"):
            yield index, entry


def _collection(source: SourceInfo, entries: Iterable[tuple[int, Any]], origin: str) -> Iterator[ParsedRecord]:
    """One idempotent record per (index, entry), a resource after the resources of the collection it refers to."""
    loose = Loose(source)
    resources: dict[int, tuple[Json, str | None]] = {}
    names: dict[str, int] = {}  # fullUrls and Type/ids -> entry index
    for index, entry in entries:
        location, where = f"{origin}:entry[{index}]", f"entry[{index}].resource"
        try:
            if not isinstance(entry, dict):
                raise FieldError(f"entry[{index}]", f"entry[{index}] is not a JSON object")
            check_resource(entry.get("resource"), where)
            resource: Json = entry["resource"]
            sent_url = entry.get("fullUrl")
            full_url = sent_url if isinstance(sent_url, str) and sent_url else None
            target = loose.target(resource, full_url)
        except FieldError as problem:
            yield _problem(location, problem.field, problem.reason)
            continue
        resources[index] = (resource, full_url)
        for name in (full_url, relative_name(resource)):
            if name is not None:
                loose.targets[name] = target
                names[name] = index
    depends = {
        index: [names[name] for name in references(resource) if name in names]
        for index, (resource, _) in resources.items()
    }
    for index in _dependency_order(depends):
        resource, full_url = resources[index]
        yield _loose_record(loose, resource, f"{origin}:entry[{index}]", full_url, f"entry[{index}].resource")


def _dependency_order(depends: dict[int, list[int]]) -> list[int]:
    """The nodes, each after those it depends on (a cycle is cut where it closes), otherwise in key order."""
    order: list[int] = []
    seen: set[int] = set()
    for root in depends:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(depends[root]))]
        while stack:
            node, pending = stack[-1]
            child = next((child for child in pending if child not in seen), None)
            if child is None:
                stack.pop()
                order.append(node)
            else:
                seen.add(child)
                stack.append((child, iter(depends[child])))
    return order


CONNECTOR = FhirConnector()
