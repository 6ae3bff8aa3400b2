"""Batch and transaction Bundles POSTed to the base URL."""

from __future__ import annotations

import copy
import json

import pytest

from core.outcome import FhirError
from core.references import references_located
from federation.models import Resource
from federation.storage.bundles import ReferenceResolver
from tests.conftest import issue_texts, patient

HOSPITAL = "urn:oid:1.2.392.100495.20.3.51.11234567890"
PATIENT_URN = "urn:uuid:6f1a0c55-8d25-4d0e-9a43-3c7f3f4f9a11"


def transaction(*entries, bundle_type="transaction"):
    return {"resourceType": "Bundle", "type": bundle_type, "entry": list(entries)}


def post(resource, full_url=None, **request):
    entry = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"], **request}}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def observation(subject: str, value: float = 6.1):
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "urn:oid:1.2.392.200119.4.504", "code": "3D046000001920402"}]},
        "subject": {"reference": subject},
        "valueQuantity": {"value": value, "unit": "%"},
    }


def test_transaction_resolves_urn_uuid_references_and_answers_per_entry(fhir):
    bundle = transaction(post(observation(PATIENT_URN)), post(patient(), PATIENT_URN))

    response = fhir.post("/fhir", bundle)

    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "transaction-response"
    statuses = [entry["response"]["status"] for entry in body["entry"]]
    assert statuses == ["201 Created", "201 Created"]
    observation_location, patient_location = (entry["response"]["location"] for entry in body["entry"])
    assert patient_location.startswith("Patient/")
    assert body["entry"][0]["response"]["etag"] == 'W/"1"'
    stored = fhir.get("/fhir/" + observation_location.split("/_history")[0]).json()
    assert stored["subject"]["reference"] == patient_location.split("/_history")[0]


def test_transaction_rolls_back_everything_when_one_entry_fails(fhir):
    before = Resource.objects.count()
    bad = observation(PATIENT_URN) | {"status": ["not", "a", "code"]}

    response = fhir.post("/fhir", transaction(post(patient(), PATIENT_URN), post(bad)))

    assert response.status_code == 400
    assert issue_texts(response)[0].startswith("Bundle.entry[1]:")
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.status"]
    assert Resource.objects.count() == before


def test_transaction_with_failing_precondition_rolls_back(fhir):
    created = fhir.post("/fhir/Patient", patient()).json()
    update = {
        "resource": {**created, "gender": "male"},
        "request": {"method": "PUT", "url": f"Patient/{created['id']}", "ifMatch": 'W/"5"'},
    }

    response = fhir.post("/fhir", transaction(post(patient(gender="other")), update))

    assert response.status_code == 412
    assert Resource.objects.count() == 1


def test_transaction_processes_deletes_before_creates_before_updates_before_reads(fhir):
    old = fhir.post("/fhir/Patient", patient()).json()
    bundle = transaction(
        {"request": {"method": "GET", "url": "Patient/p-1"}},
        {"resource": patient(id="p-1"), "request": {"method": "PUT", "url": "Patient/p-1"}},
        post(patient()),
        {"request": {"method": "DELETE", "url": f"Patient/{old['id']}"}},
    )

    body = fhir.post("/fhir", bundle).json()

    statuses = [entry["response"]["status"] for entry in body["entry"]]
    assert statuses == ["200 OK", "201 Created", "201 Created", "204 No Content"]
    assert body["entry"][0]["resource"]["id"] == "p-1"
    assert fhir.get(f"/fhir/Patient/{old['id']}").status_code == 410


def test_transaction_resolves_conditional_references(fhir):
    fhir.post("/fhir/Patient", patient(identifier=[{"system": HOSPITAL, "value": "A1"}]))
    reference = f"Patient?identifier={HOSPITAL}|A1"

    body = fhir.post("/fhir", transaction(post(observation(reference)))).json()

    location = body["entry"][0]["response"]["location"].split("/_history")[0]
    subject = fhir.get(f"/fhir/{location}").json()["subject"]["reference"]
    assert subject.startswith("Patient/")
    assert "?" not in subject


def test_conditional_reference_matching_nothing_fails_the_transaction(fhir):
    response = fhir.post("/fhir", transaction(post(observation("Patient?identifier=nobody"))))

    assert response.status_code == 412
    assert Resource.objects.count() == 0


