"""FHIR-native clinic: one JP Core (FHIR R4) `transaction` Bundle per patient, ``<patient number>.json``.

Re-ingesting a file must change nothing, so every entry is conditional: the Patient is updated on the
clinic's patient number, the clinic and the insurer are created only if their number is unknown, and every
other resource is updated on a business identifier (resourceInstance-identifier ``<医療機関コード>.<key>``,
unique across sources because the clinic's code leads it). fullUrls are uuid5 of the source code and that
key, so a person's file has the same bytes on every run. JSON is compact UTF-8 without BOM; decimals keep
their digits (0.60 stays 0.60, as FHIR wants).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from synthetic.model import (
    Address,
    Allergy,
    Diagnosis,
    DosageForm,
    Encounter,
    EncounterClass,
    HealthInsurance,
    Immunization,
    Institution,
    LabPanel,
    Person,
    PrescribedDrug,
    Prescription,
    Region,
    SourceView,
)
from synthetic.output import Output

Json = dict[str, Any]

PROFILE = "http://jpfhir.jp/fhir/core/StructureDefinition/"
EXTENSION = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/"
NAME_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
RESOURCE_INSTANCE = "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier"
INSURER_NUMBER = "http://jpfhir.jp/fhir/core/mhlw/IdSystem/InsurerNumber"
INSURED_PERSON = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID"
MEDICAL_INSTITUTION_7 = "http://jpfhir.jp/fhir/core/mhlw/IdSystem/MedicalOrganizationID"
PREFECTURE_NO = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/PrefectureNo-2digits"
FEE_SCORE_TYPE = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationFeeScoreType"
RP_NUMBER = "http://jpfhir.jp/fhir/core/mhlw/IdSystem/Medication-RPGroupNumber"
ORDER_IN_RP = "http://jpfhir.jp/fhir/core/mhlw/IdSystem/MedicationAdministrationIndex"
ICD10 = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full"
MEDIS_KEY = "http://medis.or.jp/CodeSystem/master-disease-keyNumber"
MEDIS_EXCHANGE = "http://medis.or.jp/CodeSystem/master-disease-exCode"
JLAC10 = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits"
HOT9 = "http://medis.or.jp/CodeSystem/master-HOT9"
YJ = "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code"
JAMI_USAGE = "http://jami.jp/CodeSystem/MedicationUsage"
MERIT9_UNIT = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationUnitMERIT9Code"
MERIT9_CATEGORY = "http://jpfhir.jp/fhir/core/CodeSystem/JP_MedicationCategoryMERIT9_CS"
STRENGTH_TYPE = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationIngredientStrengthStrengthType"
DEPARTMENT = "http://jami.jp/SS-MIX2/CodeSystem/ClinicalDepartment"
JP_OBSERVATION_CATEGORY = "http://jpfhir.jp/fhir/core/CodeSystem/JP_SimpleObservationCategory_CS"
VACCINE = "https://tsunagi.example.jp/fhir/CodeSystem/vaccine"
UCUM = "http://unitsofmeasure.org"
HL7 = "http://terminology.hl7.org/CodeSystem/"

# uuid5 namespace of the generator's fullUrls: fixed, so that fullUrls never change between runs.
FULL_URL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://tsunagi.example.jp/synthetic/fhir-clinic")
ENCOUNTER_CLASSES = {
    EncounterClass.OUTPATIENT: ("AMB", "ambulatory"),
    EncounterClass.INPATIENT: ("IMP", "inpatient encounter"),
    EncounterClass.EMERGENCY: ("EMER", "emergency"),
}
INTERPRETATIONS = {"H": "High", "L": "Low"}
# json cannot write a Decimal as a number: a decimal goes in as its text behind a NUL (which no data holds)
# and the quotes around such strings are dropped after encoding. Three times faster than simplejson's
# use_decimal, which matters on patients with years of records.
DECIMAL_MARK = "\x00"
QUOTED_DECIMAL = re.compile(r'"\\u0000([-+.0-9E]+)"')
MOBILE_PREFIXES = ("070", "080", "090")
LABORATORY = {
    "coding": [
        {"system": JP_OBSERVATION_CATEGORY, "code": "laboratory", "display": "検体検査"},
        {"system": HL7 + "observation-category", "code": "laboratory", "display": "Laboratory"},
    ]
}
# 処方区分 (MERIT-9) and FHIR's category, by Prescription.inpatient.
PRESCRIPTION_CATEGORIES = {
    inpatient: {
        "coding": [
            {"system": MERIT9_CATEGORY, "code": merit9, "display": name},
            {"system": HL7 + "medicationrequest-category", "code": code, "display": code.capitalize()},
        ]
    }
    for inpatient, merit9, name, code in (
        (True, "IHP", "入院処方", "inpatient"),
        (False, "OHP", "外来処方", "outpatient"),
    )
}
DAYS = {"value": 1, "unit": "日", "system": UCUM, "code": "d"}
STRENGTH = {"coding": [{"system": STRENGTH_TYPE, "code": "1", "display": "製剤量"}]}


def write_person(region: Region, institution: Institution, person: Person, out: Output) -> None:
    """The patient's Bundle: who they are, their card, and everything this clinic recorded about them."""
    code = institution.code
    view = person.views[code]
    bundle = _Bundle(institution, view)
    bundle.add("Patient", _patient(region, institution, person, view, bundle), institution.patient_identifier_system)
    if view.insurance is not None:
        _coverage(bundle, view.insurance)
    for encounter in person.encounters:
        if encounter.institution == code:
            _encounter(bundle, encounter)
    for diagnosis in person.diagnoses:
        if diagnosis.institution == code:
            _condition(bundle, diagnosis)
    for panel in person.lab_panels:
        if panel.institution == code:
            _observations(bundle, panel)
    for prescription in person.prescriptions:
        if prescription.institution == code:
            for drug in prescription.drugs:
                _medication_request(region, bundle, prescription, drug)
    for immunization in person.immunizations:
        if immunization.institution == code:
            _immunization(bundle, immunization)
    for number, allergy in enumerate(person.allergies, start=1):
        _allergy(bundle, allergy, number)
    text = json.dumps(bundle.resource(), ensure_ascii=False, separators=(",", ":"))
    out.write_file(f"{view.patient_id}.json", QUOTED_DECIMAL.sub(r"\1", text).encode())


