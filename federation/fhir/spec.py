"""Facts read from the FHIR R4 specification files vendored under spec/ (CC0, HL7 FHIR 4.0.1)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from federation.fhir.r4b import has_model

SPEC_DIR = Path(__file__).resolve().parent / "spec"
FHIR_VERSION = "4.0.1"
ID_PATTERN = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# R4B redesigned these R4 types (evidence-based medicine rework), so its models cannot check R4 content.
REDESIGNED_IN_R4B = frozenset({"Evidence", "EvidenceVariable"})
# Types the API serves from the platform's audit trail, read-only, never from the store (which still keeps the
# ones sources send through ingest).
TRAIL_TYPES = frozenset({"AuditEvent"})


@cache
def r4_resource_types() -> tuple[str, ...]:
    """Every resource type of FHIR R4, from the spec's base CapabilityStatement."""
    capability = json.loads((SPEC_DIR / "CapabilityStatement-base.json").read_text())
    return tuple(entry["type"] for entry in capability["rest"][0]["resource"])


@cache
def served_resource_types() -> frozenset[str]:
    """R4 types this server stores: those R4B still models in their R4 shape (see docs/decisions.md)."""
    return frozenset(name for name in r4_resource_types() if has_model(name) and name not in REDESIGNED_IN_R4B)


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None
