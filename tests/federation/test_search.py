"""Search by example: each parameter type, modifier and prefix, with Japanese data."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import issue_texts
from tests.federation.search_data import HOSPITAL, JLAC10, LOINC, jp_patient, lab

HBA1C, GLUCOSE = "3D045000001906202", "3D010000001926101"


@pytest.fixture
def region(fhir):
    """Three patients, their labs and conditions, written through the API (so indexed on write)."""
    resources = [
        jp_patient("p1", ("山田", "花子"), ("ヤマダ", "ハナコ"), gender="female", birthDate="1941-04-02"),
        jp_patient("p2", ("髙橋", "太郎"), ("たかはし", "たろう"), gender="male", birthDate="1950-11"),
        jp_patient(
            "p3",
            ("佐藤", "ジョゼ"),
            ("ｻﾄｳ", "ｼﾞｮｾﾞ"),
            gender="male",
            birthDate="1938",
            address=[{"city": "仙台市", "postalCode": "980-0811"}],
            meta={"tag": [{"system": "urn:tsunagi:test", "code": "vip"}]},
        ),
        {"resourceType": "Organization", "id": "o1", "name": "つなぎ総合病院"},
        lab("o-1", "p1", HBA1C, 6.5, "%", "2026-03-01T09:00:00+09:00", loinc="4548-4", text="HbA1c"),
        lab("o-2", "p1", GLUCOSE, 126, "mg/dL", "2026-03-01T09:00:00+09:00", loinc="2345-7", text="血糖"),
        lab("o-3", "p2", HBA1C, 7.2, "%", "2026-04-10", loinc="4548-4", text="HbA1c"),
        lab("o-4", "p3", GLUCOSE, 99.5, "mg/dL", "2025-12-31T23:30:00+09:00", text="血糖"),
        {
            "resourceType": "Condition",
            "id": "c1",
            "subject": {"reference": "Patient/p1"},
            "clinicalStatus": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
            },
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11"}], "text": "2型糖尿病"},
            "onsetPeriod": {"start": "2020-05-01"},
        },
    ]
    for resource in resources:
        response = fhir.put(f"/fhir/{resource['resourceType']}/{resource['id']}", resource)
        assert response.status_code == 201, response.content
    return fhir


def ids(fhir, query: str) -> list[str]:
    response = fhir.get(f"/fhir/{query}")
    assert response.status_code == 200, response.content
    bundle = response.json()
    assert bundle["type"] == "searchset"
    return sorted(entry["resource"]["id"] for entry in bundle.get("entry", []) if entry["search"]["mode"] == "match")


# string


def test_kana_names_match_across_hiragana_katakana_and_width(region):
    assert ids(region, "Patient?name=やまだ") == ["p1"]
    assert ids(region, "Patient?name=ヤマ") == ["p1"]
    assert ids(region, "Patient?name=ﾀｶﾊｼ") == ["p2"]
    assert ids(region, "Patient?family=さとう") == ["p3"]
    assert ids(region, "Patient?given=じょぜ") == ["p3"]


def test_kanji_names_match_by_prefix(region):
    assert ids(region, "Patient?name=山") == ["p1"]
    assert ids(region, "Patient?family=髙橋") == ["p2"]
    assert ids(region, "Patient?family=高橋") == []  # 旧字体/新字体 folding belongs to identity linking


def test_a_prefix_is_a_range_up_to_its_last_characters_successor(region):
    fhir = region
    fhir.put("/fhir/Patient/p5", jp_patient("p5", ("\ud7ffa", "x"), ("\ue000", "y")))
    assert ids(fhir, "Patient?family=\ud7ff") == ["p5"]  # the successor skips the surrogates
    assert ids(fhir, "Patient?family=\ue000") == ["p5"]
    assert ids(fhir, "Patient?family=やまだ") == ["p1"]
    assert ids(fhir, "Patient?family=やまぢ") == []  # the successor of だ bounds the range, it is not in it


def test_string_is_case_and_accent_insensitive(region):
    fhir = region
    fhir.put("/fhir/Patient/p4", jp_patient("p4", ("José", "Müller"), ("ホセ", "ミュラー")))
    assert ids(fhir, "Patient?family=jose") == ["p4"]
    assert ids(fhir, "Patient?given=MUL") == ["p4"]


def test_string_exact_and_contains(region):
    assert ids(region, "Patient?family:exact=山田") == ["p1"]
    assert ids(region, "Patient?family:exact=山") == []
    assert ids(region, "Patient?family:exact=ヤマダ") == ["p1"]
    assert ids(region, "Patient?family:exact=やまだ") == []
    assert ids(region, "Patient?name:contains=ナコ") == ["p1"]
    assert ids(region, "Organization?name:contains=総合") == ["o1"]


def test_address_parts(region):
    assert ids(region, "Patient?address-city=仙台") == ["p3"]
    assert ids(region, "Patient?address-postalcode=980") == ["p3"]
    assert ids(region, "Patient?address=980-0811") == ["p3"]


def test_jp_core_kana_sort_parameter(region):
    assert ids(region, "Patient?jp-kana-sort=やまだ") == ["p1"]


# token


def test_token_forms(region):
    assert ids(region, "Patient?gender=male") == ["p2", "p3"]
    assert ids(region, f"Patient?identifier={HOSPITAL}|P1") == ["p1"]
    assert ids(region, "Patient?identifier=P2") == ["p2"]
    assert ids(region, f"Patient?identifier={HOSPITAL}|") == ["p1", "p2", "p3"]
    assert ids(region, "Patient?identifier=|P1") == []
    assert ids(region, f"Observation?code={JLAC10}|{HBA1C}") == ["o-1", "o-3"]
    assert ids(region, f"Observation?code={LOINC}|4548-4") == ["o-1", "o-3"]
    assert ids(region, "Observation?code=2345-7") == ["o-2"]


def test_token_or_and_and(region):
    assert ids(region, f"Observation?code={HBA1C},{GLUCOSE}") == ["o-1", "o-2", "o-3", "o-4"]
    assert ids(region, f"Observation?code={HBA1C}&subject=Patient/p1") == ["o-1"]


def test_token_not_includes_resources_without_a_value(region):
    assert ids(region, "Patient?gender:not=male") == ["p1"]
    assert ids(region, "Organization?identifier:not=X") == ["o1"]


def test_token_text(region):
    assert ids(region, "Observation?code:text=hba") == ["o-1", "o-3"]
    assert ids(region, "Condition?code:text=2型") == ["c1"]


def test_token_terminology_modifiers_are_refused(region):
    response = region.get("/fhir/Observation?code:in=http://example.org/ValueSet/x")

    assert response.status_code == 400
    assert "terminology" in issue_texts(response)[0]


def test_tag(region):
    assert ids(region, "Patient?_tag=urn:tsunagi:test|vip") == ["p3"]


def test_id(region):
    assert ids(region, "Patient?_id=p1,p3") == ["p1", "p3"]


# date


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("birthdate=1941-04-02", ["p1"]),
        ("birthdate=1941", ["p1"]),
        ("birthdate=1950-11", ["p2"]),
        ("birthdate=1950-11-15", []),  # the month is wider than the day: eq needs containment
        ("birthdate=ne1941", ["p2", "p3"]),
        ("birthdate=gt1941-04-02", ["p2"]),
        ("birthdate=ge1941-04-02", ["p1", "p2"]),
        ("birthdate=lt1941", ["p3"]),
        ("birthdate=le1941", ["p1", "p3"]),
        ("birthdate=sa1940", ["p1", "p2"]),
        ("birthdate=eb1941", ["p3"]),
        ("birthdate=ge1938&birthdate=lt1942", ["p1", "p3"]),
    ],
)
def test_date_prefixes(region, query, expected):
    assert ids(region, f"Patient?{query}") == expected


def test_dates_without_zone_are_read_in_tokyo(region):
    # o-4 is 2025-12-31T23:30+09:00, which is 14:30 UTC on the same day.
    assert ids(region, "Observation?date=2025-12-31") == ["o-4"]
    assert ids(region, "Observation?date=2026-01-01") == []
    assert ids(region, "Observation?date=ge2025-12-31T23:00:00%2B09:00&date=lt2026") == ["o-4"]


def test_periods_and_open_ends(region):
    assert ids(region, "Condition?onset-date=ge2021") == ["c1"]  # still ongoing: no end
    assert ids(region, "Condition?onset-date=lt2020-06") == ["c1"]
    assert ids(region, "Condition?onset-date=lt2020-05-01") == []


def test_last_updated(region):
    assert ids(region, "Patient?_lastUpdated=ge2000-01-01") == ["p1", "p2", "p3"]
    assert ids(region, "Patient?_lastUpdated=lt2000-01-01") == []


def test_bad_dates_are_400(region):
    response = region.get("/fhir/Patient?birthdate=yesterday")
    assert response.status_code == 400


# quantity and number


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("value-quantity=6.5", ["o-1"]),
        ("value-quantity=7", ["o-1", "o-3"]),  # 7 means [6.5, 7.5)
        ("value-quantity=gt100", ["o-2"]),
        ("value-quantity=ge99.5", ["o-2", "o-4"]),
        ("value-quantity=lt7", ["o-1"]),
        ("value-quantity=le6.5", ["o-1"]),
        ("value-quantity=ne6.5", ["o-2", "o-3", "o-4"]),
        ("value-quantity=ap120", ["o-2"]),
        ("value-quantity=gt6||%25", ["o-1", "o-3"]),
        ("value-quantity=gt6|http://unitsofmeasure.org|mg/dL", ["o-2", "o-4"]),
    ],
)
def test_quantity_prefixes_and_units(region, query, expected):
    assert ids(region, f"Observation?{query}") == expected


def test_composite_code_and_value(region):
    assert ids(region, f"Observation?code-value-quantity={HBA1C}$gt7") == ["o-3"]
    assert ids(region, f"Observation?code-value-quantity={GLUCOSE}$gt7") == ["o-2", "o-4"]
    assert ids(region, f"Observation?code-value-quantity={HBA1C}$gt100") == []


def test_a_composite_of_the_resource_is_missing_where_one_part_is(region):
    """code-value-quantity is searched on code's and value-quantity's rows: an Observation with a code and no value
    has no code-value-quantity."""
    valueless = {
        "resourceType": "Observation",
        "id": "nv",
        "status": "final",
        "code": {"coding": [{"system": JLAC10, "code": HBA1C}]},
    }
    assert region.put("/fhir/Observation/nv", valueless).status_code == 201

    assert "nv" in ids(region, "Observation?code-value-quantity:missing=true")
    assert "nv" not in ids(region, "Observation?code-value-quantity:missing=false")
    assert "o-3" in ids(region, "Observation?code-value-quantity:missing=false")
    assert ids(region, f"Observation?code-value-quantity={HBA1C}$ge0") == ["o-1", "o-3"]


def test_combo_composites_match_the_observation_or_one_component_never_a_mix(region):
    """combo-code-value-quantity is searched as code-value-quantity or component-code-value-quantity: the
    Observation's own code never pairs with a component's value, nor one component's code with another's."""
    panel = {
        "resourceType": "Observation",
        "id": "bp",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "valueQuantity": {"value": 1, "system": "http://unitsofmeasure.org", "code": "1"},
        "component": [
            {"code": {"coding": [{"system": LOINC, "code": code}]}, "valueQuantity": {"value": value}}
            for code, value in (("8480-6", 120), ("8462-4", 80))
        ],
    }
    assert region.put("/fhir/Observation/bp", panel).status_code == 201
    found = {
        query: ids(region, f"Observation?combo-code-value-quantity={query}")
        for query in ("85354-9$1", "8480-6$120", "8462-4$80", "85354-9$120", "8480-6$1", "8480-6$80", "8462-4$120")
    }
    assert found == {
        "85354-9$1": ["bp"],
        "8480-6$120": ["bp"],
        "8462-4$80": ["bp"],
        "85354-9$120": [],
        "8480-6$1": [],
        "8480-6$80": [],
        "8462-4$120": [],
    }
    assert "bp" in ids(region, "Observation?combo-code-value-quantity:missing=false")


# reference


def test_reference_forms(region):
    assert ids(region, "Observation?subject=Patient/p1") == ["o-1", "o-2"]
    assert ids(region, "Observation?subject=p2") == ["o-3"]
    assert ids(region, "Observation?subject:Patient=p3") == ["o-4"]
    assert ids(region, "Observation?patient=p1") == ["o-1", "o-2"]
    assert ids(region, "Observation?subject:Group=p1") == []


def test_chaining(region):
    assert ids(region, "Observation?subject:Patient.name=たかはし") == ["o-3"]
    assert ids(region, "Observation?patient.birthdate=lt1942") == ["o-1", "o-2", "o-4"]
    assert ids(region, "Observation?patient.gender=male&code=" + HBA1C) == ["o-3"]


def test_reverse_chaining(region):
    assert ids(region, f"Patient?_has:Observation:patient:code={HBA1C}") == ["p1", "p2"]
    assert ids(region, "Patient?_has:Condition:subject:code=E11") == ["p1"]
    assert ids(region, f"Patient?_has:Observation:patient:code={HBA1C}&gender=male") == ["p2"]


@pytest.fixture
def group_and_remote_subjects(region):
    """Observations about a Group that has a Patient's id, and about a Patient on another server: patient is
    subject's rows naming a Patient, so it finds the second and never the first."""
    group = {"resourceType": "Group", "id": "p1", "type": "person", "actual": True}
    assert region.put("/fhir/Group/p1", group).status_code == 201
    about = {"g-1": {"reference": "Group/p1"}, "r-1": {"reference": "https://other.example.jp/fhir/Patient/p9"}}
    for rid, subject in about.items():
        observation = lab(rid, "p1", HBA1C, 6.0, "%", "2026-05-01", text="HbA1c") | {"subject": subject}
        assert region.put(f"/fhir/Observation/{rid}", observation).status_code == 201
    return region