def write_institution(region: Region, institution: Institution, out: Output) -> None:
    """The clinic's Organization travels in every patient's Bundle, so nothing is written once per source."""


class _Bundle:
    """One patient's transaction: its entries and the references its resources share."""

    def __init__(self, institution: Institution, view: SourceView) -> None:
        self.source = institution.code
        self.organization_number = institution.organization_number
        self.patient_id = view.patient_id
        self.entries: list[Json] = []
        self.patient = {"reference": self._full_url("Patient", view.patient_id)}
        self.clinic = self.create("Organization", _organization(institution), institution.organization_system)

    def _full_url(self, resource_type: str, key: str) -> str:
        return f"urn:uuid:{uuid.uuid5(FULL_URL_NAMESPACE, f'{self.source}/{resource_type}/{key}')}"

    def add(self, resource_type: str, resource: Json, system: str) -> None:
        """A conditional update on the resource's first identifier, which must be under `system`."""
        value = resource["identifier"][0]["value"]
        self.entries.append(
            {
                "fullUrl": self._full_url(resource_type, value),
                "resource": resource,
                "request": {"method": "PUT", "url": f"{resource_type}?identifier={system}|{value}"},
            }
        )

    def create(self, resource_type: str, resource: Json, system: str) -> Json:
        """A conditional create (the resource is shared with other sources); its reference is returned."""
        value = resource["identifier"][0]["value"]
        full_url = self._full_url(resource_type, value)
        self.entries.append(
            {
                "fullUrl": full_url,
                "resource": resource,
                "request": {"method": "POST", "url": resource_type, "ifNoneExist": f"identifier={system}|{value}"},
            }
        )
        return {"reference": full_url}

    def record(self, resource_type: str, profile: str, key: str, body: Json, *identifiers: Json) -> None:
        """A clinical resource under its business identifier ``<医療機関コード>.<key>``."""
        value = f"{self.organization_number}.{key}"
        resource = {
            "resourceType": resource_type,
            "meta": {"profile": [PROFILE + profile]},
            "identifier": [{"system": RESOURCE_INSTANCE, "value": value}, *identifiers],
            **body,
        }
        self.add(resource_type, resource, RESOURCE_INSTANCE)

    def resource(self) -> Json:
        return {"resourceType": "Bundle", "type": "transaction", "entry": self.entries}


