"""Route one URL to one view class per FHIR interaction, chosen by HTTP method.

The interactions each route serves are also what the CapabilityStatement advertises, so the
statement cannot claim an interaction that is not routed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.views import APIView

from consent.facade import BearerTokenAuthentication, PerTokenRateThrottle
from core.outcome import Issue, operation_outcome
from federation.api.authorisation import ScopesAllowInteraction


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
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [ScopesAllowInteraction]
    throttle_classes = [PerTokenRateThrottle]


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

    def interactions(self) -> list[Interaction]:
        return [interaction for view in self.views.values() for interaction in view.interactions]

    def operations(self) -> list[Operation]:
        return [view.operation for view in self.views.values() if view.operation is not None]


def method_not_allowed(request: HttpRequest, allowed: list[str]) -> HttpResponse:
    issue = Issue("not-supported", f"{request.method} is not supported here; allowed: {', '.join(allowed)}.")
    response = HttpResponse(json.dumps(operation_outcome([issue])), status=405, content_type="application/fhir+json")
    response["Allow"] = ", ".join(allowed)
    return response