def test_patient_keeps_only_the_subjects_that_are_patients(group_and_remote_subjects):
    fhir = group_and_remote_subjects
    assert ids(fhir, "Observation?subject=p1") == ["g-1", "o-1", "o-2"]
    assert ids(fhir, "Observation?patient=p1") == ["o-1", "o-2"]
    assert ids(fhir, "Observation?patient=Group/p1") == []
    assert ids(fhir, "Observation?patient:Group=p1") == []
    assert ids(fhir, "Observation?patient=https://other.example.jp/fhir/Patient/p9") == ["r-1"]
    assert ids(fhir, "Observation?patient:missing=true") == ["g-1"]
    assert "r-1" in ids(fhir, "Observation?patient:missing=false")
    assert ids(fhir, "Observation?patient.name=山田") == ["o-1", "o-2"]


def test_patient_reverse_chains_and_includes_never_reach_a_group(group_and_remote_subjects):
    fhir = group_and_remote_subjects
    assert ids(fhir, f"Group?_has:Observation:patient:code={HBA1C}") == []
    assert ids(fhir, f"Group?_has:Observation:subject:code={HBA1C}") == ["p1"]
    bundle = fhir.get("/fhir/Observation?_id=g-1,o-1&_include=Observation:patient").json()
    included = sorted(e["resource"]["resourceType"] for e in bundle["entry"] if e["search"]["mode"] == "include")
    assert included == ["Patient"]
    bundle = fhir.get("/fhir/Group?_id=p1&_revinclude=Observation:patient").json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["p1"]


