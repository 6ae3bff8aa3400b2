"""The audit entry of one FHIR interaction, read off the request and its response (BALP: who, why, about whom,
what, outcome). Deriving it from the response keeps every view free of audit code: what a client was shown or
changed is what its response says, and the persons it concerns are those resources' Patient compartments."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponseBase, QueryDict
from rest_framework.exceptions import APIException
from rest_framework.request import Request

from consent.contracts import AccessContext, AuditCategory, AuditEntry
from federation.api.views.access import request_access
from federation.fhir.spec import TRAIL_TYPES
from federation.search.compartments import compartment_patients

AUDIT_EVENT = "AuditEvent"
REFERENCE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/\d+)?/?$")
# AuditEvent.action per interaction; searches, type and system history, Bundles and operations execute (E),
# as BALP has it.
ACTIONS = {
    "create": "C",
    "conditional-create": "C",
    "update": "U",
    "conditional-update": "U",
    "delete": "D",
    "conditional-delete": "D",
    "read": "R",
    "vread": "R",
    "history-instance": "R",
}
QUERY_ACTIONS = {"search-type", "search-system", "search-compartment", "history-type", "history-system"}
CHANGING_METHODS = ("PUT", "DELETE")


def named_instance(kwargs: dict[str, Any]) -> str | None:
    """The resource an instance-level URL names ("Type/id"), if any."""
    if "logical_id" not in kwargs:
        return None
    return f"{kwargs['resource_type']}/{kwargs['logical_id']}"


def patients_before(request: HttpRequest, kwargs: dict[str, Any]) -> set[str]:
    """For an update or delete of a named resource, the persons it concerned before the change (afterwards a
    deletion has no compartment and an update may have moved it to someone else)."""
    reference = named_instance(kwargs)
    if request.method not in CHANGING_METHODS or reference is None or _in_trail(reference):
        return set()
    return compartment_patients([reference])


def interaction_entry(
    request: Request, response: HttpResponseBase, *, code: str, kwargs: dict[str, Any], patients: set[str]
) -> AuditEntry:
    """The audit entry of interaction `code` (or "$operation") that answered `response`."""
    access = _access(request)
    data = getattr(response, "data", None)  # a DRF Response's body before rendering
    body: dict[str, Any] = data if isinstance(data, dict) else {}
    entities = list(dict.fromkeys(_touched(body, response, kwargs)))
    stored = [reference for reference in entities if not _in_trail(reference)]
    concerned = patients | compartment_patients(stored) | set(_audit_event_patients(body))
    return AuditEntry(
        category=AuditCategory.REST,
        subtype=code,
        action=ACTIONS.get(code, "E"),
        status=response.status_code,
        access=access,
        outcome_text=_outcome_text(body),
        entities=tuple(entities),
        patients=tuple(sorted(concerned)),
        query=_query(request) if code in QUERY_ACTIONS else "",
        network=request.META.get("REMOTE_ADDR"),
    )


def _in_trail(reference: str) -> bool:
    """A reference to an audit event (served by the trail, not the store, so it has no compartment rows)."""
    return reference.partition("/")[0] in TRAIL_TYPES


def _access(request: Request) -> AccessContext | None:
    """The caller's context; None when it had no valid token (a 401 is audited too, with what little is known)."""
    return request_access(request) if request.auth is not None else None


def _touched(body: dict[str, Any], response: HttpResponseBase, kwargs: dict[str, Any]) -> Iterator[str]:
    """The resources the interaction returned, wrote or named."""
    named = named_instance(kwargs)
    if named is not None:
        yield named
    if body.get("resourceType") not in (None, "Bundle", "OperationOutcome") and "id" in body:
        yield f"{body['resourceType']}/{body['id']}"
    for entry in _bundle_entries(body):
        yield from _entry_reference(entry)
    location = response.get("Location")
    if location and (found := REFERENCE.search(location)):
        yield f"{found[1]}/{found[2]}"


def _bundle_entries(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(body.get("entry") or []) if body.get("resourceType") == "Bundle" else []


def _entry_reference(entry: dict[str, Any]) -> Iterator[str]:
    resource = entry.get("resource") or {}
    if resource.get("resourceType") not in (None, "OperationOutcome") and "id" in resource:
        yield f"{resource['resourceType']}/{resource['id']}"
        return
    location = (entry.get("response") or {}).get("location") or entry.get("fullUrl") or ""  # a history deletion
    if found := REFERENCE.search(location):
        yield f"{found[1]}/{found[2]}"


def _audit_event_patients(body: dict[str, Any]) -> Iterator[str]:
    """Reading the audit trail concerns the persons the events read are about (their Patient entities)."""
    events = [entry.get("resource") or {} for entry in _bundle_entries(body)] or [body]
    for event in events:
        if event.get("resourceType") != AUDIT_EVENT:
            continue
        for entity in event.get("entity") or []:
            reference = (entity.get("what") or {}).get("reference") or ""
            if reference.startswith("Patient/"):
                yield reference.removeprefix("Patient/")


def _outcome_text(body: dict[str, Any]) -> str:
    """The OperationOutcome's diagnostics; for a batch, how many entries failed."""
    if body.get("resourceType") == "OperationOutcome":
        return "; ".join(str(issue.get("diagnostics") or issue.get("code")) for issue in body.get("issue") or [])
    if body.get("type") in ("batch-response", "transaction-response"):
        entries = body.get("entry") or []
        failed = sum(1 for entry in entries if not str((entry.get("response") or {}).get("status", "")).startswith("2"))
        return f"{failed} of {len(entries)} entries failed" if failed else ""
    return ""


def _query(request: Request) -> str:
    """What a search or history asked: the path below the FHIR base and its parameters (URL and form)."""
    pairs = [(name, value) for name, values in request.query_params.lists() for value in values]
    try:
        form = request.data
    except APIException:  # a body that does not parse was refused already; the URL is what was asked
        form = None
    if isinstance(form, QueryDict):
        pairs += [(name, value) for name, values in form.lists() for value in values]
    path = request.path.split("/", 2)[2] if request.path.count("/") >= 2 else ""
    return f"{path}?{urlencode(pairs)}" if pairs else path