def _instant(moment: datetime) -> str:
    return f"{moment.isoformat(timespec='seconds')}+09:00"


def _coding(system: str, code: str, display: str) -> Json:
    return {"system": system, "code": code, "display": display}


def _concept(system: str, code: str, display: str) -> Json:
    return {"coding": [_coding(system, code, display)]}


def _address(address: Address, use: str) -> Json:
    line = [f"{address.district}{address.street}"]
    if address.building:
        line.append(address.building)
    return {
        "use": use,
        "text": address.text,
        "line": line,
        "city": address.city,
        "state": address.prefecture,
        "postalCode": address.postal_code,
        "country": "JP",
    }


def _organization(institution: Institution) -> Json:
    number = institution.organization_number
    return {
        "resourceType": "Organization",
        "meta": {"profile": [PROFILE + "JP_Organization"]},
        "extension": [
            {
                "url": EXTENSION + "JP_Organization_PrefectureNo",
                "valueCoding": {"system": PREFECTURE_NO, "code": number[:2]},
            },
            {
                "url": EXTENSION + "JP_Organization_InsuranceOrganizationCategory",
                "valueCoding": {"system": FEE_SCORE_TYPE, "code": number[2]},
            },
            {
                "url": EXTENSION + "JP_Organization_InsuranceOrganizationNo",
                "valueIdentifier": {"system": MEDICAL_INSTITUTION_7, "value": number[3:]},
            },
        ],
        "identifier": [{"system": institution.organization_system, "value": number}],
        "active": True,
        "type": [_concept(HL7 + "organization-type", "prov", "Healthcare Provider")],
        "name": institution.name,
        "telecom": [{"system": "phone", "value": institution.phone, "use": "work"}],
        "address": [_address(institution.address, "work")],
    }


def _patient(region: Region, institution: Institution, person: Person, view: SourceView, bundle: _Bundle) -> Json:
    name = view.name
    patient: Json = {
        "resourceType": "Patient",
        "meta": {"profile": [PROFILE + "JP_Patient"]},
        "identifier": [{"system": institution.patient_identifier_system, "value": view.patient_id}],
        "name": [
            _human_name("IDE", name.kanji, name.family_kanji, name.given_kanji),
            _human_name("SYL", name.kana, name.family_kana, name.given_kana),
        ],
    }
    if view.phone:
        use = "mobile" if view.phone.startswith(MOBILE_PREFIXES) else "home"
        patient["telecom"] = [{"system": "phone", "value": view.phone, "use": use}]
    patient["gender"] = view.sex.value
    patient["birthDate"] = view.birth_date.isoformat()
    died = next((e.end for e in person.encounters if e.died and e.institution == bundle.source), None)
    if died is not None:
        patient["deceasedDateTime"] = _instant(died)
    patient["address"] = [_address(view.address_on(region.as_of), "home")]
    patient["managingOrganization"] = bundle.clinic
    return patient


def _human_name(representation: str, text: str, family: str, given: str) -> Json:
    return {
        "extension": [{"url": NAME_REPRESENTATION, "valueCode": representation}],
        "use": "usual",
        "text": text,
        "family": family,
        "given": [given],
    }


def _coverage(bundle: _Bundle, insurance: HealthInsurance) -> None:
    """JP_Coverage: the card's 記号・番号・枝番 as extensions and the 被保険者個人識別子; the insurer is shared."""
    payor = bundle.create(
        "Organization",
        {
            "resourceType": "Organization",
            "meta": {"profile": [PROFILE + "JP_Organization"]},
            "identifier": [{"system": INSURER_NUMBER, "value": insurance.insurer_number}],
            "type": [_concept(HL7 + "organization-type", "pay", "Payer")],
        },
        INSURER_NUMBER,
    )
    extensions = [
        {"url": f"{EXTENSION}JP_Coverage_{element}", "valueString": value}
        for element, value in (
            ("InsuredPersonSymbol", insurance.symbol),
            ("InsuredPersonNumber", insurance.number),
            ("InsuredPersonSubNumber", insurance.branch),
        )
        if value
    ]
    body: Json = {
        "extension": extensions,
        "status": "active",
        "type": _concept(HL7 + "v3-ActCode", "PUBLICPOL", "public healthcare"),
        "subscriberId": f"{insurance.symbol}:{insurance.number}" if insurance.symbol else insurance.number,
        "beneficiary": bundle.patient,
    }
    if insurance.branch:
        body["dependent"] = insurance.branch
    relationship = "other" if insurance.dependent else "self"
    body["relationship"] = _concept(HL7 + "subscriber-relationship", relationship, relationship.capitalize())
    body["period"] = {"start": insurance.valid_from.isoformat()}
    body["payor"] = [payor]
    key = f"{bundle.patient_id}.{insurance.insurer_number}.{insurance.number}"
    bundle.record("Coverage", "JP_Coverage", key, body, {"system": INSURED_PERSON, "value": insurance.insured_key})