def test_transaction_conditional_create_reuses_the_match_for_references(fhir):
    existing = fhir.post("/fhir/Patient", patient(identifier=[{"system": HOSPITAL, "value": "A1"}])).json()
    bundle = transaction(
        post(patient(), PATIENT_URN, ifNoneExist=f"identifier={HOSPITAL}|A1"),
        post(observation(PATIENT_URN)),
    )

    body = fhir.post("/fhir", bundle).json()

    assert body["entry"][0]["response"]["status"] == "200 OK"
    assert body["entry"][0]["response"]["location"] == f"Patient/{existing['id']}/_history/1"
    location = body["entry"][1]["response"]["location"].split("/_history")[0]
    assert fhir.get(f"/fhir/{location}").json()["subject"]["reference"] == f"Patient/{existing['id']}"


def test_put_entries_keep_their_ids_and_their_full_urls_resolve(fhir):
    bundle = transaction(
        {
            "fullUrl": PATIENT_URN,
            "resource": patient(id="hanako"),
            "request": {"method": "PUT", "url": "Patient/hanako"},
        },
        post(observation(PATIENT_URN)),
    )

    body = fhir.post("/fhir", bundle).json()

    location = body["entry"][1]["response"]["location"].split("/_history")[0]
    assert fhir.get(f"/fhir/{location}").json()["subject"]["reference"] == "Patient/hanako"


def test_reference_to_an_unknown_urn_fails(fhir):
    response = fhir.post("/fhir", transaction(post(observation("urn:uuid:00000000-0000-0000-0000-000000000000"))))

    assert response.status_code == 400
    assert "names no entry" in issue_texts(response)[0]


def test_two_entries_changing_the_same_resource_are_refused(fhir):
    put = {"resource": patient(id="p-1"), "request": {"method": "PUT", "url": "Patient/p-1"}}

    response = fhir.post("/fhir", transaction(put, {**put}))

    assert response.status_code == 400


def test_prefer_representation_includes_resources(fhir):
    body = fhir.post("/fhir", transaction(post(patient())), headers={"Prefer": "return=representation"}).json()

    assert body["entry"][0]["resource"]["resourceType"] == "Patient"


