"""The client side of a FHIR Bulk Data Access (v2) export: kick-off, status polling, the manifest, DELETE.

Kick-off asks `[base]/$export` (or `[base]/Patient/$export`) with `Prefer: respond-async` and expects
202 Accepted with the status URL in Content-Location. The status URL answers 202 while the export runs
(X-Progress says how far, Retry-After when to ask again; without it the wait doubles from 1 s up to 60 s),
429 when asked too often, an error status with an OperationOutcome when the export failed, and 200 with the
manifest when the files are ready. Downloading the files is pull.py's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from time import sleep
from typing import Any
from urllib.parse import urlencode, urljoin

from connectors.fhir.mapping import RESOURCE_TYPES
from connectors.fhir.remote import FHIR_JSON, AnswerError, PullError, Remote, json_check, json_read, url_shown

EXPORT_PATHS = {"system": "$export", "patient": "Patient/$export"}
FIRST_POLL_WAIT = 1.0  # seconds, doubled up to MAX_POLL_WAIT while the server gives no Retry-After
MAX_POLL_WAIT = 60.0
MAX_RETRY_AFTER = 3600.0  # a longer Retry-After is taken as this
PROGRESS_LIMIT = 100  # characters of X-Progress shown
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})")

WaitHook = Callable[[str], None]  # called with the server's X-Progress text when it changes


@dataclass(frozen=True)
class ExportRequest:
    """What to export: `level` is a key of EXPORT_PATHS; `types` (_type) and `since` (_since) narrow it."""

    level: str = "system"
    types: tuple[str, ...] = ()
    since: str | None = None


@dataclass(frozen=True)
class ExportFile:
    type: str
    url: str


@dataclass(frozen=True)
class Manifest:
    output: tuple[ExportFile, ...]
    error: tuple[ExportFile, ...]  # NDJSON of OperationOutcomes: what the server could not export
    deleted: int  # files of deleted resources (v2, with _since), which pull does not apply
    requires_token: bool


def export_request(*, level: str, types: str, since: str | None) -> ExportRequest:
    """The request from the command's words; PullError for an unknown level or type, or a malformed instant."""
    if level not in EXPORT_PATHS:
        raise PullError(f"unknown export level '{level}' (one of: {', '.join(EXPORT_PATHS)})")
    names = tuple(name.strip() for name in types.split(",") if name.strip())
    unknown = [name for name in names if name not in RESOURCE_TYPES]
    if unknown:
        raise PullError(f"--type names no FHIR R4 resource type: {', '.join(unknown)}")
    if since is not None and not _INSTANT.fullmatch(since):
        raise PullError(f"--since '{since}' is not a FHIR instant such as 2026-11-01T00:00:00+09:00")
    return ExportRequest(level=level, types=names, since=since)


def export_kick_off(*, remote: Remote, request: ExportRequest) -> str:
    """Start the export; the status URL to poll."""
    query = [("_type", ",".join(request.types))] if request.types else []
    query += [("_since", request.since)] if request.since else []
    url = f"{remote.base_url}/{EXPORT_PATHS[request.level]}" + (f"?{urlencode(query, safe=',')}" if query else "")
    with remote.open(url, accept=FHIR_JSON, headers={"Prefer": "respond-async"}) as response:
        json_check(response, url)
        if response.status != 202:
            raise PullError(
                f"{url_shown(url)} answered {response.status} instead of 202 Accepted: the server does not run "
                "Bulk $export asynchronously"
            )
        location = response.headers.get("Content-Location")
    if not location:
        raise PullError(f"{url_shown(url)} accepted the export but sent no Content-Location to poll")
    return urljoin(url, location)


def export_wait(*, remote: Remote, status_url: str, on_wait: WaitHook | None = None) -> Manifest:
    """Poll the status URL until the export is done; its manifest. PullError when the export failed."""
    backoff = FIRST_POLL_WAIT
    shown = ""
    while True:
        try:
            with remote.open(status_url, accept="application/json") as response:
                if response.status == 200:
                    return _manifest(json_read(response, status_url), status_url)
                if response.status != 202:
                    raise PullError(f"{url_shown(status_url)} answered {response.status}, not 202 or 200")
                progress = _shown(response.headers.get("X-Progress", ""))
                wait = _retry_after(response.headers)
        except AnswerError as error:
            if error.status != 429:
                raise PullError(f"the export failed: {error}") from None
            progress, wait = shown, _retry_after(error.headers)
        if progress != shown and on_wait is not None:
            on_wait(progress)
        shown = progress
        if wait is None:
            wait, backoff = backoff, min(backoff * 2, MAX_POLL_WAIT)
        sleep(wait)


def export_delete(*, remote: Remote, status_url: str) -> None:
    """Tell the server it may drop the export's files; a courtesy, so a failure is let go."""
    try:
        with remote.open(status_url, accept=FHIR_JSON, method="DELETE"):
            pass
    except PullError:
        pass


def _shown(text: str) -> str:
    """The server's progress text, fit for one terminal line (no control characters)."""
    printable = "".join(character if character.isprintable() else " " for character in text)
    return " ".join(printable.split())[:PROGRESS_LIMIT]


def _retry_after(headers: Message) -> float | None:
    """Seconds to wait from Retry-After (seconds or an HTTP date); None when absent or unreadable."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_AFTER)


def _manifest(value: Any, url: str) -> Manifest:
    if not isinstance(value, dict) or not isinstance(value.get("output"), list):
        raise PullError(f"{url_shown(url)} answered JSON that is not a Bulk export manifest (it has no output list)")
    deleted = value.get("deleted")
    return Manifest(
        output=_files(value, "output", url),
        error=_files(value, "error", url),
        deleted=len(deleted) if isinstance(deleted, list) else 0,
        requires_token=value.get("requiresAccessToken") is True,
    )


def _files(manifest: dict[str, Any], key: str, url: str) -> tuple[ExportFile, ...]:
    items = manifest.get(key) or []
    if not isinstance(items, list):
        raise PullError(f"the manifest of {url_shown(url)} has a {key} that is not a list")
    files = []
    for index, item in enumerate(items):
        if not (isinstance(item, dict) and isinstance(item.get("type"), str) and isinstance(item.get("url"), str)):
            raise PullError(f"the manifest of {url_shown(url)} has a {key}[{index}] without type and url")
        files.append(ExportFile(item["type"], urljoin(url, item["url"])))
    return tuple(files)
