"""create, update, delete and their conditional forms."""

from __future__ import annotations

from urllib.parse import urlencode

from rest_framework.request import Request
from rest_framework.response import Response

from core.outcome import informational, invalid
from federation.api.http import (
    expected_version,
    header_text,
    prefer_return,
    served_type,
    url_parameters,
    version_headers,
    write_response,
)
from federation.api.routing import Interaction, InteractionView
from federation.api.views.access import request_access
from federation.contracts import WriteResult
from federation.storage import services


class CreateView(InteractionView):
    """POST Type, with If-None-Exist for conditional create."""

    interactions = (Interaction("create", "type"), Interaction("conditional-create", "type"))

    def post(self, request: Request, resource_type: str) -> Response:
        served_type(resource_type)
        access = request_access(request)
        criteria = header_text(request, "HTTP_IF_NONE_EXIST")
        if criteria:
            result = services.resource_create_conditional(
                access=access, resource=request.data, criteria=criteria, expected_type=resource_type
            )
        else:
            result = services.resource_create(access=access, resource=request.data, expected_type=resource_type)
        return write_response(request, result)


class UpdateView(InteractionView):
    """PUT Type/id: a new version, or update-as-create for a new id; If-Match for versioned update."""

    interactions = (Interaction("update", "instance"),)

    def put(self, request: Request, resource_type: str, logical_id: str) -> Response:
        result = services.resource_update(
            access=request_access(request),
            resource_type=served_type(resource_type),
            logical_id=logical_id,
            resource=request.data,
            expected_version=expected_version(request),
        )
        return write_response(request, result)


class ConditionalUpdateView(InteractionView):
    """PUT Type?criteria."""

    interactions = (Interaction("conditional-update", "type"),)

    def put(self, request: Request, resource_type: str) -> Response:
        criteria = urlencode(url_parameters(request))
        if not criteria:
            raise invalid("PUT to a type needs search criteria (conditional update) or an id in the URL.")
        result = services.resource_update_conditional(
            access=request_access(request),
            resource_type=served_type(resource_type),
            criteria=criteria,
            resource=request.data,
        )
        return write_response(request, result)


class DeleteView(InteractionView):
    """DELETE Type/id: 204, or 200 with an OperationOutcome when Prefer asks for one."""

    interactions = (Interaction("delete", "instance"),)

    def delete(self, request: Request, resource_type: str, logical_id: str) -> Response:
        result = services.resource_delete(
            access=request_access(request), resource_type=served_type(resource_type), logical_id=logical_id
        )
        return _delete_response(request, result, f"{resource_type}/{logical_id}")


class ConditionalDeleteView(InteractionView):
    """DELETE Type?criteria: deletes the one match (412 when several match, 204 when none)."""

    interactions = (Interaction("conditional-delete", "type"),)

    def delete(self, request: Request, resource_type: str) -> Response:
        criteria = urlencode(url_parameters(request))
        if not criteria:
            raise invalid("DELETE on a type needs search criteria (conditional delete) or an id in the URL.")
        result = services.resource_delete_conditional(
            access=request_access(request), resource_type=served_type(resource_type), criteria=criteria
        )
        return _delete_response(request, result, f"{resource_type}?{criteria}")


def _delete_response(request: Request, result: WriteResult | None, target: str) -> Response:
    message = f"{target} " + ("deleted." if result else "matched nothing; nothing to delete.")
    if prefer_return(request) == "OperationOutcome":
        response = Response(informational(message), status=200)
    else:
        response = Response(status=204)
    if result is not None:
        version_headers(response, result.version)
    return response
