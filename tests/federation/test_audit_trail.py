"""Every FHIR interaction leaves one audit entry, written with its work: who, why, about whom, what, outcome.
The trail is served read-only as AuditEvent."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from oauth2_provider.models import AccessToken

from consent.models import AuditRecord
from federation.models import Resource
from federation.storage.services import resource_validate
from tests.conftest import FhirClient, issue_texts, patient, system_token

pytestmark = pytest.mark.django_db


def observation(subject: str, code: str = "8867-4") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": subject},
    }


def last_event() -> AuditRecord:
    return AuditRecord.objects.order_by("-id").first()  # type: ignore[return-value]


def created(fhir: FhirClient, resource: dict[str, Any]) -> str:
    response = fhir.post(f"/fhir/{resource['resourceType']}", resource)
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


@pytest.fixture
def records(fhir: FhirClient) -> dict[str, str]:
    """Two people, each with an Observation."""
    hanako, taro = created(fhir, patient()), created(fhir, patient(name=[{"family": "佐藤", "given": ["太郎"]}]))
    return {
        "hanako": hanako,
        "taro": taro,
        "hanako_obs": created(fhir, observation(f"Patient/{hanako}")),
        "taro_obs": created(fhir, observation(f"Patient/{taro}", code="29463-7")),
    }


def client_of(fhir: FhirClient) -> str:
    token = fhir.http.defaults["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    return str(AccessToken.objects.get(token=token).application.client_id)


def test_a_read_records_who_why_the_resource_and_its_person(fhir, records):
    before = AuditRecord.objects.count()

    assert fhir.get(f"/fhir/Observation/{records['hanako_obs']}").status_code == 200

    assert AuditRecord.objects.count() == before + 1
    event = last_event()
    assert (event.category, event.subtype, event.action, event.status) == ("rest", "read", "R", 200)
    assert event.entities == [f"Observation/{records['hanako_obs']}"]
    assert event.patients == [records["hanako"]]
    assert (event.kind, event.purpose, event.client_id) == ("system", "HOPERAT", client_of(fhir))
    assert event.network == "127.0.0.1"


def test_vread_and_instance_history_name_the_resource(fhir, records):
    fhir.get(f"/fhir/Observation/{records['taro_obs']}/_history/1")
    assert (last_event().subtype, last_event().entities) == ("vread", [f"Observation/{records['taro_obs']}"])
    assert last_event().patients == [records["taro"]]

    fhir.get(f"/fhir/Observation/{records['taro_obs']}/_history")
    assert (last_event().subtype, last_event().action, last_event().patients) == (
        "history-instance",
        "R",
        [records["taro"]],
    )


def test_a_search_records_its_query_and_the_persons_of_the_page(fhir, records):
    response = fhir.get("/fhir/Observation?status=final&_count=1")
    assert len(response.json()["entry"]) == 1
    shown = response.json()["entry"][0]["resource"]["id"]
    owner = records["hanako"] if shown == records["hanako_obs"] else records["taro"]

    event = last_event()
    assert (event.subtype, event.action) == ("search-type", "E")
    assert event.query == "Observation?status=final&_count=1"
    assert event.entities == [f"Observation/{shown}"]
    assert event.patients == [owner]  # the page's persons, not everyone the search could reach


def test_system_compartment_and_type_history_searches_are_recorded(fhir, records):
    fhir.get("/fhir?_type=Patient")
    assert last_event().subtype == "search-system"
    assert set(last_event().patients) == {records["hanako"], records["taro"]}

    fhir.get(f"/fhir/Patient/{records['taro']}/Observation")
    event = last_event()
    assert event.subtype == "search-compartment"
    assert set(event.entities) == {f"Patient/{records['taro']}", f"Observation/{records['taro_obs']}"}
    assert event.patients == [records["taro"]]

    fhir.get("/fhir/Observation/_history")
    assert (last_event().subtype, set(last_event().patients)) == ("history-type", {records["hanako"], records["taro"]})


def test_writes_record_the_persons_before_and_after_the_change(fhir, records):
    moved = observation(f"Patient/{records['taro']}") | {"id": records["hanako_obs"]}
    assert fhir.put(f"/fhir/Observation/{records['hanako_obs']}", moved).status_code == 200
    event = last_event()
    assert (event.subtype, event.action) == ("update", "U")
    assert set(event.patients) == {records["hanako"], records["taro"]}  # it left Hanako's record for Taro's

    assert fhir.delete(f"/fhir/Observation/{records['taro_obs']}").status_code == 204
    event = last_event()
    assert (event.subtype, event.action, event.status) == ("delete", "D", 204)
    assert event.patients == [records["taro"]]  # known from before the deletion

    fhir.post("/fhir/Observation", observation(f"Patient/{records['hanako']}"), headers={"Prefer": "return=minimal"})
    event = last_event()
    assert (event.subtype, event.action, event.status, event.patients) == ("create", "C", 201, [records["hanako"]])
    assert event.entities[0].startswith("Observation/")


def test_reading_the_history_of_a_deleted_resource_concerns_its_person(fhir, records):
    fhir.delete(f"/fhir/Observation/{records['taro_obs']}")

    page = fhir.get("/fhir/Observation/_history?_count=1").json()

    assert "resource" not in page["entry"][0]  # the newest version is the deletion: no content to name it by
    assert last_event().entities == [f"Observation/{records['taro_obs']}"]
    assert last_event().patients == [records["taro"]]  # from the last content, the index rows being gone

    assert fhir.get(f"/fhir/Observation/{records['taro_obs']}/_history/1").status_code == 200
    assert (last_event().subtype, last_event().patients) == ("vread", [records["taro"]])


def test_a_transaction_is_one_event_naming_every_entry(fhir, records):
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": observation(f"Patient/{records['hanako']}"),
                "request": {"method": "POST", "url": "Observation"},
            },
            {
                "resource": observation(f"Patient/{records['taro']}"),
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    before = AuditRecord.objects.count()

    response = fhir.post("/fhir", bundle)

    assert response.status_code == 200
    assert AuditRecord.objects.count() == before + 1
    event = last_event()
    assert (event.subtype, event.action) == ("transaction", "E")
    locations = [entry["response"]["location"].split("/_history")[0] for entry in response.json()["entry"]]
    assert event.entities == locations
    assert set(event.patients) == {records["hanako"], records["taro"]}


def test_match_records_the_persons_it_returned(fhir, records):
    parameters = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": patient()}]}
    response = fhir.post("/fhir/Patient/$match", parameters)

    assert response.status_code == 200
    event = last_event()
    assert (event.subtype, event.action) == ("$match", "E")
    returned = {entry["resource"]["id"] for entry in response.json()["entry"]}
    assert set(event.patients) == returned
    assert event.query == ""  # the Parameters hold names and birth dates: they stay out of the trail


def test_requests_without_a_token_are_recorded_as_unknown_callers(records):
    response = FhirClient().get(f"/fhir/Observation/{records['hanako_obs']}")

    assert response.status_code == 401
    event = last_event()
    assert (event.status, event.kind, event.client_id, event.subject) == (401, "", "", "")
    assert event.entities == [f"Observation/{records['hanako_obs']}"]
    assert "bearer token" in event.outcome_text


def test_a_refused_scope_and_an_unknown_resource_are_recorded_with_their_outcome(fhir, records):
    narrow = FhirClient(system_token("system/Patient.rs"))
    assert narrow.get(f"/fhir/Observation/{records['hanako_obs']}").status_code == 403
    event = last_event()
    assert (event.status, event.client_id) == (403, client_of(narrow))
    assert "do not allow 'r' on Observation" in event.outcome_text

    assert fhir.get("/fhir/Observation/no-such-id").status_code == 404
    event = last_event()
    assert (event.status, event.entities, event.patients) == (404, ["Observation/no-such-id"], [])
    assert event.outcome_text == "Observation/no-such-id is not known."


def test_a_refused_write_is_undone_but_its_event_is_kept(fhir, records):
    broken = observation(f"Patient/{records['hanako']}") | {"valueColour": "red", "id": records["hanako_obs"]}

    assert fhir.put(f"/fhir/Observation/{records['hanako_obs']}", broken).status_code == 400

    assert Resource.objects.get(logical_id=records["hanako_obs"]).version_id == 1
    event = last_event()
    assert (event.subtype, event.status, event.patients) == ("update", 400, [records["hanako"]])


def test_when_the_event_cannot_be_written_the_request_fails_and_changes_nothing(fhir, records):
    with connection.cursor() as cursor:  # the trail takes no more rows, as if its disk were full
        cursor.execute("ALTER TABLE consent_audit_record ADD CONSTRAINT full_disk CHECK (false) NOT VALID")
    before = Resource.objects.filter(resource_type="Observation").count()

    response = fhir.post("/fhir/Observation", observation(f"Patient/{records['hanako']}"))

    assert response.status_code == 500
    assert "could not be audited" in issue_texts(response)[0]
    assert Resource.objects.filter(resource_type="Observation").count() == before


def audit_search(fhir: FhirClient, query: str) -> dict[str, Any]:
    response = fhir.get(f"/fhir/AuditEvent{query}")
    assert response.status_code == 200, response.content
    return dict(response.json())


def test_audit_events_are_valid_fhir_balp_shaped(fhir, records):
    fhir.get(f"/fhir/Observation/{records['hanako_obs']}")

    bundle = audit_search(fhir, f"?patient=Patient/{records['hanako']}&_count=1")

    (entry,) = bundle["entry"]
    event = entry["resource"]
    resource_validate(event, expected_type="AuditEvent")
    assert event["type"]["code"] == "rest"
    assert event["subtype"] == [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}]
    assert (event["action"], event["outcome"]) == ("R", "0")
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "HOPERAT"
    (app,) = [agent for agent in event["agent"] if agent["type"]["coding"][0]["code"] == "110150"]
    assert app["who"]["identifier"]["value"] == client_of(fhir)
    assert app["requestor"] is True  # a back-office client acting on its own
    whats = [entity["what"]["reference"] for entity in event["entity"]]
    assert whats == [f"Patient/{records['hanako']}", f"Observation/{records['hanako_obs']}"]
    assert fhir.get(f"/fhir/AuditEvent/{event['id']}").json() == event


def test_audit_search_filters_and_pages_newest_first(fhir, records):
    for _ in range(3):
        fhir.get(f"/fhir/Observation/{records['taro_obs']}")
    first = audit_search(fhir, f"?entity=Observation/{records['taro_obs']}&type=rest&_count=2")
    ids = [entry["resource"]["id"] for entry in first["entry"]]
    assert ids == sorted(ids, key=int, reverse=True)
    (next_link,) = [link["url"] for link in first["link"] if link["relation"] == "next"]
    second = fhir.get(next_link.removeprefix("http://testserver")).json()
    more = [entry["resource"]["id"] for entry in second["entry"]]
    assert more
    assert int(more[0]) < int(ids[-1])

    assert audit_search(fhir, "?type=110114")["entry"] == []  # no sign-ins here
    assert audit_search(fhir, "?date=lt2000-01-01")["entry"] == []
    agent = audit_search(fhir, f"?agent={client_of(fhir)}&_count=1000")["entry"]
    assert agent
    assert audit_search(fhir, "?agent=someone-else")["entry"] == []


def test_audit_search_refuses_what_it_does_not_understand(fhir):
    assert fhir.get("/fhir/AuditEvent?outcome=4").status_code == 400
    assert fhir.get("/fhir/AuditEvent?date=xx2020").status_code == 400
    assert fhir.get("/fhir/AuditEvent?date=ge2020-13").status_code == 400
    assert fhir.get("/fhir/AuditEvent?_page_token=%%%").status_code == 400


def test_the_trail_is_read_only(fhir, records):
    fhir.get(f"/fhir/Patient/{records['hanako']}")
    event_id = last_event().pk
    event = fhir.get(f"/fhir/AuditEvent/{event_id}").json()

    for response in (
        fhir.post("/fhir/AuditEvent", event),
        fhir.put(f"/fhir/AuditEvent/{event_id}", event),
        fhir.delete(f"/fhir/AuditEvent/{event_id}"),
    ):
        assert response.status_code == 405
        assert issue_texts(response)[0].startswith(f"{response.request['REQUEST_METHOD']} is not supported")
    assert fhir.get(f"/fhir/AuditEvent/{event_id}/_history").status_code == 404  # not the store's history
    assert fhir.get("/fhir/AuditEvent/not-a-number").status_code == 404
    assert AuditRecord.objects.filter(pk=event_id).exists()


def test_reading_the_trail_is_audited_once(fhir, records):
    fhir.get(f"/fhir/Patient/{records['taro']}")
    before = AuditRecord.objects.count()

    bundle = audit_search(fhir, f"?patient={records['taro']}")

    assert AuditRecord.objects.count() == before + 1
    event = last_event()
    assert event.subtype == "search-type"
    assert event.entities == [f"AuditEvent/{entry['resource']['id']}" for entry in bundle["entry"]]
    assert event.patients == [records["taro"]]  # Taro sees that his trail was read


def test_a_token_without_audit_event_scopes_cannot_read_the_trail(records):
    narrow = FhirClient(system_token("system/Patient.rs"))
    assert narrow.get("/fhir/AuditEvent").status_code == 403
    assert FhirClient(system_token("system/AuditEvent.rs")).get("/fhir/AuditEvent").status_code == 200


def test_the_capability_statement_lists_exactly_what_audit_event_serves(fhir):
    resources = fhir.get("/fhir/metadata").json()["rest"][0]["resource"]

    (audit,) = [resource for resource in resources if resource["type"] == "AuditEvent"]
    assert [item["code"] for item in audit["interaction"]] == ["read", "search-type"]
    assert [param["name"] for param in audit["searchParam"]] == ["agent", "date", "entity", "patient", "type"]
    assert audit["searchParam"][3]["definition"] == "http://hl7.org/fhir/SearchParameter/AuditEvent-patient"


def test_bundles_and_system_searches_do_not_reach_audit_events_in_the_store(fhir, records):
    event = {"resourceType": "AuditEvent", "id": "forged"}
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"resource": event, "request": {"method": "PUT", "url": "AuditEvent/forged"}}],
    }

    response = fhir.post("/fhir", bundle)

    assert response.json()["entry"][0]["response"]["status"].startswith("405")
    assert fhir.get("/fhir?_type=AuditEvent").status_code == 400
