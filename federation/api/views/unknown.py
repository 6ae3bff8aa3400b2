"""Any path below the FHIR base that no route serves."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.outcome import not_found


class UnknownRouteView(APIView):
    def dispatch_unknown(self, request: Request) -> Response:
        raise not_found(f"No FHIR interaction at {request.path}.")

    get = post = put = delete = patch = head = dispatch_unknown
