"""Route one URL to one view class per FHIR interaction, chosen by HTTP method.

The interactions each route serves are also what the CapabilityStatement advertises, so the
statement cannot claim an interaction that is not routed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.views import APIView

from consent.facade import BearerTokenAuthentication, PerTokenRateThrottle, audit_record
from core.outcome import Issue, operation_outcome
from federation.api.auditing import interaction_entry, patients_before
from federation.api.authorisation import ScopesAllowInteraction

logger = logging.getLogger(__name__)
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class Interaction:
    """A FHIR interaction served at some route: `level` is system, type or instance."""

    code: str
    level: str


@dataclass(frozen=True)
class Operation:
    """A FHIR operation served at some route: on `resource_type`, named `$name`, defined at `definition`."""

    resource_type: str
    name: str
    definition: str


class InteractionView(APIView):
    """Base of every FHIR view: subclasses name their `interactions` (or their `operation`) and implement one
    handler."""

    interactions: tuple[Interaction, ...]
    operation: Operation | None = None
    served_type: str | None = None  # the one resource type a view serves on a route of its own (AuditEvent)
    search_parameters: tuple[str, ...] = ()  # such a view's search parameters (the others search the registry's)
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [ScopesAllowInteraction]
    throttle_classes = [PerTokenRateThrottle]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Run the interaction and append its audit entry in one transaction: the entry commits with the work,
        and when it cannot be written the work is undone and the request fails."""
        try:
            with transaction.atomic():
                own_type = self.served_type or (self.operation.resource_type if self.operation else None)
                named = {"resource_type": own_type, **kwargs} if own_type else kwargs
                patients = patients_before(request, named)
                with transaction.atomic():  # what a refused request did is undone, its audit entry is kept
                    response = super().dispatch(request, *args, **kwargs)
                    if response.status_code >= 400:
                        transaction.set_rollback(True)
                code = self.audit_code(self.request)
                audit_record(
                    entry=interaction_entry(self.request, response, code=code, kwargs=named, patients=patients)
                )
        except DatabaseError as error:
            logger.error("The audit entry could not be written (%s); the request is refused.", type(error).__name__)
            issue = Issue("exception", "The access could not be audited; the request was not applied.", "fatal")
            return HttpResponse(json.dumps(operation_outcome([issue])), status=500, content_type=FHIR_JSON)
        return response

    def audit_code(self, request: Request) -> str:
        """The interaction this request performed, as the audit trail names it ("$name" for an operation)."""
        if self.operation is not None:
            return f"${self.operation.name}"
        codes = [interaction.code for interaction in self.interactions]
        if "conditional-create" in codes and request.META.get("HTTP_IF_NONE_EXIST"):
            return "conditional-create"
        if "transaction" in codes:
            try:
                bundle_type = request.data.get("type") if isinstance(request.data, dict) else None
            except APIException:  # a body that does not parse was refused; call it what the route serves first
                bundle_type = None
            return bundle_type if bundle_type in codes else codes[0]
        return codes[0]


@dataclass(frozen=True)
class InteractionRoute:
    """The view to call for each HTTP method at one URL pattern."""

    views: dict[str, type[InteractionView]]

    def as_view(self) -> Callable[..., HttpResponse]:
        handlers = {method: view.as_view() for method, view in self.views.items()}

        def dispatch(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            handler = handlers.get(request.method or "")
            if handler is None:
                return method_not_allowed(request, sorted(handlers))
            return handler(request, *args, **kwargs)

        # Token-authenticated API, no cookies: CSRF does not apply (DRF views are exempt too).
        return csrf_exempt(dispatch)

    def interactions(self, served_type: str | None = None) -> list[Interaction]:
        """The interactions of the views serving `served_type` (None: the store's types)."""
        return [
            interaction
            for view in self.views.values()
            if view.served_type == served_type
            for interaction in view.interactions
        ]

    def operations(self) -> list[Operation]:
        return [view.operation for view in self.views.values() if view.operation is not None]


def method_not_allowed(request: HttpRequest, allowed: list[str]) -> HttpResponse:
    issue = Issue("not-supported", f"{request.method} is not supported here; allowed: {', '.join(allowed)}.")
    response = HttpResponse(json.dumps(operation_outcome([issue])), status=405, content_type=FHIR_JSON)
    response["Allow"] = ", ".join(allowed)
    return response
