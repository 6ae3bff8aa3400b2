"""The access context of an API request: who the bearer token speaks for and with which scopes."""

from __future__ import annotations

from rest_framework.request import Request

from consent.contracts import AccessContext
from consent.facade import access_for_token


def request_access(request: Request) -> AccessContext:
    """The context of the request's token (ScopesAllowInteraction has refused requests without one)."""
    return access_for_token(request.auth)
