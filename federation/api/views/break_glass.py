"""Patient/{id}/$break-the-glass: a clinician declares emergency treatment for the person, with a reason, to pass
their deny provisions for a limited time (consent.break_glass; docs/consent.md)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from consent.facade import access_forget, break_glass_declare
from core.outcome import invalid
from federation.api.routing import InteractionView, Operation
from federation.api.views.access import request_access

DEFINITION = "https://tsunagi.example.jp/fhir/OperationDefinition/Patient-break-the-glass"
PARAMETERS = ("reason", "hours")


class BreakTheGlassView(InteractionView):
    """POST with a Parameters body: reason (valueString, required), hours (valueInteger, default the setting)."""

    interactions = ()
    operation = Operation("Patient", "break-the-glass", DEFINITION)

    def post(self, request: Request, logical_id: str) -> Response:
        reason, hours = _parameters(request.data)
        declared = break_glass_declare(
            access=request_access(request), patient_id=logical_id, reason=reason, hours=hours
        )
        access_forget(request.auth)  # the request's audit entry is made under the declaration it just made
        return Response(
            {
                "resourceType": "Parameters",
                "parameter": [
                    {"name": "patient", "valueReference": {"reference": f"Patient/{declared.patient}"}},
                    {"name": "reason", "valueString": declared.reason},
                    {"name": "declared", "valueInstant": declared.declared_at.isoformat()},
                    {"name": "expires", "valueInstant": declared.expires_at.isoformat()},
                ],
            }
        )


def _parameters(body: Any) -> tuple[str, int | None]:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise invalid("$break-the-glass takes a Parameters resource with a 'reason' (valueString).")
    reason, hours = "", None
    for parameter in body.get("parameter") or []:
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if name not in PARAMETERS:
            raise invalid(f"$break-the-glass has no parameter '{name}'; it takes {', '.join(PARAMETERS)}.")
        if name == "reason":
            reason = parameter.get("valueString")
            if not isinstance(reason, str):
                raise invalid("'reason' needs valueString.", expression="Parameters.parameter.reason")
        else:
            hours = parameter.get("valueInteger")
            if not isinstance(hours, int) or isinstance(hours, bool):
                raise invalid("'hours' needs valueInteger.", expression="Parameters.parameter.hours")
    return reason, hours
