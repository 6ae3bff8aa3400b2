"""_summary and _elements: return part of a resource, marked SUBSETTED as the spec asks."""

from __future__ import annotations

from typing import Any

from federation.fhir.r4b import summary_elements

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
ALWAYS_KEPT = ("resourceType", "id", "meta")


def shape(resource: dict[str, Any], *, summary: str, elements: tuple[str, ...]) -> dict[str, Any]:
    if elements:
        return _subset(resource, set(ALWAYS_KEPT) | set(elements))
    if summary == "true":
        return _subset(resource, set(ALWAYS_KEPT) | summary_elements(resource["resourceType"]))
    if summary == "text":
        return _subset(resource, {*ALWAYS_KEPT, "text"})
    if summary == "data":
        return _subset(resource, set(resource) - {"text"})
    return resource


def _subset(resource: dict[str, Any], kept: set[str]) -> dict[str, Any]:
    subset = {key: value for key, value in resource.items() if key in kept}
    if len(subset) == len(resource):
        return resource
    meta = dict(subset.get("meta", {}))
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    subset["meta"] = meta
    return subset