def test_missing(region):
    assert ids(region, "Patient?address:missing=false") == ["p3"]
    assert ids(region, "Patient?address:missing=true") == ["p1", "p2"]
    assert ids(region, "Patient?_tag:missing=true") == ["p1", "p2"]


# escaping, unknown parameters, errors


def test_escaped_comma_is_part_of_the_value(fhir):
    fhir.put("/fhir/Organization/o9", {"resourceType": "Organization", "id": "o9", "name": "山田,医院"})

    assert ids(fhir, "Organization?name=山田\\,医") == ["o9"]
    assert ids(fhir, "Organization?name=山田,医") == ["o9"]  # two values: 山田 OR 医


def test_unknown_parameter_is_reported_and_left_out_of_the_self_link(region):
    bundle = region.get("/fhir/Patient?gender=male&favourite-colour=blue").json()

    outcome = [entry for entry in bundle["entry"] if entry["search"]["mode"] == "outcome"]
    assert "favourite-colour" in outcome[0]["resource"]["issue"][0]["diagnostics"]
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert "favourite-colour" not in self_link
    assert "gender=male" in self_link


def test_unknown_parameter_under_strict_handling_is_400(region):
    response = region.get("/fhir/Patient?favourite-colour=blue", headers={"Prefer": "handling=strict"})

    assert response.status_code == 400
    assert "favourite-colour" in issue_texts(response)[0]