def test_batch_runs_entries_independently(fhir):
    bad = patient(birthDate="not-a-date")

    response = fhir.post("/fhir", transaction(post(patient()), post(bad), bundle_type="batch"))

    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "batch-response"
    assert body["entry"][0]["response"]["status"] == "201 Created"
    assert body["entry"][1]["response"]["status"] == "400 Bad Request"
    assert body["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert Resource.objects.count() == 1


def test_batch_read_of_missing_resource_reports_404_in_its_entry(fhir):
    body = fhir.post(
        "/fhir", transaction({"request": {"method": "GET", "url": "Patient/nobody"}}, bundle_type="batch")
    ).json()

    assert body["entry"][0]["response"]["status"] == "404 Not Found"


def test_malformed_bundles_are_400(fhir):
    assert fhir.post("/fhir", patient()).status_code == 400
    assert fhir.post("/fhir", {"resourceType": "Bundle", "type": "collection"}).status_code == 400
    assert fhir.post("/fhir", transaction({"resource": patient()})).status_code == 400
    assert fhir.post("/fhir", transaction({"request": {"method": "PATCH", "url": "Patient/1"}})).status_code == 400
    assert fhir.post("/fhir", transaction({"request": {"method": "POST", "url": "Patient"}})).status_code == 400
    assert (
        fhir.post("/fhir", transaction({"request": {"method": "POST", "url": "http://elsewhere/Patient"}})).status_code
        == 400
    )
    unknown = fhir.post("/fhir", transaction({"resource": {}, "request": {"method": "POST", "url": "Unicorn"}}))
    assert unknown.status_code == 404


def test_search_entries_answer_a_searchset_that_sees_the_transactions_writes(fhir):
    bundle = transaction(
        {"request": {"method": "GET", "url": "Patient?family=山田&_total=accurate"}},
        post(patient(identifier=[{"system": HOSPITAL, "value": "S1"}])),
    )

    body = fhir.post("/fhir", bundle).json()

    searchset = body["entry"][0]["resource"]
    assert body["entry"][0]["response"]["status"] == "200 OK"
    assert searchset["type"] == "searchset"
    assert searchset["total"] == 1
    assert searchset["link"][0]["url"].startswith("http://testserver/fhir/Patient?")
    assert searchset["entry"][0]["resource"]["identifier"][0]["value"] == "S1"


def test_batch_search_entry_with_a_bad_value_fails_alone(fhir):
    bundle = transaction(
        {"request": {"method": "GET", "url": "Patient?birthdate=someday"}},
        post(patient()),
        bundle_type="batch",
    )

    body = fhir.post("/fhir", bundle).json()

    assert body["entry"][0]["response"]["status"] == "400 Bad Request"
    assert body["entry"][1]["response"]["status"] == "201 Created"


def test_empty_transaction_answers_an_empty_response(fhir):
    body = fhir.post("/fhir", {"resourceType": "Bundle", "type": "transaction"}).json()

    assert body == {**body, "type": "transaction-response", "entry": []}


def test_base_url_with_trailing_slash_works_too(fhir):
    assert fhir.post("/fhir/", transaction(post(patient()))).status_code == 200


def test_transaction_response_is_valid_json_bundle(fhir):
    raw = fhir.post("/fhir", transaction(post(patient()))).content

    assert json.loads(raw)["resourceType"] == "Bundle"


def test_batch_answers_a_malformed_entry_in_its_place(fhir):
    body = fhir.post(
        "/fhir",
        transaction({"request": {"method": "PATCH", "url": "Patient/1"}}, post(patient()), bundle_type="batch"),
    ).json()

    assert body["entry"][0]["response"]["status"] == "400 Bad Request"
    assert body["entry"][1]["response"]["status"] == "201 Created"


def test_transaction_conditional_update_with_a_different_body_id_is_refused(fhir):
    fhir.post("/fhir/Patient", patient(identifier=[{"system": HOSPITAL, "value": "A1"}]))
    entry = {"resource": patient(id="someone-else"), "request": {"method": "PUT", "url": "Patient?identifier=A1"}}

    response = fhir.post("/fhir", transaction(entry))

    assert response.status_code == 400
    assert "differs from the matched" in issue_texts(response)[0]


def test_rewriting_references_copies_only_what_it_changes_and_leaves_the_input_alone():
    resource = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": "urn:oid:1.2.392.200119.4.504", "code": "3F015000002327101"}]},
        "subject": {"reference": "urn:uuid:p"},
        "performer": [{"reference": "Practitioner/1"}, {"reference": "Organization?identifier=urn:x|1"}],
    }
    sent = copy.deepcopy(resource)
    resolver = ReferenceResolver({"urn:uuid:p": "Patient/p1"}, lambda resource_type, criteria: ["Organization/o1"])

    rewritten = resolver.rewrite(resource)

    assert rewritten["subject"] == {"reference": "Patient/p1"}
    assert rewritten["performer"] == [{"reference": "Practitioner/1"}, {"reference": "Organization/o1"}]
    assert resource == sent
    assert rewritten["code"] is resource["code"]  # nothing to change inside: shared, not copied
    assert resolver.rewrite(rewritten) == rewritten


def test_rewriting_located_references_gives_the_rewrite_and_its_first_error():
    resource = {
        "resourceType": "Observation",
        "subject": {"reference": "urn:uuid:p"},
        "performer": [{"reference": "Organization?identifier=urn:x|1"}, {"reference": "#contained"}],
    }

    def resolver(matches: list[str]) -> ReferenceResolver:
        return ReferenceResolver({"urn:uuid:p": "Patient/p1"}, lambda resource_type, criteria: matches)

    located = references_located(resource)
    assert resolver(["Organization/o1"]).rewrite_located(resource, located) == resolver(["Organization/o1"]).rewrite(
        resource
    )
    unmatched = {**resource, "subject": {"reference": "urn:uuid:elsewhere"}}
    errors = []
    for rewrite in (resolver([]).rewrite, lambda sent: resolver([]).rewrite_located(sent, references_located(sent))):
        with pytest.raises(FhirError) as raised:
            rewrite(unmatched)
        errors.append(str(raised.value))
    assert errors[0] == errors[1]
    assert "urn:uuid:elsewhere" in errors[0]
