"""GET /fhir/metadata: the CapabilityStatement (public, no token needed)."""

from __future__ import annotations

from importlib.metadata import version

from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.instant import format_instant
from federation.api.capability import capability_statement
from federation.api.http import base_url


class CapabilityView(APIView):
    def get(self, request: Request) -> Response:
        statement = capability_statement(
            base=base_url(request),
            software_version=version("tsunagi"),
            date=format_instant(timezone.now()),
        )
        return Response(statement)
