"""The consent matrix: role x consent state x interaction, through the FHIR API with real tokens.

Each case names which of person p1's resources a role may see (P: the Patient, O: an Observation of March 2024,
C: a Condition labelled PSY); every interaction must agree: reads and vreads answer 404 for the rest, and searches,
includes, totals, history and compartment search never show them. Organizations, outside every compartment, are
always visible.
"""

from __future__ import annotations

from typing import Any

import pytest

from consent.contracts import Purpose
from tests.conftest import FhirClient
from tests.consent.consents import (
    PSY,
    actor,
    clinician_token,
    consent,
    municipality_actor,
    patient_token,
    purpose,
    welfare_token,
)

P1 = {"P": "Patient/p1", "O": "Observation/o1", "C": "Condition/c1"}
OTHERS = {"Patient/p2", "Observation/o2", "Organization/hosp-a", "Organization/hosp-b"}
ROLES = ("clinician-a", "clinician-b", "welfare", "person-p1", "person-p2")

DENY_ALL = {"type": "deny"}
STATES: dict[str, list[dict[str, Any]]] = {
    "no consent": [],
    "deny all": [consent("p1", DENY_ALL)],
    "deny all but hospital A": [
        consent("p1", {"type": "deny", "provision": [{"type": "permit", "actor": [actor("Organization/hosp-a")]}]})
    ],
    "deny psychiatric data": [
        consent("p1", {"type": "permit", "provision": [{"type": "deny", "securityLabel": [PSY]}]})
    ],
    "deny welfare support": [
        consent(
            "p1", {"type": "permit", "provision": [{"type": "deny", "purpose": [purpose(Purpose.WELFARE_SUPPORT)]}]}
        )
    ],
    "deny the municipality": [
        consent("p1", {"type": "permit", "provision": [{"type": "deny", "actor": [municipality_actor("229990")]}]})
    ],
    "deny all, inactive": [consent("p1", DENY_ALL, status="inactive")],
    "deny all, then a newer permit": [
        consent("p1", DENY_ALL, when="2024-01-01"),
        consent("p1", {"type": "permit"}, when="2025-06-01"),
    ],
    "deny data before 2024": [
        consent("p1", {"type": "permit", "provision": [{"type": "deny", "dataPeriod": {"end": "2023-12-31"}}]})
    ],
    "deny the Patient resource": [
        consent(
            "p1",
            {
                "type": "permit",
                "provision": [
                    {"type": "deny", "class": [{"system": "http://hl7.org/fhir/resource-types", "code": "Patient"}]}
                ],
            },
        )
    ],
    "deny Conditions": [
        consent(
            "p1",
            {
                "type": "permit",
                "provision": [
                    {"type": "deny", "class": [{"system": "http://hl7.org/fhir/resource-types", "code": "Condition"}]}
                ],
            },
        )
    ],
}
EVERYTHING = "POC"
# state -> visible letters for clinician-a, clinician-b, welfare (the persons see their own data whatever it says)
EXPECTED = {
    "no consent": (EVERYTHING, EVERYTHING, EVERYTHING),
    "deny all": ("", "", ""),
    "deny all but hospital A": (EVERYTHING, "", ""),
    "deny psychiatric data": ("PO", "PO", "PO"),
    "deny welfare support": (EVERYTHING, EVERYTHING, ""),
    "deny the municipality": (EVERYTHING, EVERYTHING, ""),
    "deny all, inactive": (EVERYTHING, EVERYTHING, EVERYTHING),
    "deny all, then a newer permit": (EVERYTHING, EVERYTHING, EVERYTHING),
    "deny data before 2024": ("O", "O", "O"),  # undated data (the Patient, the Condition) falls under the deny
    "deny the Patient resource": ("OC", "OC", "OC"),
    "deny Conditions": ("PO", "PO", "PO"),
}


def _store(fhir: FhirClient) -> None:
    for resource in (
        {"resourceType": "Organization", "id": "hosp-a", "name": "Hospital A"},
        {"resourceType": "Organization", "id": "hosp-b", "name": "Hospital B"},
        {"resourceType": "Patient", "id": "p1", "gender": "female"},
        {"resourceType": "Patient", "id": "p2", "gender": "male"},
        _observation("o1", "p1"),
        _observation("o2", "p2"),
        {
            "resourceType": "Condition",
            "id": "c1",
            "meta": {"security": [PSY]},
            "subject": {"reference": "Patient/p1"},
            "code": {"text": "depression"},
        },
    ):
        assert fhir.put(f"/fhir/{resource['resourceType']}/{resource['id']}", resource).status_code == 201


def _observation(logical_id: str, patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": logical_id,
        "status": "final",
        "code": {"text": "body weight"},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": "2024-03-01",
        "performer": [{"reference": "Organization/hosp-a"}],
    }


