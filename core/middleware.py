"""Bound the FHIR request body before anything reads it, with or without a Content-Length."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse

from core.outcome import FhirError, Issue

DRAIN_BYTES = 1024 * 1024


class FhirBodySizeLimitMiddleware:
    """413 with an OperationOutcome when a body exceeds FHIR_MAX_BODY_BYTES.

    A chunked body (no Content-Length) is read up to the limit here and handed on as if it had
    one: Django would otherwise see it as empty.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.prefix = f"/{settings.FHIR_BASE_PATH}"

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(self.prefix):
            limit = settings.FHIR_MAX_BODY_BYTES
            if self._declared_length(request) > limit or (
                self._is_chunked(request) and not self._buffer(request, limit)
            ):
                error = too_large(limit)
                return HttpResponse(
                    json.dumps(error.outcome()), status=error.status, content_type="application/fhir+json"
                )
        return self.get_response(request)

    @staticmethod
    def _declared_length(request: HttpRequest) -> int:
        try:
            return int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return 0

    @staticmethod
    def _is_chunked(request: HttpRequest) -> bool:
        return not request.META.get("CONTENT_LENGTH") and bool(request.META.get("wsgi.input_terminated"))

    @staticmethod
    def _buffer(request: HttpRequest, limit: int) -> bool:
        """Read a chunked body (at most limit + 1 bytes); False when it is over the limit.

        Past the limit, up to DRAIN_BYTES more are read and dropped, so a client that overshoots
        by a little gets its 413 rather than a connection reset while it is still sending.
        """
        stream = request.META["wsgi.input"]
        body = stream.read(limit + 1)
        if len(body) > limit:
            drained = 0
            while drained < DRAIN_BYTES and (chunk := stream.read(64 * 1024)):
                drained += len(chunk)
            return False
        request.META["CONTENT_LENGTH"] = str(len(body))
        request._stream = LimitedStream(io.BytesIO(body), len(body))  # type: ignore[assignment]
        return True


def too_large(limit: int) -> FhirError:
    return FhirError(413, Issue("too-costly", f"Request body is larger than the limit of {limit} bytes."))
