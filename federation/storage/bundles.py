"""Batch and transaction Bundles: parse entries, order them per the spec, run them through services.

A transaction is all-or-nothing: ids are assigned and references rewritten (urn:uuid fullUrls and
conditional references such as `Organization?identifier=sys|val`) before anything is written, and
any failing entry rolls the whole Bundle back. A batch runs each entry on its own.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any

from django.db import transaction

from consent.contracts import AccessContext
from core.instant import format_instant
from core.outcome import FhirError, Issue, conflict, invalid
from core.references import Located, references_replaced, references_rewritten
from federation.contracts import StoredVersion, WriteResult
from federation.fhir.spec import TRAIL_TYPES, served_resource_types
from federation.search.indexing import deferred_indexing
from federation.search.query import parse_query, query_pairs
from federation.search.searching import resource_search
from federation.search.searchset import searchset_bundle
from federation.search.selectors import resource_read, resource_vread, resources_matching
from federation.storage import services
from federation.storage.rows import new_logical_id

# The spec's processing order for transactions: deletes, creates, updates, then reads.
PROCESSING_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "GET": 3}
ENTRY_URL = re.compile(
    r"^(?P<type>[A-Z][A-Za-z]+)(?:/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/(?P<version>\d+))?)?(?:\?(?P<query>.*))?$"
)
CONDITIONAL_REFERENCE = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)\?(?P<query>.+)$")


@functools.lru_cache(maxsize=4096)  # ingest meets the same references (Patients, Encounters) record after record
def conditional_reference_parts(reference: str) -> tuple[str, str] | None:
    """(type, criteria) of a conditional reference `Type?criteria`; None for any other reference."""
    conditional = CONDITIONAL_REFERENCE.match(reference)
    return None if conditional is None else (conditional["type"], conditional["query"])


@dataclass(slots=True)
class BundleEntry:
    """One request of a batch or transaction, parsed."""

    index: int
    method: str
    resource_type: str
    logical_id: str | None
    version_id: int | None
    query: str | None
    full_url: str | None
    resource: dict[str, Any] | None
    if_none_exist: str | None
    if_match: int | None


def bundle_process(*, access: AccessContext, bundle: Any, include_resources: bool, base_url: str) -> dict[str, Any]:
    """Run a batch or transaction Bundle and answer with its -response Bundle.

    `base_url` is the FHIR base that search entries' searchset Bundles link to.
    """
    bundle_type = _bundle_type(bundle)
    raw_entries = bundle.get("entry") or []
    if bundle_type == "transaction":
        entries = [parse_entry(index, raw) for index, raw in enumerate(raw_entries)]
        results = _run_transaction(access, entries, include_resources, base_url)
    else:
        results, entries = {}, []
        for index, raw in enumerate(raw_entries):
            try:
                entries.append(parse_entry(index, raw))
            except FhirError as error:  # a batch answers a malformed entry in its place and goes on
                results[index] = _error_entry(error)
        results |= _run_batch(access, entries, include_resources, base_url)
    return {
        "resourceType": "Bundle",
        "id": new_logical_id(),
        "type": f"{bundle_type}-response",
        "entry": [results[index] for index in range(len(raw_entries))],
    }


def _bundle_type(bundle: Any) -> str:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise invalid("POST to the base URL takes a Bundle of type batch or transaction.")
    bundle_type = bundle.get("type")
    if bundle_type not in ("batch", "transaction"):
        raise invalid(f"Bundle.type '{bundle_type}' cannot be processed; use batch or transaction.", expression="type")
    if not isinstance(bundle.get("entry", []), list):
        raise invalid("Bundle.entry must be a list.", expression="Bundle.entry")
    return str(bundle_type)


def parse_entry(index: int, raw: Any) -> BundleEntry:
    where = f"Bundle.entry[{index}]"
    request = raw.get("request") if isinstance(raw, dict) else None
    if not isinstance(request, dict):
        raise invalid(f"{where} has no request.", expression=f"{where}.request")
    method = str(request.get("method", "")).upper()
    if method not in PROCESSING_ORDER:
        raise invalid(f"{where}.request.method '{method}' is not supported.", expression=f"{where}.request.method")
    match = ENTRY_URL.match(str(request.get("url", "")).lstrip("/"))
    if match is None:
        raise invalid(
            f"{where}.request.url '{request.get('url')}' is not a relative FHIR URL.", expression=f"{where}.request.url"
        )
    resource_type = match["type"]
    if resource_type not in served_resource_types():
        raise FhirError(404, Issue("not-supported", f"{where}: unknown resource type '{resource_type}'."))
    if resource_type in TRAIL_TYPES:
        raise FhirError(
            405, Issue("not-supported", f"{where}: {resource_type} is the audit trail, read at its own URL.")
        )
    resource = raw.get("resource")
    if method in ("POST", "PUT") and not isinstance(resource, dict):
        raise invalid(f"{where} ({method}) has no resource.", expression=f"{where}.resource")
    return BundleEntry(
        index=index,
        method=method,
        resource_type=resource_type,
        logical_id=match["id"],
        version_id=int(match["version"]) if match["version"] else None,
        query=match["query"],
        full_url=raw.get("fullUrl"),
        resource=resource if isinstance(resource, dict) else None,
        if_none_exist=request.get("ifNoneExist"),
        if_match=_version_from_etag(request.get("ifMatch"), where),
    )


def _version_from_etag(etag: Any, where: str) -> int | None:
    if etag is None:
        return None
    match = re.fullmatch(r'(?:W/)?"?(\d+)"?', str(etag).strip())
    if match is None:
        raise invalid(f"{where}.request.ifMatch '{etag}' is not a version ETag.")
    return int(match[1])


@transaction.atomic
def _run_transaction(
    access: AccessContext, entries: list[BundleEntry], include_resources: bool, base_url: str
) -> dict[int, dict[str, Any]]:
    with deferred_indexing():
        written = _transaction_writes(access, entries)
    results = {
        entry.index: _delete_response(written[entry.index])
        if entry.method == "DELETE"
        else _response_entry(_written(written[entry.index]), include_resources)
        for entry in entries
        if entry.index in written
    }
    # Reads come last (spec order) and after the index rows of the writes are in, so a search
    # entry sees what this transaction wrote.
    for entry in entries:
        if entry.method == "GET":
            with ErrorsNamingEntry(entry):
                results[entry.index] = _read(access, entry, base_url)
    return results


@transaction.atomic
def transaction_entries_apply(*, access: AccessContext, entries: list[dict[str, Any]]) -> list[WriteResult | None]:
    """Run Bundle entries (writes and deletes) as one transaction; per entry what it did (None: a delete that
    found nothing). For callers that need to tell created, changed and unchanged apart, such as ingest."""
    parsed = [parse_entry(index, raw) for index, raw in enumerate(entries)]
    for entry in parsed:
        if entry.method == "GET":
            raise invalid(f"Bundle.entry[{entry.index}]: reads have no place in an ingested record.")
    with deferred_indexing():
        written = _transaction_writes(access, parsed)
    return [written[entry.index] for entry in parsed]


def _written(result: WriteResult | None) -> WriteResult:
    assert result is not None, "only deletes may find nothing"
    return result


def _transaction_writes(access: AccessContext, entries: list[BundleEntry]) -> dict[int, WriteResult | None]:
    refuse_duplicate_targets(entries)
    ordered = sorted(entries, key=lambda entry: PROCESSING_ORDER[entry.method])
    results: dict[int, WriteResult | None] = {}
    for entry in ordered:
        if entry.method == "DELETE":
            with ErrorsNamingEntry(entry):
                results[entry.index] = _delete(access, entry)
    plans: dict[int, _WritePlan] = {}
    for entry in ordered:
        if entry.method in ("POST", "PUT"):
            with ErrorsNamingEntry(entry):
                plans[entry.index] = _plan_write(access, entry)
    targets = {
        entry.full_url: plans[entry.index].relative_target
        for entry in entries
        if entry.full_url and entry.index in plans
    }
    resolver = ReferenceResolver(targets, stored_matches(access))
    for entry in ordered:
        if entry.index in plans:
            with ErrorsNamingEntry(entry):
                results[entry.index] = _execute_write(access, entry, plans[entry.index], resolver)
    return results


def _run_batch(
    access: AccessContext, entries: list[BundleEntry], include_resources: bool, base_url: str
) -> dict[int, dict[str, Any]]:
    results: dict[int, dict[str, Any]] = {}
    resolver = ReferenceResolver({}, stored_matches(access))
    for entry in sorted(entries, key=lambda entry: PROCESSING_ORDER[entry.method]):
        try:
            with transaction.atomic():
                if entry.method == "DELETE":
                    results[entry.index] = _delete_response(_delete(access, entry))
                elif entry.method == "GET":
                    results[entry.index] = _read(access, entry, base_url)
                else:
                    plan = _plan_write(access, entry)
                    result = _execute_write(access, entry, plan, resolver)
                    results[entry.index] = _response_entry(result, include_resources)
        except FhirError as error:
            results[entry.index] = _error_entry(error)
    return results


def _error_entry(error: FhirError) -> dict[str, Any]:
    return {"response": {"status": _status_text(error.status), "outcome": error.outcome()}}


@dataclass(frozen=True)
class _WritePlan:
    """Where a POST or PUT entry will land, decided before any reference is rewritten."""

    logical_id: str
    existing: StoredVersion | None  # set when a conditional create matched: nothing is written
    resource_type: str

    @property
    def relative_target(self) -> str:
        return f"{self.resource_type}/{self.logical_id}"


def _plan_write(access: AccessContext, entry: BundleEntry) -> _WritePlan:
    if entry.method == "POST":
        if entry.if_none_exist:
            matches = resources_matching(access=access, resource_type=entry.resource_type, criteria=entry.if_none_exist)
            if len(matches) > 1:
                raise conflict(412, f"ifNoneExist '{entry.if_none_exist}' matches more than one {entry.resource_type}.")
            if matches:
                return _WritePlan(matches[0].logical_id, matches[0], entry.resource_type)
        return _WritePlan(new_logical_id(), None, entry.resource_type)
    if entry.logical_id is not None:
        return _WritePlan(entry.logical_id, None, entry.resource_type)
    if entry.query is None:
        raise invalid("A PUT entry needs Type/id or Type?criteria in request.url.")
    matches = resources_matching(access=access, resource_type=entry.resource_type, criteria=entry.query)
    if len(matches) > 1:
        raise conflict(412, f"Conditional update '{entry.query}' matches more than one {entry.resource_type}.")
    body_id = (entry.resource or {}).get("id")
    if matches:
        if body_id is not None and body_id != matches[0].logical_id:
            raise invalid(f"The body's id '{body_id}' differs from the matched {matches[0].relative_url}.")
        return _WritePlan(matches[0].logical_id, None, entry.resource_type)
    return _WritePlan(body_id if isinstance(body_id, str) else new_logical_id(), None, entry.resource_type)


def _execute_write(
    access: AccessContext, entry: BundleEntry, plan: _WritePlan, resolver: ReferenceResolver
) -> WriteResult:
    if plan.existing is not None:
        return WriteResult(plan.existing, created=False, changed=False)
    resource = resolver.rewrite(entry.resource or {})
    if entry.method == "POST":
        result = services.resource_create(
            access=access, resource=resource, logical_id=plan.logical_id, expected_type=entry.resource_type
        )
    else:
        if entry.query is not None:
            resource = {**resource, "id": plan.logical_id}
        result = services.resource_update(
            access=access,
            resource_type=entry.resource_type,
            logical_id=plan.logical_id,
            resource=resource,
            expected_version=entry.if_match,
        )
    return result


def _delete(access: AccessContext, entry: BundleEntry) -> WriteResult | None:
    """Delete Type/id, or the one match of Type?criteria (none: nothing to do; several: 412)."""
    if entry.logical_id is not None:
        return services.resource_delete(access=access, resource_type=entry.resource_type, logical_id=entry.logical_id)
    if entry.query is None:
        raise invalid("A DELETE entry needs Type/id or Type?criteria in request.url.")
    return services.resource_delete_conditional(access=access, resource_type=entry.resource_type, criteria=entry.query)


def _delete_response(result: WriteResult | None) -> dict[str, Any]:
    response: dict[str, Any] = {"status": _status_text(204)}
    if result is not None:
        response["etag"] = result.version.etag
        response["lastModified"] = format_instant(result.version.last_updated)
    return {"response": response}


def _read(access: AccessContext, entry: BundleEntry, base_url: str) -> dict[str, Any]:
    if entry.logical_id is None:
        return _search(access, entry, base_url)
    if entry.version_id is None:
        version = resource_read(access=access, resource_type=entry.resource_type, logical_id=entry.logical_id)
    else:
        version = resource_vread(
            access=access, resource_type=entry.resource_type, logical_id=entry.logical_id, version_id=entry.version_id
        )
    return {"resource": version.content, "response": _response_fields(version, 200)}


def _search(access: AccessContext, entry: BundleEntry, base_url: str) -> dict[str, Any]:
    """A search entry answers with a searchset Bundle, as the same search would on the REST API."""
    query = parse_query(entry.resource_type, query_pairs(entry.query or ""))
    result = resource_search(access=access, query=query, types=(entry.resource_type,))
    searchset = searchset_bundle(base=base_url, path=entry.resource_type, query=query, result=result)
    return {"resource": searchset, "response": {"status": _status_text(200)}}


def _response_entry(result: WriteResult, include_resources: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"response": _response_fields(result.version, 201 if result.created else 200)}
    entry["response"]["location"] = result.version.version_url
    if include_resources:
        entry["resource"] = result.version.content
    return entry


def _response_fields(version: StoredVersion, status: int) -> dict[str, Any]:
    return {
        "status": _status_text(status),
        "etag": version.etag,
        "lastModified": format_instant(version.last_updated),
    }


def _status_text(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def refuse_duplicate_targets(entries: list[BundleEntry]) -> None:
    seen: dict[str, int] = {}
    for entry in entries:
        if entry.method == "GET" or entry.logical_id is None:
            continue
        target = f"{entry.resource_type}/{entry.logical_id}"
        if target in seen:
            raise invalid(f"Bundle.entry[{seen[target]}] and Bundle.entry[{entry.index}] both change {target}.")
        seen[target] = entry.index


class ErrorsNamingEntry:
    """An error inside one entry names that entry, so the sender can find it: `with ErrorsNamingEntry(entry):`.
    A class, not a generator-based context manager: the batch writer enters one twice for every entry, and a
    generator cost a microsecond each time."""

    __slots__ = ("entry",)

    def __init__(self, entry: BundleEntry) -> None:
        self.entry = entry

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        if not isinstance(error, FhirError):
            return
        where = f"Bundle.entry[{self.entry.index}]"
        issues = [
            replace(
                issue,
                diagnostics=f"{where}: {issue.diagnostics}",
                expression=tuple(_within_entry(where, path) for path in issue.expression),
            )
            for issue in error.issues
        ]
        raise FhirError(error.status, issues) from error


def _within_entry(where: str, path: str) -> str:
    """`Patient.name[0]` inside entry 3 is `Bundle.entry[3].resource.name[0]`."""
    inner = path.partition(".")[2]
    return f"{where}.resource.{inner}" if inner else f"{where}.resource"


class ReferenceResolver:
    """Rewrites Reference.reference values: fullUrls of this Bundle and conditional references.

    `find(type, criteria)` answers a conditional reference with the relative URLs of its matches (two are
    enough to refuse it).
    """

    def __init__(self, targets: dict[str, str], find: Callable[[str, str], list[str]]) -> None:
        self._targets = targets
        self._find = find

    def rewrite(self, resource: dict[str, Any]) -> dict[str, Any]:
        """The resource with its references rewritten. Only the objects on the way to a changed reference are
        copied; the rest is shared with `resource`."""
        return references_rewritten(resource, self._target)

    def rewrite_located(self, resource: dict[str, Any], located: Located) -> dict[str, Any]:
        """`rewrite` for a resource whose references `references_located` found already: the same outcome and
        errors, without walking the resource again."""
        replacements = []
        for path, reference in located:
            target = self._target(reference)
            if target is not reference:
                replacements.append((path, target))
        return references_replaced(resource, replacements)

    def _target(self, reference: str) -> str:
        if reference in self._targets:
            return self._targets[reference]
        conditional = conditional_reference_parts(reference)
        if conditional is None:
            if reference.startswith("urn:uuid:") or reference.startswith("urn:oid:"):
                raise invalid(f"Reference '{reference}' names no entry of this Bundle.")
            return reference
        resource_type, criteria = conditional
        matches = self._find(resource_type, criteria)
        if len(matches) != 1:
            found = "no" if not matches else "more than one"
            raise conflict(412, f"Conditional reference '{reference}' matches {found} {resource_type}.")
        self._targets[reference] = matches[0]
        return matches[0]


def stored_matches(access: AccessContext) -> Callable[[str, str], list[str]]:
    """Conditional references resolved against what is stored, through the search engine."""

    def find(resource_type: str, criteria: str) -> list[str]:
        matches = resources_matching(access=access, resource_type=resource_type, criteria=criteria)
        return [match.relative_url for match in matches]

    return find