def _token(role: str) -> str:
    if role == "clinician-a":
        return clinician_token("Organization/hosp-a", "Practitioner/doc-a")
    if role == "clinician-b":
        return clinician_token("Organization/hosp-b", "Practitioner/doc-b")
    if role == "welfare":
        return welfare_token("229990")
    return patient_token(role.removeprefix("person-"))


def _expected(state: str, role: str) -> set[str]:
    if role == "person-p1":
        return set(P1.values()) | OTHERS - {"Patient/p2", "Observation/o2"}
    if role == "person-p2":
        return {"Patient/p2", "Observation/o2", "Organization/hosp-a", "Organization/hosp-b"}
    letters = EXPECTED[state][ROLES.index(role)]
    return {P1[letter] for letter in letters} | OTHERS


def _entries(bundle: dict[str, Any]) -> list[str]:
    resources = [entry["resource"] for entry in bundle.get("entry", []) if "resource" in entry]
    # Consents are the persons' own business: checked by the consent tests, left out of this matrix
    return [
        f"{r['resourceType']}/{r['id']}" for r in resources if r["resourceType"] not in ("Consent", "OperationOutcome")
    ]


def _searched(client: FhirClient, path: str) -> list[str]:
    response = client.get(path)
    assert response.status_code == 200, response.content
    bundle = response.json()
    found = _entries(bundle)
    if "total" in bundle and bundle.get("type") == "searchset":
        matches = [e for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]
        assert bundle["total"] == len(matches), path
    return found


@pytest.mark.parametrize("state", list(STATES))
def test_each_role_sees_only_what_the_consent_allows(fhir: FhirClient, state: str) -> None:
    _store(fhir)
    for given in STATES[state]:
        assert fhir.post("/fhir/Consent", given).status_code == 201
    for role in ROLES:
        client = FhirClient(_token(role))
        visible = _expected(state, role)
        everything = set(P1.values()) | OTHERS
        for reference in sorted(everything):
            status = 200 if reference in visible else 404
            assert client.get(f"/fhir/{reference}").status_code == status, (state, role, reference)
            assert client.get(f"/fhir/{reference}/_history/1").status_code == status, (state, role, reference)
            history = client.get(f"/fhir/{reference}/_history")
            assert history.status_code == status, (state, role, reference)
        seen: dict[str, list[str]] = {
            "types": [
                found
                for resource_type in ("Patient", "Observation", "Condition", "Organization")
                for found in _searched(client, f"/fhir/{resource_type}?_total=accurate")
            ],
            "system search": _searched(client, "/fhir?_total=accurate"),
            "revinclude": _searched(
                client, "/fhir/Patient?_revinclude=Observation:subject&_revinclude=Condition:subject&_total=accurate"
            ),
            "include": _searched(
                client, "/fhir/Observation?_include=Observation:subject&_include=Observation:performer&_total=accurate"
            ),
            "chained": _searched(client, "/fhir/Observation?subject:Patient.gender=female&_total=accurate"),
            "system history": _searched(client, "/fhir/_history"),
            "type history": _searched(client, "/fhir/Observation/_history")
            + _searched(client, "/fhir/Condition/_history")
            + _searched(client, "/fhir/Patient/_history"),
        }
        for name, found in seen.items():
            assert set(found) <= visible, (state, role, name, set(found) - visible)
        assert set(seen["types"]) == visible, (state, role)
        assert set(seen["system search"]) == visible, (state, role)
        assert set(seen["system history"]) == visible, (state, role)
        # a chain or _has through a resource the role may not see must not tell what that resource holds
        both = {"Patient/p1", "Observation/o1"} <= visible
        assert set(seen["chained"]) == ({"Observation/o1"} if both else set()), (state, role)
        has = _searched(client, "/fhir/Patient?_has:Observation:subject:status=final&gender=female")
        assert set(has) == ({"Patient/p1"} if both else set()), (state, role)
        for resource_type in ("Observation", "Condition"):
            compartment = _searched(client, f"/fhir/Patient/p1/{resource_type}?_total=accurate")
            assert set(compartment) == {ref for ref in visible if ref.startswith(resource_type) and ref in P1.values()}


def test_a_client_supplied_patient_parameter_only_narrows(fhir: FhirClient) -> None:
    _store(fhir)
    client = FhirClient(patient_token("p2"))
    assert _searched(client, "/fhir/Observation?patient=Patient/p1") == []
    assert _searched(client, "/fhir/Observation?subject=Patient/p1") == []
    assert _searched(client, "/fhir/Patient/p1/Observation") == []
    assert _searched(client, "/fhir/Observation") == ["Observation/o2"]
