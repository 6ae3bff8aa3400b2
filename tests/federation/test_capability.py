"""GET /fhir/metadata advertises exactly what is routed and stored."""

from __future__ import annotations

from federation.api.capability import NOT_INTERACTIONS
from federation.api.routes import ROUTES
from federation.fhir.spec import r4_resource_types, served_resource_types


def test_metadata_is_a_public_r4_capability_statement(fhir):
    response = fhir.get("/fhir/metadata")

    assert response.status_code == 200
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["kind"] == "instance"
    assert "application/fhir+json" in statement["format"]


def test_every_served_type_is_listed_and_nothing_else(fhir):
    resources = fhir.get("/fhir/metadata").json()["rest"][0]["resource"]

    listed = [resource["type"] for resource in resources]
    assert set(listed) == served_resource_types()
    assert "Patient" in listed
    assert "MedicinalProduct" not in listed  # an R4 type that R4B no longer models
    assert len(served_resource_types()) < len(r4_resource_types())


def test_interactions_are_those_routed(fhir):
    rest = fhir.get("/fhir/metadata").json()["rest"][0]
    patient = next(resource for resource in rest["resource"] if resource["type"] == "Patient")

    routed = {interaction.code for _, route in ROUTES for interaction in route.interactions()}
    advertised = {item["code"] for item in patient["interaction"]} | {item["code"] for item in rest["interaction"]}
    assert advertised == routed - NOT_INTERACTIONS
    assert {"read", "vread", "update", "delete", "create", "history-instance", "history-type"} <= advertised
    assert {"transaction", "batch", "history-system", "search-type", "search-system"} <= advertised
    assert rest["compartment"] == ["http://hl7.org/fhir/CompartmentDefinition/patient"]
    assert patient["conditionalCreate"] is True
    assert patient["conditionalUpdate"] is True
    assert patient["conditionalDelete"] == "single"
    assert patient["updateCreate"] is True
    assert patient["versioning"] == "versioned-update"


def test_every_advertised_interaction_answers(fhir):
    """Smoke: each advertised Patient interaction reaches a handler (no 404/405 for the route)."""
    created = fhir.post("/fhir/Patient", {"resourceType": "Patient", "gender": "female"}).json()
    base = f"/fhir/Patient/{created['id']}"
    calls = {
        "read": fhir.get(base),
        "vread": fhir.get(f"{base}/_history/1"),
        "history-instance": fhir.get(f"{base}/_history"),
        "history-type": fhir.get("/fhir/Patient/_history"),
        "history-system": fhir.get("/fhir/_history"),
        "update": fhir.put(base, created),
        "delete": fhir.delete(base),
    }

    assert {name: response.status_code for name, response in calls.items()} == {
        "read": 200,
        "vread": 200,
        "history-instance": 200,
        "history-type": 200,
        "history-system": 200,
        "update": 200,
        "delete": 204,
    }


def test_search_parameters_listed_are_exactly_the_registry(fhir):
    resources = fhir.get("/fhir/metadata").json()["rest"][0]["resource"]
    patient = next(resource for resource in resources if resource["type"] == "Patient")
    observation = next(resource for resource in resources if resource["type"] == "Observation")

    names = {parameter["name"] for parameter in patient["searchParam"]}
    assert {"name", "family", "birthdate", "identifier", "jp-kana-sort", "_id", "_lastUpdated", "_tag"} <= names
    assert "_text" not in names  # no expression: not served, so not listed
    assert "code-value-quantity" in {parameter["name"] for parameter in observation["searchParam"]}
    assert "Observation:subject" in observation["searchInclude"]
    assert "Observation:subject" in patient["searchRevInclude"]


def test_every_listed_parameter_answers(fhir):
    """Each advertised parameter of a few clinical types runs (with :missing, valid for every type)."""
    resources = fhir.get("/fhir/metadata").json()["rest"][0]["resource"]
    for resource in resources:
        if resource["type"] not in ("Patient", "Observation", "Condition", "Encounter", "MedicationRequest"):
            continue
        for parameter in resource["searchParam"]:
            response = fhir.get(f"/fhir/{resource['type']}?{parameter['name']}:missing=true")
            assert response.status_code == 200, (resource["type"], parameter["name"], response.content[:300])


def test_the_statement_says_tokens_come_from_the_smart_authorisation_server(fhir):
    security = fhir.get("/fhir/metadata").json()["rest"][0]["security"]

    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {item["url"]: item["valueUri"] for item in security["extension"][0]["extension"]}
    assert uris == {
        "authorize": "http://testserver/auth/authorize",
        "token": "http://testserver/auth/token",
        "revoke": "http://testserver/auth/revoke",
        "introspect": "http://testserver/auth/introspect",
    }