def _encounter(bundle: _Bundle, encounter: Encounter) -> None:
    class_code, class_display = ENCOUNTER_CLASSES[encounter.encounter_class]
    department = encounter.department
    body: Json = {
        "status": "finished" if encounter.end else "in-progress",
        "class": _coding(HL7 + "v3-ActCode", class_code, class_display),
        "serviceType": _concept(DEPARTMENT, department.code, department.name),
        "subject": bundle.patient,
    }
    if encounter.doctor:
        body["participant"] = [{"individual": {"display": encounter.doctor}}]
    period = {"start": _instant(encounter.start)}
    if encounter.end:
        period["end"] = _instant(encounter.end)
    body["period"] = period
    if encounter.reason is not None:
        reason = encounter.reason
        body["reasonCode"] = [{"coding": [_coding(ICD10, reason.icd10, reason.name)], "text": reason.name}]
    if encounter.died:
        body["hospitalization"] = {"dischargeDisposition": _concept(HL7 + "discharge-disposition", "exp", "Expired")}
    body["serviceProvider"] = bundle.clinic
    key = f"{bundle.patient_id}.{encounter.start:%Y%m%d%H%M}.{class_code}"
    bundle.record("Encounter", "JP_Encounter", key, body)


def _condition(bundle: _Bundle, diagnosis: Diagnosis) -> None:
    """Sensitive conditions carry no mark of their own: the platform labels them at ingest."""
    condition = diagnosis.condition
    clinical = "resolved" if diagnosis.abated else "active"
    verification = "provisional" if diagnosis.suspected else "confirmed"
    body: Json = {
        "clinicalStatus": _concept(HL7 + "condition-clinical", clinical, clinical.capitalize()),
        "verificationStatus": _concept(HL7 + "condition-ver-status", verification, verification.capitalize()),
        "category": [_concept(HL7 + "condition-category", "encounter-diagnosis", "Encounter Diagnosis")],
        "code": {
            "coding": [
                _coding(ICD10, condition.icd10, condition.name),
                _coding(MEDIS_KEY, condition.medis_key, condition.name),
                _coding(MEDIS_EXCHANGE, condition.medis_exchange, condition.name),
            ],
            "text": condition.name,
        },
        "subject": bundle.patient,
        "onsetDateTime": diagnosis.onset.isoformat(),
    }
    if diagnosis.abated:
        body["abatementDateTime"] = diagnosis.abated.isoformat()
    body["recordedDate"] = _instant(diagnosis.recorded_at)
    bundle.record("Condition", "JP_Condition_Diagnosis", diagnosis.order_number, body)


def _observations(bundle: _Bundle, panel: LabPanel) -> None:
    """One Observation per result, keyed by the panel's order number and the result's place in it."""
    effective = _instant(panel.collected_at)
    issued = _instant(panel.reported_at)
    for number, result in enumerate(panel.results, start=1):
        test = result.test
        body: Json = {
            "status": "final",
            "category": [LABORATORY],
            "code": {"coding": [_coding(JLAC10, test.jlac10, test.name)], "text": test.name},
            "subject": bundle.patient,
            "effectiveDateTime": effective,
            "issued": issued,
            "performer": [bundle.clinic],
            "valueQuantity": _quantity(result.value, test.unit),
        }
        if result.flag:
            flag = result.flag
            body["interpretation"] = [_concept(HL7 + "v3-ObservationInterpretation", flag, INTERPRETATIONS[flag])]
        body["specimen"] = {"display": test.specimen_name}
        limits = {
            bound: _quantity(value, test.unit)
            for bound, value in (("low", test.low), ("high", test.high))
            if value is not None
        }
        if limits:
            body["referenceRange"] = [limits]
        bundle.record("Observation", "JP_Observation_LabResult", f"{panel.order_number}.{number}", body)


