"""Pull mode of the fhir connector: read a remote FHIR server by paged search or by Bulk $export.

Each page of a search and each file of an export is one message through the pipeline, exactly as an
ingested file is (`message_ingest`): its raw bytes kept first (streamed from the answer), then parsed and
stored, what fails quarantined; the same bytes pulled again are a no-op. Searches run in the order given and
an export's files in the connector's type order, so that conditional references find the masters and
patients stored before the resources that refer to them.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, quote, urljoin

from connectors.fhir.bulk_export import (
    ExportFile,
    ExportRequest,
    WaitHook,
    export_delete,
    export_kick_off,
    export_wait,
)
from connectors.fhir.connector import type_tier
from connectors.fhir.mapping import RESOURCE_TYPES
from connectors.fhir.parser import MAX_DOCUMENT_BYTES
from connectors.fhir.remote import FHIR_JSON, FHIR_NDJSON, PullError, Remote, json_check, media_type, url_shown
from connectors.models import InboundMessage, SourceSystem
from connectors.pipeline import IngestSummary, message_ingest
from connectors.raw_store import raw_store_open

DEFAULT_COUNT = 500  # _count of a search whose query does not set one
MAX_ORIGIN = 500  # InboundMessage.origin
STRICT = {"Prefer": "handling=strict"}  # a misspelt search parameter is an error, not a pull of everything
_QUERY_SAFE = "/?:@!$&'()*+,;=%|"  # what stays as typed in a search query; spaces and non-ASCII get encoded

ProgressHook = Callable[[int, int], None]  # (done, total): resources of a search, or files of an export


@dataclass(frozen=True)
class Search:
    resource_type: str
    query: str  # as it goes on the URL, without the `?`


def search_parse(text: str) -> Search:
    """`TYPE[?query]` as a Search; PullError when TYPE is not a FHIR R4 resource type."""
    resource_type, _, query = text.partition("?")
    if resource_type not in RESOURCE_TYPES:
        raise PullError(f"--search '{text}' does not start with a FHIR R4 resource type (Patient?_count=100)")
    return Search(resource_type, quote(query, safe=_QUERY_SAFE))


def search_url(base_url: str, search: Search) -> str:
    """The first page's URL: the query with `_count=DEFAULT_COUNT` unless it sets its own."""
    query = search.query
    if not any(name == "_count" for name, _ in parse_qsl(query, keep_blank_values=True)):
        query = f"{query}&_count={DEFAULT_COUNT}" if query else f"_count={DEFAULT_COUNT}"
    return f"{base_url}/{search.resource_type}?{query}"


def search_pull(
    *, source: SourceSystem, remote: Remote, search: Search, summary: IngestSummary, on_page: ProgressHook | None
) -> None:
    """Every page of one search, following Bundle.link `next` until there is none; counted in `summary`."""
    url: str | None = search_url(remote.base_url, search)
    followed: set[str] = set()
    matches = 0
    while url is not None:
        if url in followed:
            raise PullError(f"the next link of {url_shown(url)} leads back to a page already pulled")
        followed.add(url)
        with remote.open(url, accept=FHIR_JSON, headers=STRICT) as response:
            json_check(response, url)
            message = _ingest(source, response, f"pull:{url}", url, summary)  # the query says what was asked
        page = _searchset(message, url)
        entries = page.get("entry")
        matches += sum(1 for entry in entries if _is_match(entry)) if isinstance(entries, list) else 0
        total = page.get("total")
        if on_page is not None:
            on_page(matches, max(total, matches) if isinstance(total, int) else matches)
        url = _next_url(page, url)


def bulk_pull(
    *,
    source: SourceSystem,
    remote: Remote,
    request: ExportRequest,
    summary: IngestSummary,
    on_wait: WaitHook | None,
    on_file: ProgressHook | None,
) -> None:
    """Export, wait, then ingest the manifest's files: outputs in type order, then error files (whose
    OperationOutcomes are quarantined as the server's problems). The status URL is deleted at the end."""
    status_url = export_kick_off(remote=remote, request=request)
    try:
        manifest = export_wait(remote=remote, status_url=status_url, on_wait=on_wait)
        outputs = sorted(enumerate(manifest.output), key=lambda item: (type_tier(item[1].type), item[0]))
        files = [file for _, file in outputs] + list(manifest.error)
        for number, file in enumerate(files, start=1):
            _download(source, remote, file, manifest.requires_token, summary)
            if on_file is not None:
                on_file(number, len(files))
        if manifest.deleted:
            summary.first_errors.append(
                f"{source.code}: the export lists {manifest.deleted} file(s) of deleted resources, which pull does "
                "not apply"
            )
    finally:
        export_delete(remote=remote, status_url=status_url)


def _download(source: SourceSystem, remote: Remote, file: ExportFile, token: bool, summary: IngestSummary) -> None:
    with remote.open(file.url, accept=FHIR_NDJSON, token=token) as response:
        if media_type(response) == "text/html":
            raise PullError(f"{url_shown(file.url)} answered text/html, not the NDJSON of {file.type}")
        _ingest(source, response, f"pull:{url_shown(file.url)}", file.url, summary)  # no signed URL's query


def _ingest(source: SourceSystem, stream: BinaryIO, origin: str, url: str, summary: IngestSummary) -> InboundMessage:
    """The answer as one message, streamed into the raw store and processed."""
    try:
        return message_ingest(source=source, stream=stream, origin=origin[:MAX_ORIGIN], summary=summary)
    except (OSError, http.client.HTTPException) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise PullError(f"the download of {url_shown(url)} broke off: {reason}") from None


def _searchset(message: InboundMessage, url: str) -> dict[str, Any]:
    """The page as kept in the raw store, for its links; PullError when it is not a searchset Bundle (the
    message itself has been processed, and its problems quarantined, by then)."""
    if message.size > MAX_DOCUMENT_BYTES:
        raise PullError(f"a page of {url_shown(url)} is larger than {MAX_DOCUMENT_BYTES:,} bytes: ask a smaller _count")
    with raw_store_open(message.sha256) as data:
        try:
            page = json.load(data)
        except ValueError:
            page = None
    if not isinstance(page, dict) or page.get("resourceType") != "Bundle" or page.get("type") != "searchset":
        what = _described(page)
        raise PullError(f"{url_shown(url)} answered {what}, not a searchset Bundle (kept as message {message.pk})")
    return page


def _described(value: Any) -> str:
    if not isinstance(value, dict):
        return "something that is not a JSON object"
    if value.get("resourceType") == "Bundle":
        return f"a {value.get('type')} Bundle"
    return f"a resource of type {value.get('resourceType')}"


def _is_match(entry: Any) -> bool:
    search = entry.get("search") if isinstance(entry, dict) else None
    return not isinstance(search, dict) or search.get("mode", "match") == "match"


def _next_url(page: dict[str, Any], url: str) -> str | None:
    links = page.get("link")
    for link in links if isinstance(links, list) else []:
        target = link.get("url") if isinstance(link, dict) and link.get("relation") == "next" else None
        if isinstance(target, str) and target:
            return urljoin(url, target)
    return None
