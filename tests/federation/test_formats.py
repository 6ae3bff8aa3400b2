"""_format, _pretty and Accept."""

from __future__ import annotations

from tests.conftest import patient


def test_accept_application_json_is_answered_as_application_json(fhir):
    created = fhir.post("/fhir/Patient", patient()).json()

    response = fhir.get(f"/fhir/Patient/{created['id']}", headers={"Accept": "application/json"})

    assert response["Content-Type"].startswith("application/json")
    assert response.json()["id"] == created["id"]


def test_format_parameter_overrides_accept(fhir):
    response = fhir.get("/fhir/metadata?_format=json", headers={"Accept": "application/json"})

    assert response["Content-Type"].startswith("application/fhir+json")


def test_browser_accept_header_gets_fhir_json(fhir):
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

    response = fhir.get("/fhir/metadata", headers={"Accept": accept})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")


def test_pretty_output_is_indented_and_compact_otherwise(fhir):
    created = fhir.post("/fhir/Patient", patient()).json()

    pretty = fhir.get(f"/fhir/Patient/{created['id']}?_pretty=true").content.decode()
    compact = fhir.get(f"/fhir/Patient/{created['id']}").content.decode()

    assert "\n  " in pretty
    assert "\n" not in compact


def test_decimals_keep_their_precision(fhir):
    raw = (
        '{"resourceType":"Observation","status":"final","code":{"text":"体温"},'
        '"valueQuantity":{"value":36.50,"unit":"Cel"},'
        '"component":[{"code":{"text":"x"},"valueQuantity":{"value":66.899999999999991}}]}'
    )

    created = fhir.post("/fhir/Observation", raw).json()
    served = fhir.get(f"/fhir/Observation/{created['id']}").content.decode()

    assert '"value":36.50' in served
    assert '"value":66.899999999999991' in served


def test_nan_is_refused(fhir):
    raw = '{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":NaN}}'

    response = fhir.post("/fhir/Observation", raw)

    assert response.status_code == 400
    assert "NaN" in response.json()["issue"][0]["diagnostics"]