def test_wrong_modifier_is_400(region):
    assert region.get("/fhir/Patient?gender:exact=male").status_code == 400
    assert region.get("/fhir/Patient?birthdate:contains=1941").status_code == 400


def test_deleted_resources_are_not_found(region):
    region.delete("/fhir/Patient/p1")

    assert ids(region, "Patient?name=やまだ") == []


def test_updates_replace_index_rows(region):
    patient = region.get("/fhir/Patient/p1").json()
    region.put("/fhir/Patient/p1", {**patient, "gender": "male"})

    assert ids(region, "Patient?gender=female") == []
    assert "p1" in ids(region, "Patient?gender=male")


def test_post_search_with_form_body(region):
    response = region.post(
        "/fhir/Patient/_search", "gender=male&name=%E3%81%9F", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert [entry["resource"]["id"] for entry in response.json()["entry"]] == ["p2"]


# uri, meta parameters, identifier modifiers


@pytest.fixture
def catalogue(fhir):
    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": "m1",
            "meta": {
                "profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"],
                "source": "urn:tsunagi:source:hospital-a",
                "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}],
            },
            "identifier": [
                {
                    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                    "system": "urn:oid:1.2.392.100495.20.3.51.11234567890",
                    "value": "0001",
                }
            ],
        },
        {
            "resourceType": "Observation",
            "id": "m2",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"identifier": {"system": "urn:oid:1.2.392.100495.20.3.51.11234567890", "value": "0001"}},
        },
        {"resourceType": "ValueSet", "id": "v1", "status": "active", "url": "http://example.org/fhir/ValueSet/jp/kana"},
    ]
    for resource in resources:
        assert fhir.put(f"/fhir/{resource['resourceType']}/{resource['id']}", resource).status_code == 201
    return fhir


