"""Conditional create (If-None-Exist), update (PUT Type?criteria) and delete (DELETE Type?criteria)."""

from __future__ import annotations

from tests.conftest import issue_texts, patient

HOSPITAL = "urn:oid:1.2.392.100495.20.3.51.11234567890"


def with_identifier(value: str, **fields):
    return patient(identifier=[{"system": HOSPITAL, "value": value}], **fields)


def test_conditional_create_creates_when_nothing_matches(fhir):
    response = fhir.post("/fhir/Patient", with_identifier("A1"), headers={"If-None-Exist": f"identifier={HOSPITAL}|A1"})

    assert response.status_code == 201


def test_conditional_create_returns_the_match_without_writing(fhir):
    first = fhir.post("/fhir/Patient", with_identifier("A1")).json()

    response = fhir.post(
        "/fhir/Patient", with_identifier("A1", gender="male"), headers={"If-None-Exist": f"identifier={HOSPITAL}|A1"}
    )

    assert response.status_code == 200
    assert response.json()["id"] == first["id"]
    assert response.json()["gender"] == "female"


def test_conditional_create_with_several_matches_is_412(fhir):
    fhir.post("/fhir/Patient", with_identifier("A1"))
    fhir.post("/fhir/Patient", with_identifier("A1"))

    response = fhir.post("/fhir/Patient", with_identifier("A1"), headers={"If-None-Exist": "identifier=A1"})

    assert response.status_code == 412


def test_identifier_criteria_forms(fhir):
    fhir.post("/fhir/Patient", with_identifier("A1"))
    found = "If-None-Exist"

    assert fhir.post("/fhir/Patient", with_identifier("Z"), headers={found: "identifier=A1"}).status_code == 200
    assert (
        fhir.post("/fhir/Patient", with_identifier("Z"), headers={found: f"identifier={HOSPITAL}|"}).status_code == 200
    )
    assert fhir.post("/fhir/Patient", with_identifier("Z"), headers={found: "identifier=other|A1"}).status_code == 201
    assert fhir.post("/fhir/Patient", with_identifier("Z"), headers={found: "identifier=B9,A1"}).status_code == 200


def test_criteria_are_anded_across_parameters(fhir):
    first = fhir.post("/fhir/Patient", with_identifier("A1")).json()

    same = f"_id={first['id']}&identifier=A1"
    other = "_id=someone-else&identifier=A1"

    assert fhir.post("/fhir/Patient", with_identifier("A1"), headers={"If-None-Exist": same}).status_code == 200
    assert fhir.post("/fhir/Patient", with_identifier("A1"), headers={"If-None-Exist": other}).status_code == 201


def test_unknown_criteria_are_refused_not_ignored(fhir):
    response = fhir.post("/fhir/Patient", patient(), headers={"If-None-Exist": "favourite-colour=blue"})

    assert response.status_code == 400
    assert "favourite-colour" in issue_texts(response)[0]


def test_any_search_parameter_can_be_a_criterion(fhir):
    first = fhir.post("/fhir/Patient", patient()).json()

    response = fhir.post("/fhir/Patient", patient(), headers={"If-None-Exist": "family=山田&birthdate=1941-04-02"})

    assert response.status_code == 200
    assert response.json()["id"] == first["id"]


def test_conditional_update_updates_the_single_match(fhir):
    first = fhir.post("/fhir/Patient", with_identifier("A1")).json()

    response = fhir.put(f"/fhir/Patient?identifier={HOSPITAL}|A1", with_identifier("A1", gender="male"))

    assert response.status_code == 200
    assert response.json()["id"] == first["id"]
    assert response.json()["meta"]["versionId"] == "2"


def test_conditional_update_creates_when_nothing_matches(fhir):
    response = fhir.put(f"/fhir/Patient?identifier={HOSPITAL}|NEW", with_identifier("NEW"))

    assert response.status_code == 201
    assert response["Location"]


def test_conditional_update_with_several_matches_is_412(fhir):
    fhir.post("/fhir/Patient", with_identifier("A1"))
    fhir.post("/fhir/Patient", with_identifier("A1"))

    assert fhir.put("/fhir/Patient?identifier=A1", with_identifier("A1")).status_code == 412


def test_conditional_update_with_a_different_body_id_is_400(fhir):
    fhir.post("/fhir/Patient", with_identifier("A1"))

    assert fhir.put("/fhir/Patient?identifier=A1", with_identifier("A1", id="not-the-match")).status_code == 400


def test_conditional_update_without_criteria_is_400(fhir):
    assert fhir.put("/fhir/Patient", patient()).status_code == 400


def test_deleted_resources_do_not_match(fhir):
    first = fhir.post("/fhir/Patient", with_identifier("A1")).json()
    fhir.delete(f"/fhir/Patient/{first['id']}")

    response = fhir.post("/fhir/Patient", with_identifier("A1"), headers={"If-None-Exist": "identifier=A1"})

    assert response.status_code == 201


def test_single_identifier_resources_match_too(fhir):
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"},
    }
    fhir.post("/fhir/Bundle", bundle)

    criteria = "identifier=urn:ietf:rfc:3986|urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"
    assert fhir.post("/fhir/Bundle", bundle, headers={"If-None-Exist": criteria}).status_code == 200


def test_conditional_delete_deletes_the_single_match(fhir):
    first = fhir.post("/fhir/Patient", with_identifier("A1")).json()
    other = fhir.post("/fhir/Patient", with_identifier("B2")).json()

    response = fhir.delete(f"/fhir/Patient?identifier={HOSPITAL}|A1")

    assert response.status_code == 204
    assert response.headers["ETag"] == 'W/"2"'
    assert fhir.get(f"/fhir/Patient/{first['id']}").status_code == 410
    assert fhir.get(f"/fhir/Patient/{other['id']}").status_code == 200


def test_conditional_delete_of_nothing_is_a_no_op(fhir):
    response = fhir.delete(f"/fhir/Patient?identifier={HOSPITAL}|nobody", headers={"Prefer": "return=OperationOutcome"})

    assert response.status_code == 200
    assert "matched nothing" in issue_texts(response)[0]


def test_conditional_delete_with_several_matches_is_412_and_deletes_nothing(fhir):
    first = fhir.post("/fhir/Patient", with_identifier("A1")).json()
    fhir.post("/fhir/Patient", with_identifier("A1"))

    assert fhir.delete("/fhir/Patient?identifier=A1").status_code == 412
    assert fhir.get(f"/fhir/Patient/{first['id']}").status_code == 200


def test_conditional_delete_without_criteria_is_400(fhir):
    assert fhir.delete("/fhir/Patient").status_code == 400


def test_conditional_delete_in_a_transaction(fhir):
    first = fhir.post("/fhir/Patient", with_identifier("A1")).json()
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "DELETE", "url": f"Patient?identifier={HOSPITAL}|A1"}}],
    }

    response = fhir.post("/fhir", bundle)

    assert response.status_code == 200
    assert response.json()["entry"][0]["response"]["status"] == "204 No Content"
    assert fhir.get(f"/fhir/Patient/{first['id']}").status_code == 410
