"""Reject an oversized FHIR request body before anything reads it."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.parsers import too_large


class FhirBodySizeLimitMiddleware:
    """413 with an OperationOutcome when Content-Length exceeds FHIR_MAX_BODY_BYTES.

    Bodies without a length (chunked) are bounded by the parser, which reads at most the limit.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.prefix = f"/{settings.FHIR_BASE_PATH}"

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(self.prefix):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = settings.FHIR_MAX_BODY_BYTES
            if length > limit:
                error = too_large(limit)
                return HttpResponse(
                    json.dumps(error.outcome()), status=error.status, content_type="application/fhir+json"
                )
        return self.get_response(request)
