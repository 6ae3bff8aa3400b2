"""read and vread."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from federation.api.http import served_type, version_headers
from federation.api.routing import Interaction, InteractionView
from federation.api.views.access import request_access
from federation.search.selectors import resource_read, resource_vread


class ReadView(InteractionView):
    interactions = (Interaction("read", "instance"),)

    def get(self, request: Request, resource_type: str, logical_id: str) -> Response:
        version = resource_read(
            access=request_access(request), resource_type=served_type(resource_type), logical_id=logical_id
        )
        response = Response(version.content)
        version_headers(response, version)
        return response


class VReadView(InteractionView):
    interactions = (Interaction("vread", "instance"),)

    def get(self, request: Request, resource_type: str, logical_id: str, version_id: int) -> Response:
        version = resource_vread(
            access=request_access(request),
            resource_type=served_type(resource_type),
            logical_id=logical_id,
            version_id=version_id,
        )
        response = Response(version.content)
        version_headers(response, version)
        return response
