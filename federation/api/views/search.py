"""search-type (GET and POST _search), compartment search and search-system."""

from __future__ import annotations

from django.db.models import Q
from django.http import QueryDict
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.outcome import invalid, not_found
from federation.api.http import base_url, served_type, url_parameters
from federation.api.routing import Interaction, InteractionView
from federation.api.views.access import request_access
from federation.fhir.spec import TRAIL_TYPES, served_resource_types
from federation.search.compartments import in_compartment
from federation.search.query import parse_query
from federation.search.searching import resource_search
from federation.search.searchset import searchset_bundle

COMMON_TYPE = "Resource"  # the registry's entry for parameters every type has


def search_response(
    request: Request,
    pairs: list[tuple[str, str]],
    *,
    search_type: str,
    types: tuple[str, ...],
    path: str,
    scope: Q | None = None,
) -> Response:
    query = parse_query(search_type, pairs)
    if query.unknown and _is_strict(request):
        raise invalid(f"Unknown search parameters for {search_type}: {', '.join(query.unknown)}.")
    result = resource_search(access=request_access(request), query=query, types=types, scope=scope)
    return Response(searchset_bundle(base=base_url(request), path=path, query=query, result=result))


def _is_strict(request: Request) -> bool:
    return "handling=strict" in request.META.get("HTTP_PREFER", "").replace(" ", "")


class TypeSearchView(InteractionView):
    """GET /fhir/{type}?params."""

    interactions = (Interaction("search-type", "type"),)

    def get(self, request: Request, resource_type: str) -> Response:
        served_type(resource_type)
        pairs = url_parameters(request)
        return search_response(request, pairs, search_type=resource_type, types=(resource_type,), path=resource_type)


class TypeSearchPostView(InteractionView):
    """POST /fhir/{type}/_search with a form body (and/or URL parameters)."""

    interactions = (Interaction("search-type", "type"),)
    parser_classes = [FormParser]

    def post(self, request: Request, resource_type: str) -> Response:
        served_type(resource_type)
        form = request.data if isinstance(request.data, QueryDict) else QueryDict()
        pairs = url_parameters(request) + [(name, value) for name, values in form.lists() for value in values]
        return search_response(request, pairs, search_type=resource_type, types=(resource_type,), path=resource_type)


class CompartmentSearchView(InteractionView):
    """GET /fhir/Patient/{id}/{type}: a type search limited to one patient's compartment."""

    interactions = (Interaction("search-compartment", "instance"),)

    def get(self, request: Request, resource_type: str, logical_id: str, compartment_type: str) -> Response:
        if resource_type not in ("Patient",):
            raise not_found(f"{resource_type} is not a compartment this server serves; use Patient.")
        served_type(compartment_type)
        scope = in_compartment(resource_type, logical_id, compartment_type)
        if scope is None:
            raise invalid(f"{compartment_type} is not in the {resource_type} compartment.")
        pairs = url_parameters(request)
        path = f"{resource_type}/{logical_id}/{compartment_type}"
        return search_response(
            request, pairs, search_type=compartment_type, types=(compartment_type,), path=path, scope=scope
        )


class SystemSearchView(InteractionView):
    """GET /fhir?_type=A,B&params: only the parameters every resource has (_id, _lastUpdated, _tag...)."""

    interactions = (Interaction("search-system", "system"),)

    def get(self, request: Request) -> Response:
        pairs = url_parameters(request)
        requested = [name for key, value in pairs if key == "_type" for name in value.split(",") if name]
        unknown = [name for name in requested if name not in served_resource_types()]
        if unknown:
            raise invalid(f"_type names unknown resource types: {', '.join(unknown)}.")
        trail = [name for name in requested if name in TRAIL_TYPES]
        if trail:
            raise invalid(f"{', '.join(trail)} is the audit trail: search it at its own URL, /fhir/{trail[0]}.")
        types = tuple(requested) if requested else tuple(sorted(served_resource_types()))
        search_type = types[0] if len(types) == 1 else COMMON_TYPE
        return search_response(request, pairs, search_type=search_type, types=types, path="")
