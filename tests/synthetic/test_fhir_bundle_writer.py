"""The FHIR clinic's Bundles: valid R4, JP Core shapes, conditional (idempotent) entries, the same bytes every run."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from federation.fhir.r4b import validation_issues
from synthetic.catalog.clinical import DEPARTMENTS, LAB_TESTS
from synthetic.model import Encounter, EncounterClass, InstitutionKind, LabPanel, LabResult, LabTest
from synthetic.writers import fhir_bundle
from tests.synthetic.recording import Recorder

RESOURCE_INSTANCE = "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier"


@pytest.fixture
def clinic(institution_of_kind):
    return institution_of_kind(InstitutionKind.FHIR_CLINIC)


def written(region, clinic, person):
    out = Recorder()
    fhir_bundle.write_person(region, clinic, person, out)
    assert out.tables == []  # a Bundle writer has no shared tables
    ((name, data),) = out.files.items()
    assert name == f"{person.views[clinic.code].patient_id}.json"
    return data


def bundle_of(region, clinic, person):
    return json.loads(written(region, clinic, person))


def resources(bundle, resource_type):
    return [entry["resource"] for entry in bundle["entry"] if entry["resource"]["resourceType"] == resource_type]


def test_every_resource_and_the_bundle_validate_as_r4(region, clinic, person):
    bundle = bundle_of(region, clinic, person)

    assert bundle["type"] == "transaction"
    for entry in bundle["entry"]:
        assert validation_issues(entry["resource"]) == [], entry["resource"]["resourceType"]
    assert validation_issues(bundle) == []


def test_only_this_clinics_records_are_written(region, clinic, person):
    bundle = bundle_of(region, clinic, person)

    counts = Counter(entry["resource"]["resourceType"] for entry in bundle["entry"])
    assert counts == {
        "Organization": 2,  # the clinic and the insurer
        "Patient": 1,
        "Coverage": 1,
        "Encounter": 1,
        "Condition": 1,
        "Observation": 1,
        "MedicationRequest": 1,
        "Immunization": 1,
        "AllergyIntolerance": 1,
    }
    assert resources(bundle, "Condition")[0]["code"]["text"] == "逆流性食道炎"


def test_patient_has_the_clinic_number_kanji_and_kana_names_and_the_views_current_address(region, clinic, person):
    view = person.views[clinic.code]
    (patient,) = resources(bundle_of(region, clinic, person), "Patient")

    assert patient["meta"]["profile"] == ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"]
    assert patient["identifier"] == [{"system": clinic.patient_identifier_system, "value": view.patient_id}]
    representations = {
        name["extension"][0]["valueCode"]: (name["text"], name["family"], name["given"]) for name in patient["name"]
    }
    assert representations == {
        "IDE": ("高橋 和子", "高橋", ["和子"]),  # the clinic's spelling, not the register's 髙
        "SYL": ("タカハシ カズコ", "タカハシ", ["カズコ"]),
    }
    assert (patient["gender"], patient["birthDate"]) == ("female", "1941-05-03")
    assert patient["telecom"] == [{"system": "phone", "value": "0548-23-4567", "use": "home"}]
    (address,) = patient["address"]
    current = view.addresses[-1][1]
    assert (address["postalCode"], address["text"], address["country"]) == (current.postal_code, current.text, "JP")
    assert address["line"] == [f"{current.district}{current.street}", current.building]
    assert "deceasedDateTime" not in patient


def test_every_entry_is_a_conditional_write_on_an_identifier(region, clinic, person):
    bundle = bundle_of(region, clinic, person)
    values = []

    for entry in bundle["entry"]:
        resource, request = entry["resource"], entry["request"]
        identifier = resource["identifier"][0]
        criteria = f"identifier={identifier['system']}|{identifier['value']}"
        if resource["resourceType"] == "Organization":
            assert request == {"method": "POST", "url": "Organization", "ifNoneExist": criteria}
        else:
            assert request == {"method": "PUT", "url": f"{resource['resourceType']}?{criteria}"}
        if resource["resourceType"] not in ("Organization", "Patient"):
            assert identifier["system"] == RESOURCE_INSTANCE
            assert identifier["value"].startswith(f"{clinic.organization_number}.")
            values.append(identifier["value"])
    assert len(values) == len(set(values))
    (patient_entry,) = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    patient_id = person.views[clinic.code].patient_id
    assert patient_entry["request"]["url"] == f"Patient?identifier={clinic.patient_identifier_system}|{patient_id}"


def test_clinical_resources_reference_the_patient_and_the_clinic_by_full_url(region, clinic, person):
    bundle = bundle_of(region, clinic, person)
    (patient_entry,) = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    patient = {"reference": patient_entry["fullUrl"]}
    (organization,) = [e for e in bundle["entry"] if e["resource"].get("name") == clinic.name]

    for entry in bundle["entry"]:
        resource = entry["resource"]
        link = {"Coverage": "beneficiary", "Immunization": "patient", "AllergyIntolerance": "patient"}.get(
            resource["resourceType"], "subject"
        )
        if resource["resourceType"] not in ("Organization", "Patient"):
            assert resource[link] == patient, resource["resourceType"]
    assert resources(bundle, "Encounter")[0]["serviceProvider"] == {"reference": organization["fullUrl"]}
    assert resources(bundle, "Patient")[0]["managingOrganization"] == {"reference": organization["fullUrl"]}


def test_the_same_person_gives_the_same_bytes_and_name_based_uuids(region, clinic, person):
    first = written(region, clinic, person)
    bundle = json.loads(first)

    assert written(region, clinic, person) == first
    full_urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(set(full_urls)) == len(full_urls)
    assert all(url.startswith("urn:uuid:") for url in full_urls)
    assert all(uuid.UUID(url.removeprefix("urn:uuid:")).version == 5 for url in full_urls)


def test_the_file_is_compact_utf8_json_without_bom(region, clinic, person):
    data = written(region, clinic, person)

    assert not data.startswith(b"\xef\xbb\xbf")
    assert b'"resourceType":"Bundle","type":"transaction"' in data
    assert "高橋" in data.decode("utf-8")
    assert b"\n" not in data


def test_coverage_has_the_card_and_the_insured_person_key(region, clinic, person):
    bundle = bundle_of(region, clinic, person)
    insurance = person.views[clinic.code].insurance
    (coverage,) = resources(bundle, "Coverage")
    insurer = next(o for o in resources(bundle, "Organization") if o["type"][0]["coding"][0]["code"] == "pay")

    assert coverage["identifier"][1] == {
        "system": "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID",
        "value": "39229990::12345678:",
    }
    assert coverage["extension"] == [
        {
            "url": "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonNumber",
            "valueString": insurance.number,
        }
    ]
    assert coverage["subscriberId"] == insurance.number
    assert "dependent" not in coverage  # a 後期高齢者 card has no 枝番
    assert insurer["identifier"] == [
        {"system": "http://jpfhir.jp/fhir/core/mhlw/IdSystem/InsurerNumber", "value": insurance.insurer_number}
    ]


def test_without_insurance_details_there_is_no_coverage_and_no_insurer(region, clinic, person):
    view = replace(person.views[clinic.code], insurance=None)
    uninsured = replace(person, views={**person.views, clinic.code: view})

    bundle = bundle_of(region, clinic, uninsured)

    assert resources(bundle, "Coverage") == []
    assert len(resources(bundle, "Organization")) == 1


def test_lab_values_keep_their_digits_units_ranges_and_flags(region, clinic, person):
    cre, hb = LAB_TESTS["cre"], LAB_TESTS["hb"]
    titer = LabTest("titer", "抗体価", "5F000000002306101", "倍", None, None, "023", "血清")
    panel = LabPanel(
        clinic.code,
        datetime(2026, 3, 2, 9, 10),
        datetime(2026, 3, 2, 15, 0),
        "000000042000299",
        DEPARTMENTS["internal"],
        clinic.staff[0],
        (LabResult(cre, Decimal("0.60")), LabResult(hb, Decimal("10.0")), LabResult(titer, Decimal(32))),
    )
    data = written(region, clinic, replace(person, lab_panels=[panel]))
    observations = resources(json.loads(data), "Observation")

    assert b'"value":0.60,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"' in data
    assert b'"value":10.0,"unit":"g/dL"' in data
    assert [o["identifier"][0]["value"] for o in observations] == [
        f"{clinic.organization_number}.000000042000299.1",
        f"{clinic.organization_number}.000000042000299.2",
        f"{clinic.organization_number}.000000042000299.3",
    ]
    normal, low, no_range = observations
    assert "interpretation" not in normal
    assert low["interpretation"][0]["coding"][0]["code"] == "L"
    assert low["code"]["coding"][0] == {
        "system": "http://medis.or.jp/CodeSystem/master-JLAC10-17digits",
        "code": hb.jlac10,
        "display": hb.name,
    }
    assert (low["effectiveDateTime"], low["issued"]) == ("2026-03-02T09:10:00+09:00", "2026-03-02T15:00:00+09:00")
    assert set(low["referenceRange"][0]) == {"low", "high"}
    assert no_range["valueQuantity"] == {"value": 32, "unit": "倍"}  # not UCUM: no system, no code
    assert "referenceRange" not in no_range


def test_medication_request_has_jp_core_identifiers_codes_dosage_and_supply(region, clinic, person):
    (request,) = resources(bundle_of(region, clinic, person), "MedicationRequest")
    prescription = next(p for p in person.prescriptions if p.institution == clinic.code)
    drug = prescription.drugs[0].drug

    assert {i["system"].rsplit("/", 1)[1]: i["value"] for i in request["identifier"]} == {
        "resourceInstance-identifier": f"{clinic.organization_number}.{prescription.order_number}.1",
        "Medication-RPGroupNumber": "1",
        "MedicationAdministrationIndex": "1",
    }
    assert [c["code"] for c in request["medicationCodeableConcept"]["coding"]] == [drug.hot9, drug.yj]
    (dosage,) = request["dosageInstruction"]
    assert dosage["timing"]["code"]["coding"][0]["code"] == drug.usage_code
    assert dosage["doseAndRate"][0]["rateRatio"]["numerator"]["code"] == "TAB"
    assert request["dispenseRequest"]["quantity"]["value"] == 56
    assert request["dispenseRequest"]["expectedSupplyDuration"] == {
        "value": 56,
        "unit": "日",
        "system": "http://unitsofmeasure.org",
        "code": "d",
    }
    assert request["authoredOn"] == "2026-02-16T10:25:00+09:00"
    assert request["status"] == "active"  # 56 days from 2026-02-16 reach past the end date
    assert request["category"][0]["coding"][0]["code"] == "OHP"


def test_immunization_and_allergy(region, clinic, person):
    bundle = bundle_of(region, clinic, person)
    (immunization,) = resources(bundle, "Immunization")
    (allergy,) = resources(bundle, "AllergyIntolerance")

    assert [c["system"] for c in immunization["vaccineCode"]["coding"]] == [
        "https://tsunagi.example.jp/fhir/CodeSystem/vaccine",
        "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code",
    ]
    assert (immunization["occurrenceDateTime"], immunization["lotNumber"]) == ("2025-10-28", "FLU25-118")
    assert (allergy["category"], allergy["code"]) == (["medication"], {"text": "ペニシリン"})


def test_a_death_on_the_clinics_ward_is_on_the_patient(region, clinic, person):
    dying = Encounter(
        clinic.code,
        EncounterClass.INPATIENT,
        DEPARTMENTS["internal"],
        datetime(2026, 3, 1, 11, 0),
        datetime(2026, 3, 9, 4, 12),
        None,
        died=True,
    )
    died = replace(person, death=date(2026, 3, 9), encounters=[*person.encounters, dying])

    bundle = bundle_of(region, clinic, died)

    assert resources(bundle, "Patient")[0]["deceasedDateTime"] == "2026-03-09T04:12:00+09:00"
    stay = next(e for e in resources(bundle, "Encounter") if e["class"]["code"] == "IMP")
    assert stay["hospitalization"]["dischargeDisposition"]["coding"][0]["code"] == "exp"
    assert validation_issues(bundle) == []
