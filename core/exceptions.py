"""DRF exception handler: every failure on the FHIR API becomes an OperationOutcome."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from core.outcome import FhirError, Issue, operation_outcome

logger = logging.getLogger(__name__)

_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    413: "too-costly",
    415: "not-supported",
    429: "throttled",
}


def fhir_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, FhirError):
        return Response(exc.outcome(), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found")
    if isinstance(exc, exceptions.APIException):
        status = exc.status_code
        issue = Issue(_ISSUE_CODES.get(status, "processing"), _detail_text(exc.detail))
        headers = {}
        if auth_header := getattr(exc, "auth_header", None):  # set by DRF on a 401: the Bearer challenge
            headers["WWW-Authenticate"] = auth_header
        if wait := getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(wait))
        return Response(operation_outcome([issue]), status=status, headers=headers)
    # Type and frames only: an exception's message may quote personal data from the request.
    logger.error(
        "Unhandled %s in %s\n%s",
        type(exc).__name__,
        type(context.get("view")).__name__,
        "".join(traceback.format_tb(exc.__traceback__)),
    )
    issue = Issue("exception", "Internal server error; the request was not applied.", severity="fatal")
    return Response(operation_outcome([issue]), status=500)


def _detail_text(detail: Any) -> str:
    if isinstance(detail, list):
        return "; ".join(_detail_text(item) for item in detail)
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_detail_text(value)}" for key, value in detail.items())
    return str(detail)
