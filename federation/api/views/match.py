"""Patient/$match (FHIR R4 §12.1.13.3 Patient-match): a searchset of the persons a Patient may be."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from core.outcome import invalid
from federation.api.http import base_url
from federation.api.routing import InteractionView, Operation
from federation.api.views.access import request_access
from federation.identity.matching import patient_match
from federation.storage.services import resource_validate

MATCH_GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"
PARAMETERS = ("resource", "onlyCertainMatches", "count")


class PatientMatchView(InteractionView):
    """POST /fhir/Patient/$match with a Parameters body: resource (a Patient), onlyCertainMatches, count."""

    interactions = ()
    operation = Operation("Patient", "match", "http://hl7.org/fhir/OperationDefinition/Patient-match")

    def post(self, request: Request) -> Response:
        patient, only_certain, count = _match_parameters(request.data)
        matches = patient_match(access=request_access(request), patient=patient, only_certain=only_certain, count=count)
        base = base_url(request)
        return Response(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(matches),
                "entry": [
                    {
                        "fullUrl": f"{base}/{match.golden.relative_url}",
                        "resource": match.golden.content,
                        "search": {
                            "extension": [{"url": MATCH_GRADE, "valueCode": match.grade}],
                            "mode": "match",
                            "score": match.score,
                        },
                    }
                    for match in matches
                ],
            }
        )


def _match_parameters(body: Any) -> tuple[dict[str, Any], bool, int | None]:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise invalid("$match takes a Parameters resource with a 'resource' parameter holding a Patient.")
    patient: dict[str, Any] | None = None
    only_certain, count = False, None
    for parameter in body.get("parameter") or []:
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if name not in PARAMETERS:
            raise invalid(f"$match has no parameter '{name}'; it takes {', '.join(PARAMETERS)}.")
        if name == "resource":
            patient = resource_validate(parameter.get("resource"), expected_type="Patient")
        elif name == "onlyCertainMatches":
            only_certain = _typed(parameter, "valueBoolean", bool)
        else:
            count = _typed(parameter, "valueInteger", int)
            if count < 1:
                raise invalid("$match 'count' must be a positive integer.", expression="Parameters.parameter.count")
    if patient is None:
        raise invalid("$match needs a 'resource' parameter holding the Patient to match.")
    return patient, only_certain, count


def _typed(parameter: dict[str, Any], key: str, kind: type[Any]) -> Any:
    value = parameter.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise invalid(f"$match parameter '{parameter['name']}' needs {key}.", expression=f"Parameters.parameter.{key}")
    return value
