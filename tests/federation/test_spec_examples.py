"""Breadth: the FHIR R4 specification's examples can be stored and read back unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from federation.fhir.spec import TRAIL_TYPES, served_resource_types
from tests.federation.spec_examples import (
    SAMPLE,
    expected_invalid,
    full_package,
    refused_by_consent_policy,
    round_trip,
)

VALID = sorted((SAMPLE / "valid").glob("*.json"))


def of_trail_type(path: Path) -> bool:
    return path.name.split("-")[0] in TRAIL_TYPES


@pytest.mark.parametrize("path", [path for path in VALID if not of_trail_type(path)], ids=lambda path: path.stem)
def test_sample_example_round_trips(fhir, path):
    status, problem = round_trip(fhir, path)
    if refused_by_consent_policy(path.name, status, problem):
        return

    assert status == 200, problem
    assert problem == ""


@pytest.mark.parametrize("path", [path for path in VALID if of_trail_type(path)], ids=lambda path: path.stem)
def test_audit_events_are_not_written_through_the_api(fhir, path):
    status, problem = round_trip(fhir, path)

    assert status == 405, problem  # the API serves AuditEvent from the audit trail, read-only


@pytest.mark.parametrize("path", sorted((SAMPLE / "rejected").glob("*.json")), ids=lambda path: path.stem)
def test_invalid_example_is_refused_with_reasons(fhir, path):
    status, problem = round_trip(fhir, path)

    assert status == 400
    assert '"resourceType":"OperationOutcome"' in problem


@pytest.mark.parametrize("path", sorted((SAMPLE / "not_served").glob("*.json")), ids=lambda path: path.stem)
def test_types_not_served_are_404(fhir, path):
    status, _ = round_trip(fhir, path)

    assert status == 404


@pytest.mark.slow
def test_every_example_of_the_full_package(fhir, settings):
    """Every example of a served type round-trips, except those that are themselves invalid R4."""
    package = full_package()
    if package is None:
        pytest.skip("the hl7.fhir.r4.examples package is not available (no npm or no network)")
    settings.FHIR_MAX_BODY_BYTES = 64 * 1024 * 1024
    failures, counts = (
        [],
        {"stored": 0, "invalid": 0, "not served": 0, "read-only": 0, "refused by the consent policy": 0},
    )
    for path in sorted(package.glob("*.json")):
        resource_type = json.loads(path.read_bytes()).get("resourceType")
        if resource_type is None or path.name == "package.json":
            continue
        status, problem = round_trip(fhir, path)
        if resource_type not in served_resource_types():
            outcome = "not served" if status == 404 else f"expected 404, got {status}"
        elif resource_type in TRAIL_TYPES:
            outcome = "read-only" if status == 405 else f"expected 405, got {status}"
        elif expected_invalid(path.name) and status == 400:
            outcome = "invalid"
        elif refused_by_consent_policy(path.name, status, problem):
            outcome = "refused by the consent policy"
        else:
            outcome = "stored" if status == 200 and not problem else f"{status}: {problem[:200]}"
        if outcome in counts:
            counts[outcome] += 1
        else:
            failures.append(f"{path.name}: {outcome}")
    print(f"R4 examples: {counts}")
    assert not failures, "\n".join(failures[:50])
    assert counts["stored"] > 5000
