"""Every FHIR interaction needs a bearer token whose SMART scopes allow it on the types it touches (the
CapabilityStatement stays public). What a token may see inside a type is consent's filter, in the selectors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from consent.facade import interaction_allowed
from federation.api.views.access import request_access

# FHIR interaction -> SMART v2 permission letter
LETTERS = {
    "read": "r", "vread": "r", "history-instance": "r",
    "search-type": "s", "search-compartment": "s", "search-system": "s", "history-type": "s", "history-system": "s",
    "create": "c", "conditional-create": "c",
    "update": "u", "conditional-update": "u",
    "delete": "d", "conditional-delete": "d",
}  # fmt: skip
METHOD_LETTERS = {"POST": "c", "PUT": "u", "PATCH": "u", "DELETE": "d"}


class ScopesAllowInteraction(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if request.auth is None:
            raise NotAuthenticated(
                "This server needs a bearer token from its SMART authorisation server "
                "(see /.well-known/smart-configuration)."
            )
        access = request_access(request)
        for resource_type, letter in needed(request, view):
            if not interaction_allowed(access, resource_type, letter):
                target = resource_type or "every resource type"
                raise PermissionDenied(f"The token's scopes do not allow '{letter}' on {target}.")
        return True


def needed(request: Request, view: Any) -> Iterator[tuple[str | None, str]]:
    """(resource type or None for every type, SMART letter) pairs the request needs."""
    if view.operation is not None:
        yield view.operation.resource_type, "s"  # $match searches Patients
        return
    codes = {interaction.code for interaction in view.interactions}
    if codes & {"transaction", "batch"}:
        yield from _bundle_needs(request.data)
        return
    kwargs = view.kwargs
    letter = LETTERS[next(iter(sorted(codes)))]
    resource_type = kwargs.get("compartment_type") or kwargs.get("resource_type") or view.served_type
    if resource_type is None and letter == "s" and request.query_params.get("_type"):
        for named in request.query_params["_type"].split(","):
            yield named.strip(), letter
        return
    yield resource_type, letter


def _bundle_needs(bundle: Any) -> Iterator[tuple[str | None, str]]:
    """Each entry's type and interaction; an entry without a readable request is left to the Bundle's own
    validation, which refuses it before anything is written."""
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict) or not isinstance(request.get("url"), str):
            continue
        path = request["url"].split("?")[0].strip("/").split("/")
        method = str(request.get("method", "")).upper()
        if method == "GET":
            yield path[0] or None, "r" if len(path) > 1 else "s"
        elif method in METHOD_LETTERS:
            yield path[0] or None, METHOD_LETTERS[method]
