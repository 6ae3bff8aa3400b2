"""The access context of an API request (the seam where authorisation will plug in)."""

from __future__ import annotations

from rest_framework.request import Request

from consent.contracts import AccessContext


def request_access(request: Request) -> AccessContext:
    """Until login and SMART authorisation land, the API acts as the platform itself."""
    return AccessContext.system(purpose="fhir-api")
