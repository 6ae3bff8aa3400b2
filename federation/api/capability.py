"""The CapabilityStatement, generated from the routes that are really served."""

from __future__ import annotations

from functools import cache
from typing import Any

from federation.api.routes import ROUTES
from federation.fhir.spec import FHIR_VERSION, r4_resource_types, served_resource_types

# Codes that are flags on CapabilityStatement.rest.resource rather than interactions.
CONDITIONAL_FLAGS = {"conditional-create": "conditionalCreate", "conditional-update": "conditionalUpdate"}


@cache
def served_interactions() -> dict[str, frozenset[str]]:
    """Interaction codes per level (system, type, instance) over every route."""
    levels: dict[str, set[str]] = {"system": set(), "type": set(), "instance": set()}
    for _, route in ROUTES:
        for interaction in route.interactions():
            levels[interaction.level].add(interaction.code)
    return {level: frozenset(codes) for level, codes in levels.items()}


def capability_statement(*, base: str, software_version: str, date: str) -> dict[str, Any]:
    interactions = served_interactions()
    per_type = sorted((interactions["type"] | interactions["instance"]) - set(CONDITIONAL_FLAGS))
    system_codes = sorted(interactions["system"])
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "Tsunagi",
        "kind": "instance",
        "software": {"name": "Tsunagi", "version": software_version},
        "implementation": {"description": "Tsunagi regional health, medical and welfare data platform", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "patchFormat": [],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Conditional create and conditional update match on _id and identifier. "
                    "Resource types are those of FHIR R4 that the R4B models still describe."
                ),
                "resource": [
                    _resource_capability(resource_type, per_type, interactions)
                    for resource_type in r4_resource_types()
                    if resource_type in served_resource_types()
                ],
                "interaction": [{"code": code} for code in system_codes],
            }
        ],
    }


def _resource_capability(
    resource_type: str, codes: list[str], interactions: dict[str, frozenset[str]]
) -> dict[str, Any]:
    served = interactions["type"] | interactions["instance"]
    capability: dict[str, Any] = {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "interaction": [{"code": code} for code in codes],
        "versioning": "versioned-update" if "update" in served else "no-version",
        "readHistory": "vread" in served,
        "updateCreate": "update" in served,
        "conditionalRead": "not-supported",
        "conditionalDelete": "not-supported",
        "referencePolicy": ["literal"],
    }
    for code, flag in CONDITIONAL_FLAGS.items():
        capability[flag] = code in served
    return capability
