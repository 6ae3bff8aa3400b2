"""The CapabilityStatement, generated from the routes that are really served and the registry."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings

from federation.api.routes import ROUTES
from federation.fhir.spec import FHIR_VERSION, r4_resource_types, served_resource_types
from federation.search.compartments import compartment_url
from federation.search.registry import COMMON, parameters_for, searchable

# Codes that are flags or lists on CapabilityStatement.rest rather than interactions.
CONDITIONAL_FLAGS = {"conditional-create": "conditionalCreate", "conditional-update": "conditionalUpdate"}
COMPARTMENT_SEARCH = "search-compartment"
NOT_INTERACTIONS = {*CONDITIONAL_FLAGS, "conditional-delete", COMPARTMENT_SEARCH}


@cache
def served_interactions() -> dict[str, frozenset[str]]:
    """Interaction codes per level (system, type, instance) over every route."""
    levels: dict[str, set[str]] = {"system": set(), "type": set(), "instance": set()}
    for _, route in ROUTES:
        for interaction in route.interactions():
            levels[interaction.level].add(interaction.code)
    return {level: frozenset(codes) for level, codes in levels.items()}


@cache
def dedicated_routes() -> dict[str, tuple[frozenset[str], tuple[str, ...]]]:
    """Types served by views of their own (the audit trail's AuditEvent): their interaction codes and search
    parameters, exactly as routed."""
    found: dict[str, tuple[set[str], set[str]]] = {}
    for _, route in ROUTES:
        for view in route.views.values():
            if view.served_type is not None:
                codes, parameters = found.setdefault(view.served_type, (set(), set()))
                codes.update(interaction.code for interaction in view.interactions)
                parameters.update(view.search_parameters)
    return {name: (frozenset(codes), tuple(sorted(params))) for name, (codes, params) in found.items()}


@cache
def served_operations() -> dict[str, tuple[dict[str, str], ...]]:
    """`CapabilityStatement.rest.resource.operation` entries per resource type, from the routed operations."""
    found: dict[str, list[dict[str, str]]] = {}
    for _, route in ROUTES:
        for operation in route.operations():
            found.setdefault(operation.resource_type, []).append(
                {"name": operation.name, "definition": operation.definition}
            )
    return {resource_type: tuple(entries) for resource_type, entries in found.items()}


SECURITY_SERVICES = "http://terminology.hl7.org/CodeSystem/restful-security-service"


def _security(base: str) -> dict[str, Any]:
    """SMART on FHIR: every interaction needs a bearer token from the server's own authorisation endpoints."""
    origin = base.rsplit("/", 1)[0] if base.endswith(f"/{settings.FHIR_BASE_PATH}") else base
    uris = [("authorize", "authorize"), ("token", "token"), ("revoke", "revoke"), ("introspect", "introspect")]
    return {
        "cors": False,
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                    }
                ]
            }
        ],
        "description": "Bearer tokens from the SMART authorisation server; see .well-known/smart-configuration.",
        "extension": [
            {
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                "extension": [{"url": name, "valueUri": f"{origin}/auth/{path}"} for name, path in uris],
            }
        ],
    }


def capability_statement(*, base: str, software_version: str, date: str) -> dict[str, Any]:
    interactions = served_interactions()
    served = interactions["type"] | interactions["instance"]
    rest: dict[str, Any] = {
        "mode": "server",
        "documentation": (
            "Resource types are those of FHIR R4 that the R4B models still describe. Strings match "
            "case-, accent- and width-insensitively, hiragana and katakana alike; dates without a "
            "time zone are read in Asia/Tokyo."
        ),
        "resource": [
            _dedicated_capability(resource_type)
            if resource_type in dedicated_routes()
            else _resource_capability(resource_type, served)
            for resource_type in r4_resource_types()
            if resource_type in served_resource_types() or resource_type in dedicated_routes()
        ],
        "interaction": [{"code": code} for code in sorted(interactions["system"])],
        "security": _security(base),
    }
    if "search-system" in interactions["system"]:
        rest["searchParam"] = _search_params(COMMON)
    if COMPARTMENT_SEARCH in served:
        rest["compartment"] = [compartment_url("Patient")]
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
        "rest": [rest],
    }


def _resource_capability(resource_type: str, served: frozenset[str]) -> dict[str, Any]:
    capability: dict[str, Any] = {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "interaction": [{"code": code} for code in sorted(served - NOT_INTERACTIONS)],
        "versioning": "versioned-update" if "update" in served else "no-version",
        "readHistory": "vread" in served,
        "updateCreate": "update" in served,
        "conditionalRead": "not-supported",
        "conditionalDelete": "single" if "conditional-delete" in served else "not-supported",
        "referencePolicy": ["literal"],
    }
    for code, flag in CONDITIONAL_FLAGS.items():
        capability[flag] = code in served
    if resource_type in served_operations():
        capability["operation"] = list(served_operations()[resource_type])
    if "search-type" in served:
        references = sorted(p.code for p in parameters_for(resource_type).values() if p.type == "reference")
        capability["searchInclude"] = ["*", *(f"{resource_type}:{code}" for code in references)]
        capability["searchRevInclude"] = sorted(_revincludes(resource_type))
        capability["searchParam"] = _search_params(resource_type)
    return capability


def _dedicated_capability(resource_type: str) -> dict[str, Any]:
    """A read-only type served by its own views: only what they do, with the spec's definitions of the search
    parameters they take."""
    codes, parameters = dedicated_routes()[resource_type]
    capability: dict[str, Any] = {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "interaction": [{"code": code} for code in sorted(codes)],
        "versioning": "no-version",
        "readHistory": False,
        "updateCreate": False,
        "conditionalCreate": False,
        "conditionalUpdate": False,
        "conditionalRead": "not-supported",
        "conditionalDelete": "not-supported",
    }
    if parameters:
        capability["searchParam"] = _search_params(resource_type, only=parameters)
    return capability


def _search_params(resource_type: str, *, only: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    return [
        {"name": p.code, "definition": p.url, "type": p.type, "documentation": p.description}
        for p in sorted(parameters_for(resource_type).values(), key=lambda p: p.code)
        if searchable(p) and (only is None or p.code in only)
    ]


@cache
def _revincludes(resource_type: str) -> frozenset[str]:
    """`Source:param` for every reference parameter of any type that can point at this type."""
    found = set()
    for source in served_resource_types():
        for parameter in parameters_for(source).values():
            if parameter.type == "reference" and (not parameter.targets or resource_type in parameter.targets):
                found.add(f"{source}:{parameter.code}")
    return frozenset(found)
