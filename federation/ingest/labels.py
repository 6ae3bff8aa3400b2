"""Security labels for sensitive categories, set at ingest so that consent can filter on them later.

The table (docs/security-labels.md shows it) maps codes to HL7 v3 ActCode sensitivity labels; any of them
also marks the resource restricted (v3-Confidentiality R). Labels a source already set are kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
ICD10 = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full"
JLAC10 = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits"

# (label code, display, code system, code prefixes)
SENSITIVE_CODES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("PSY", "psychiatry disorder information sensitivity", ICD10, ("F",)),
    ("HIV", "HIV/AIDS information sensitivity", ICD10, ("B20", "B21", "B22", "B23", "B24", "Z21", "R75")),
    ("HIV", "HIV/AIDS information sensitivity", JLAC10, ("5F711", "5F712")),
    ("GDIS", "genetic disease information sensitivity", ICD10, ("Q90", "Q91", "Q92", "Q93", "Q95", "Q96", "Q97")),
    ("GDIS", "genetic disease information sensitivity", JLAC10, ("8C",)),
    ("SEX", "sexuality and reproductive health information sensitivity", ICD10, ("O0", "Z30", "Z31", "N97")),
    ("STD", "sexually transmitted disease information sensitivity", ICD10, ("A50", "A51", "A52", "A53", "A54", "A56")),
)
CODED_ELEMENTS = {
    "Condition": ("code",),
    "Observation": ("code",),
    "DiagnosticReport": ("code",),
    "Procedure": ("code",),
    "ServiceRequest": ("code",),
}


def sensitivity_labels(resource: dict[str, Any]) -> list[dict[str, str]]:
    """The labels the resource's codes call for (empty for most resources)."""
    elements = CODED_ELEMENTS.get(str(resource.get("resourceType")))
    if elements is None:  # most resources: nothing to look at
        return []
    found: dict[str, str] = {}
    for system, code in _codes(resource, elements):
        normalised = code.replace(".", "").upper()
        for label, display, label_system, prefixes in SENSITIVE_CODES:
            if system == label_system and normalised.startswith(prefixes):
                found.setdefault(label, display)
    return [{"system": ACT_CODE, "code": label, "display": display} for label, display in sorted(found.items())]


def resource_label(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource with its sensitivity labels (and R) added to meta.security; unchanged when none apply."""
    labels = sensitivity_labels(resource)
    if not labels:
        return resource
    meta = dict(resource.get("meta") or {})
    security = list(meta.get("security") or [])
    present = {(label.get("system"), label.get("code")) for label in security}
    restricted = {"system": CONFIDENTIALITY, "code": "R", "display": "restricted"}
    for label in [*labels, restricted]:
        if (label["system"], label["code"]) not in present:
            security.append(label)
    meta["security"] = security
    return {**resource, "meta": meta}


def _codes(resource: dict[str, Any], elements: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    for element in elements:
        concept = resource.get(element)
        if isinstance(concept, dict):
            for coding in concept.get("coding") or []:
                if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                    yield str(coding.get("system", "")), coding["code"]