def _quantity(value: Decimal, unit: str) -> Json:
    """A lab quantity; the unit is coded as UCUM when it is written in UCUM's ASCII syntax (all catalog units)."""
    if unit.isascii():
        return {"value": _decimal(value), "unit": unit, "system": UCUM, "code": unit}
    return {"value": _decimal(value), "unit": unit}


def _decimal(value: Decimal) -> str:
    return f"{DECIMAL_MARK}{value}"


def _medication_request(
    region: Region, bundle: _Bundle, prescription: Prescription, prescribed: PrescribedDrug
) -> None:
    """JP_MedicationRequest: one drug per RP (orderInRp 1), dosage per dosage form, the whole supply dispensed."""
    drug = prescribed.drug
    authored = prescription.ordered_at
    supply_ends = authored.date() + timedelta(days=prescribed.days)
    dose = {"value": _decimal(prescribed.daily_dose), "unit": drug.unit, "system": MERIT9_UNIT, "code": drug.unit_code}
    dosage: Json = {
        "extension": [
            {
                "url": EXTENSION + "JP_MedicationDosage_PeriodOfUse",
                "valuePeriod": {"start": authored.date().isoformat()},
            }
        ],
        "text": drug.usage_text,
        "timing": {"code": _concept(JAMI_USAGE, drug.usage_code, drug.usage_text)},
    }
    dispense: Json = {"quantity": {**dose, "value": _decimal(prescribed.daily_dose * prescribed.days)}}
    if drug.form is DosageForm.ORAL:
        duration = {**DAYS, "value": prescribed.days}
        dosage["extension"].append({"url": EXTENSION + "JP_MedicationDosage_UsageDuration", "valueDuration": duration})
        dosage["doseAndRate"] = [{"type": STRENGTH, "rateRatio": {"numerator": dose, "denominator": DAYS}}]
        dispense["expectedSupplyDuration"] = duration
    elif drug.form is DosageForm.AS_NEEDED:
        dosage["asNeededBoolean"] = True
        dosage["doseAndRate"] = [{"type": STRENGTH, "doseQuantity": dose}]
    body: Json = {
        "status": "completed" if supply_ends <= region.as_of else "active",
        "intent": "order",
        "category": [PRESCRIPTION_CATEGORIES[prescription.inpatient]],
        "medicationCodeableConcept": {
            "coding": [_coding(HOT9, drug.hot9, drug.name), _coding(YJ, drug.yj, drug.name)],
            "text": drug.name,
        },
        "subject": bundle.patient,
        "authoredOn": _instant(authored),
        "requester": {"display": prescription.doctor},
        "dosageInstruction": [dosage],
        "dispenseRequest": dispense,
    }
    rp = str(prescribed.rp_number)
    bundle.record(
        "MedicationRequest",
        "JP_MedicationRequest",
        f"{prescription.order_number}.{rp}",
        body,
        {"system": RP_NUMBER, "value": rp},
        {"system": ORDER_IN_RP, "value": "1"},
    )


def _immunization(bundle: _Bundle, immunization: Immunization) -> None:
    vaccine = immunization.vaccine
    body: Json = {
        "status": "completed",
        "vaccineCode": {
            "coding": [_coding(VACCINE, vaccine.code, vaccine.name), _coding(YJ, vaccine.yj, vaccine.name)],
            "text": vaccine.name,
        },
        "patient": bundle.patient,
        "occurrenceDateTime": immunization.given_on.isoformat(),
        "primarySource": True,
        "lotNumber": immunization.lot_number,
    }
    key = f"{bundle.patient_id}.{immunization.given_on:%Y%m%d}.{vaccine.code}"
    bundle.record("Immunization", "JP_Immunization", key, body)


def _allergy(bundle: _Bundle, allergy: Allergy, number: int) -> None:
    """The clinic's allergy list: keyed by its place in the list, which only ever grows at the end."""
    body: Json = {
        "clinicalStatus": _concept(HL7 + "allergyintolerance-clinical", "active", "Active"),
        "verificationStatus": _concept(HL7 + "allergyintolerance-verification", "confirmed", "Confirmed"),
        "category": [allergy.category],
        "code": {"text": allergy.substance},
        "patient": bundle.patient,
        "recordedDate": allergy.recorded_on.isoformat(),
    }
    bundle.record("AllergyIntolerance", "JP_AllergyIntolerance", f"{bundle.patient_id}.A{number}", body)
