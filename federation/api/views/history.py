"""history at instance, type and system level, with _since, _count and keyset paging."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from rest_framework.request import Request
from rest_framework.response import Response

from core.instant import format_instant
from federation.api.http import base_url, page_size, served_type, since_parameter
from federation.api.routing import Interaction, InteractionView
from federation.api.views.access import request_access
from federation.contracts import HistoryPage, StoredVersion
from federation.models import WriteMethod
from federation.search.searchset import PAGE_TOKEN
from federation.search.selectors import resource_history


def history_response(request: Request, *, resource_type: str | None = None, logical_id: str | None = None) -> Response:
    count = page_size(request)
    page = resource_history(
        access=request_access(request),
        resource_type=resource_type,
        logical_id=logical_id,
        since=since_parameter(request),
        count=count,
        page_token=request.query_params.get(PAGE_TOKEN),
    )
    return Response(_history_bundle(request, page))


def _history_bundle(request: Request, page: HistoryPage) -> dict[str, Any]:
    base = base_url(request)
    self_url = request.build_absolute_uri()
    links = [{"relation": "self", "url": self_url}]
    if page.next_token:
        kept = [(key, value) for key, value in request.query_params.items() if key != PAGE_TOKEN]
        query = urlencode([*kept, (PAGE_TOKEN, page.next_token)])
        links.append({"relation": "next", "url": f"{request.build_absolute_uri(request.path)}?{query}"})
    return {
        "resourceType": "Bundle",
        "type": "history",
        "link": links,
        "entry": [_history_entry(base, version) for version in page.versions],
    }


def _history_entry(base: str, version: StoredVersion) -> dict[str, Any]:
    entry: dict[str, Any] = {"fullUrl": f"{base}/{version.relative_url}"}
    if version.content is not None:
        entry["resource"] = version.content
    request_url = version.resource_type if version.method == WriteMethod.POST else version.relative_url
    status = {"POST": "201 Created", "PUT": "201 Created" if version.version_id == 1 else "200 OK"}.get(
        version.method, "204 No Content"
    )
    entry["request"] = {"method": version.method, "url": request_url}
    entry["response"] = {
        "status": status,
        "etag": version.etag,
        "lastModified": format_instant(version.last_updated),
    }
    return entry


class InstanceHistoryView(InteractionView):
    interactions = (Interaction("history-instance", "instance"),)

    def get(self, request: Request, resource_type: str, logical_id: str) -> Response:
        return history_response(request, resource_type=served_type(resource_type), logical_id=logical_id)


class TypeHistoryView(InteractionView):
    interactions = (Interaction("history-type", "type"),)

    def get(self, request: Request, resource_type: str) -> Response:
        return history_response(request, resource_type=served_type(resource_type))


class SystemHistoryView(InteractionView):
    interactions = (Interaction("history-system", "system"),)

    def get(self, request: Request) -> Response:
        return history_response(request)