def test_meta_parameters(catalogue):
    assert ids(catalogue, "Patient?_profile=http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient") == ["m1"]
    assert ids(catalogue, "Patient?_source=urn:tsunagi:source:hospital-a") == ["m1"]
    assert ids(catalogue, "Patient?_security=R") == ["m1"]


def test_uri_above_and_below(catalogue):
    assert ids(catalogue, "ValueSet?url=http://example.org/fhir/ValueSet/jp/kana") == ["v1"]
    assert ids(catalogue, "ValueSet?url:below=http://example.org/fhir/ValueSet") == ["v1"]
    assert ids(catalogue, "ValueSet?url:below=http://example.org/fhir/ValueSet/jp/kana") == ["v1"]
    assert ids(catalogue, "ValueSet?url:below=http://example.org/fhir/Value") == []  # path segments, not text
    assert ids(catalogue, "ValueSet?url:above=http://example.org/fhir/ValueSet/jp/kana/katakana") == ["v1"]
    assert ids(catalogue, "ValueSet?url=http://example.org/fhir/ValueSet") == []


def test_identifier_of_type_and_reference_identifier(catalogue):
    of_type = "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|0001"
    assert ids(catalogue, f"Patient?{of_type}") == ["m1"]
    by_identifier = "subject:identifier=urn:oid:1.2.392.100495.20.3.51.11234567890|0001"
    assert ids(catalogue, f"Observation?{by_identifier}") == ["m2"]


def test_token_sort_is_refused_clearly(catalogue):
    response = catalogue.get("/fhir/Patient?_sort=gender")

    assert response.status_code == 400
    assert "cannot be sorted" in issue_texts(response)[0]
