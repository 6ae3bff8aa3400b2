"""Every FHIR interaction needs a bearer token whose scopes allow it on the types it touches; the
CapabilityStatement stays public. Refusals are OperationOutcomes: 401 without a valid token, 403 beyond its scopes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from oauth2_provider.models import AccessToken

from federation.models import Resource
from tests.conftest import FhirClient, issue_texts, patient, system_token

pytestmark = pytest.mark.django_db

OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
}


def test_without_a_token_every_interaction_is_401_with_a_bearer_challenge():
    response = FhirClient().get("/fhir/Patient")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["issue"][0]["code"] == "login"
    assert "smart-configuration" in issue_texts(response)[0]


def test_the_capability_statement_is_public():
    assert FhirClient().get("/fhir/metadata").status_code == 200


@pytest.mark.parametrize("spoil", ["expired", "revoked", "unknown"])
def test_an_expired_revoked_or_unknown_token_is_401(spoil):
    token = system_token()
    if spoil == "expired":
        AccessToken.objects.filter(token=token).update(expires=timezone.now() - timedelta(seconds=1))
    elif spoil == "revoked":
        AccessToken.objects.get(token=token).revoke()
    else:
        token = "not-a-token-this-server-issued"

    assert FhirClient(token).get("/fhir/Patient").status_code == 401


def test_a_type_scope_allows_its_type_and_interactions_only():
    client = FhirClient(system_token("system/Observation.rs"))

    assert client.get("/fhir/Observation").status_code == 200
    assert client.get("/fhir/Observation/unknown").status_code == 404  # allowed, then not found
    assert client.get("/fhir/Patient").status_code == 403
    refused = client.post("/fhir/Observation", OBSERVATION)
    assert refused.status_code == 403
    assert refused.json()["issue"][0]["code"] == "forbidden"
    assert not Resource.objects.filter(resource_type="Observation").exists()


def test_v1_read_scopes_read_and_search_but_do_not_write():
    client = FhirClient(system_token("system/*.read"))

    assert client.get("/fhir/Patient").status_code == 200
    assert client.get("/fhir/_history").status_code == 200
    assert client.post("/fhir/Patient", patient()).status_code == 403


def test_a_system_wide_search_needs_a_wildcard_scope_or_types_named_in_type():
    client = FhirClient(system_token("system/Observation.rs"))

    assert client.get("/fhir?_type=Observation").status_code == 200
    assert client.get("/fhir?_type=Observation,Patient").status_code == 403
    assert client.get("/fhir/_history").status_code == 403


def test_a_bundle_needs_the_scopes_of_every_entry_and_writes_nothing_without_them():
    client = FhirClient(system_token("system/Observation.cruds"))
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": OBSERVATION, "request": {"method": "POST", "url": "Observation"}},
            {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
        ],
    }

    assert client.post("/fhir", bundle).status_code == 403
    assert not Resource.objects.exists()
    bundle["entry"] = bundle["entry"][:1]
    assert client.post("/fhir", bundle).status_code == 200


def test_patient_match_needs_patient_search():
    parameters = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": patient()}]}

    assert FhirClient(system_token("system/Observation.rs")).post("/fhir/Patient/$match", parameters).status_code == 403
    assert FhirClient(system_token("system/Patient.rs")).post("/fhir/Patient/$match", parameters).status_code == 200


def test_a_compartment_search_needs_the_scope_of_the_type_searched():
    client = FhirClient(system_token("system/Observation.rs"))

    assert client.get("/fhir/Patient/p1/Observation").status_code == 200
    assert client.get("/fhir/Patient/p1/Condition").status_code == 403


def test_a_token_over_its_rate_gets_429_with_retry_after_and_other_tokens_go_on(settings):
    settings.FHIR_TOKEN_RATE = "3/min"
    cache.clear()  # counts of an earlier run's tokens with the same ids
    busy, other = FhirClient(system_token()), FhirClient(system_token())

    statuses = [busy.get("/fhir/Patient").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    refused = busy.get("/fhir/Patient")
    assert refused.json()["issue"][0]["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert other.get("/fhir/Patient").status_code == 200
