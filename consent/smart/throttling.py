"""Rate limits per bearer token (DRF throttling on the shared cache): a token that sends more than
FHIR_TOKEN_RATE requests gets 429 with Retry-After, whichever web process it reaches."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


class PerTokenRateThrottle(SimpleRateThrottle):
    scope = "token"

    def get_rate(self) -> str | None:
        return str(settings.FHIR_TOKEN_RATE) or None

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        token = request.auth
        if token is None:
            return None  # refused as unauthenticated before any work is done
        return self.cache_format % {"scope": self.scope, "ident": token.pk}
