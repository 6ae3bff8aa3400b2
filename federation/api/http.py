"""HTTP details of the FHIR API shared by the views: Prefer, ETags, headers, base URL, parameters."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response

from core.instant import format_http_date
from core.outcome import FhirError, Issue, informational, invalid
from federation.contracts import StoredVersion, WriteResult
from federation.fhir.spec import served_resource_types

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 20


def served_type(resource_type: str) -> str:
    """404 for a type this server does not store (unknown, or an R4 type R4B dropped)."""
    if resource_type not in served_resource_types():
        raise FhirError(404, Issue("not-supported", f"Unknown resource type '{resource_type}'."))
    return resource_type


def base_url(request: Request) -> str:
    """The FHIR base, from FHIR_BASE_URL when set (behind a proxy), else from the request."""
    configured: str = getattr(settings, "FHIR_BASE_URL", "")
    if configured:
        return configured.rstrip("/")
    return request.build_absolute_uri(f"/{settings.FHIR_BASE_PATH}")


def prefer_return(request: Request) -> str:
    """Prefer: return=minimal | representation (default) | OperationOutcome."""
    match = re.search(r"return\s*=\s*\"?([A-Za-z]+)", request.META.get("HTTP_PREFER", ""))
    return match[1] if match and match[1] in ("minimal", "representation", "OperationOutcome") else "representation"


def expected_version(request: Request) -> int | None:
    """The version an If-Match header names (W/"3" or "3"), or None."""
    header = request.META.get("HTTP_IF_MATCH")
    if header is None:
        return None
    match = re.fullmatch(r'(?:W/)?"(\d+)"', header.strip())
    if match is None:
        raise invalid(f"If-Match '{header}' is not a version ETag such as W/\"3\".")
    return int(match[1])


def resource_response(
    request: Request, version: StoredVersion, *, status: int, location: bool = False, message: str = ""
) -> Response:
    """A response for one stored version with ETag, Last-Modified, (Location) and the Prefer'd body."""
    preference = prefer_return(request)
    body: dict[str, Any] | None
    if preference == "minimal":
        body = None
    elif preference == "OperationOutcome":
        body = informational(message or f"{version.version_url}: {status}")
    else:
        body = version.content
    response = Response(body, status=status)
    version_headers(response, version)
    if location:
        response["Location"] = f"{base_url(request)}/{version.version_url}"
    return response


def write_response(request: Request, result: WriteResult) -> Response:
    """201 with Location when the write created the resource, else 200."""
    return resource_response(request, result.version, status=201 if result.created else 200, location=result.created)


def version_headers(response: Response, version: StoredVersion) -> None:
    response["ETag"] = version.etag
    response["Last-Modified"] = format_http_date(version.last_updated)


def page_size(request: Request) -> int:
    raw = request.query_params.get("_count")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not raw.isdigit():
        raise invalid(f"_count must be a whole number, not '{raw}'.", expression="_count")
    return max(1, min(int(raw), MAX_PAGE_SIZE))


def since_parameter(request: Request) -> datetime | None:
    raw = request.query_params.get("_since")
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as error:
        raise invalid(f"_since must be a FHIR instant such as 2026-01-31T09:00:00+09:00, not '{raw}'.") from error
    if moment.tzinfo is None:
        raise invalid(f"_since '{raw}' needs a time zone (an instant).", expression="_since")
    return moment


def url_parameters(request: Request) -> list[tuple[str, str]]:
    """The URL's query parameters, decoded as UTF-8 (WSGI hands raw bytes over as Latin-1)."""
    return [(name, value) for name, values in request.query_params.lists() for value in values]


def header_text(request: Request, name: str) -> str | None:
    """A header as the UTF-8 text the client sent (WSGI decodes header bytes as Latin-1)."""
    value = request.META.get(name)
    if value is None:
        return None
    try:
        return str(value).encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return str(value)
