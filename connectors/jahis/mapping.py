"""JAHIS parts -> FHIR transaction entries in JP Core shapes (the table is in docs/connectors/jahis.md).

The patient part updates the Patient (this pharmacy's record of them) with its 患者特記; every other part
carries a conditional create of the Patient, so that it stores whatever order the parts arrive in. Record
keys start with the file name, which the pharmacy's export makes unique per dispensing; what the patient
part and the OTC records say is repeated in every file of a patient, so their keys are the patient number
and the content instead, and the same allergy sent again is the same resource.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from connectors.base import SourceInfo
from connectors.jahis.parser import (
    DOSAGE_FORMS,
    PROVIDED_INFO_KINDS,
    RECORDS,
    Dispensing,
    Drug,
    FileName,
    Institution,
    Note,
    Otc,
    Part,
    PatientPart,
    Remark,
    Rp,
    Usage,
)
from connectors.jp import (
    HL7_CODE_SYSTEM,
    JP_EXTENSION,
    JP_PROFILE,
    MEDICAL_INSTITUTION,
    PROJECT_SYSTEMS,
    create_entry,
    full_url,
    human_name,
    human_names,
    put_entry,
    record_entry,
)

Json = dict[str, Any]

MEDICAL_INSTITUTION_7 = "http://jpfhir.jp/fhir/core/mhlw/IdSystem/MedicalOrganizationID"
PREFECTURE_NO = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/PrefectureNo-2digits"
FEE_SCORE_TYPE = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationFeeScoreType"
RP_NUMBER = "http://jpfhir.jp/fhir/core/mhlw/IdSystem/Medication-RPGroupNumber"
ORDER_IN_RP = "http://jpfhir.jp/fhir/core/mhlw/IdSystem/MedicationAdministrationIndex"
GENERIC_NAME_CODE = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationGeneralOrderCode"
YJ = "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code"
HOT = {length: f"http://medis.or.jp/CodeSystem/master-HOT{length}" for length in (7, 9, 13)}
# JP Core defines no URI for レセプト電算 drug codes or the 厚労省 (薬価基準収載医薬品) code.
RECEIPT_DRUG = f"{PROJECT_SYSTEMS}CodeSystem/receipt-drug"
MHLW_DRUG = f"{PROJECT_SYSTEMS}CodeSystem/mhlw-drug-price-code"
# JAHIS's own tables (record numbers, 剤形) and its code types whose table the format leaves open.
JAHIS = f"{PROJECT_SYSTEMS}CodeSystem/jahis/"
JAHIS_RECORD = f"{JAHIS}record"
JAHIS_DOSAGE_FORM = f"{JAHIS}dosage-form"
GTIN = "https://www.gs1.org/gtin"  # JAN codes are GTIN-13
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

DRUG_SYSTEMS = {"2": RECEIPT_DRUG, "3": MHLW_DRUG, "4": YJ}
GENDERS = {"1": "male", "2": "female"}
ALLERGY_TYPES = {"1": "allergy", "2": "intolerance"}  # アレルギー歴, 副作用歴 (an adverse drug reaction)
PER_DAY, PER_USE = "日分", "回分"
# 調剤単位 left empty: 内服, 内滴, 浸煎 and 湯 are counted in days, 屯服 in uses (japan-formats §3.4).
COUNT_BY_FORM = {"1": PER_DAY, "2": PER_DAY, "6": PER_DAY, "7": PER_DAY, "3": PER_USE}
DAYS = {"unit": "日", "system": UCUM, "code": "d"}
USES = {"unit": "回"}
UNCONFIRMED = ("unconfirmed", "Unconfirmed")


def entries(source: SourceInfo, file: FileName, part: Part) -> list[Json]:
    """One part's transaction entries, the Patient first; an entry shared by two roles comes once."""
    if isinstance(part, PatientPart):
        result = _patient_part(source, file, part)
    elif isinstance(part, Otc):
        result = _otc(source, file, part)
    else:
        result = _dispensing(source, file, part)
    unique: dict[str, Json] = {}
    for entry in result:
        unique.setdefault(entry["fullUrl"], entry)
    return list(unique.values())


def _patient_part(source: SourceInfo, file: FileName, part: PatientPart) -> list[Json]:
    """Record 1 is this pharmacy's master data of the patient: a conditional update."""
    info = part.patient
    system, number = source.patient_identifier_system, file.patient
    patient: Json = {
        "resourceType": "Patient",
        "meta": {"profile": [JP_PROFILE + "JP_Patient"]},
        "identifier": [{"system": system, "value": number}],
    }
    _put(patient, "name", human_names(info.name, info.kana))
    _put(patient, "telecom", [_phone(info.phone)] if info.phone else [])
    _put(patient, "gender", GENDERS.get(info.sex))
    _put(patient, "birthDate", info.birth and info.birth.isoformat())
    address = {"use": "home", "text": info.address, "postalCode": info.postal_code}
    if info.address or info.postal_code:
        patient["address"] = [{key: value for key, value in address.items() if value}]
    if info.emergency_phone:
        relationship = _concept(f"{HL7_CODE_SYSTEM}v2-0131", "C", "Emergency Contact")
        patient["contact"] = [{"relationship": [relationship], "telecom": [_phone(info.emergency_phone)]}]
    url = _patient_url(source, number)
    subject = {"reference": url}
    result = [put_entry(url, patient, system, number)]
    result += [
        record_entry(source, f"{number}:2:{remark.kind}:{_digest(remark.text)}", _remark(remark, subject))
        for remark in part.remarks
    ]
    if info.weight is not None:
        weight = _observation("29463-7", "Body weight", subject)
        weight["category"] = [_concept(f"{HL7_CODE_SYSTEM}observation-category", "vital-signs", "Vital Signs")]
        weight["valueQuantity"] = {"value": _number(info.weight), "unit": "kg", "system": UCUM, "code": "kg"}
        result.append(record_entry(source, f"{file.key}:1:weight", weight))
    if info.blood_type:
        blood = _observation("882-1", "ABO and Rh group [Type] in Blood", subject)
        blood["valueString"] = info.blood_type
        result.append(record_entry(source, f"{file.key}:1:blood-type", blood))
    return result


def _remark(remark: Remark, subject: Json) -> Json:
    """患者特記 as the patient or pharmacy told it, never confirmed: アレルギー歴 and 副作用歴 as
    AllergyIntolerance, 既往歴 as Condition, その他 as a Flag; text only (JAHIS has no codes for them)."""
    if remark.kind in ALLERGY_TYPES:
        allergy: Json = {
            "resourceType": "AllergyIntolerance",
            "meta": {"profile": [JP_PROFILE + "JP_AllergyIntolerance"]},
            "clinicalStatus": _concept(f"{HL7_CODE_SYSTEM}allergyintolerance-clinical", "active", "Active"),
            "verificationStatus": _concept(f"{HL7_CODE_SYSTEM}allergyintolerance-verification", *UNCONFIRMED),
            "type": ALLERGY_TYPES[remark.kind],
        }
        if remark.kind == "2":
            allergy["category"] = ["medication"]
        return {**allergy, "code": {"text": remark.text}, "patient": subject}
    if remark.kind == "3":
        return {
            "resourceType": "Condition",
            "verificationStatus": _concept(f"{HL7_CODE_SYSTEM}condition-ver-status", *UNCONFIRMED),
            "code": {"text": remark.text},
            "subject": subject,
        }
    return {"resourceType": "Flag", "status": "active", "code": {"text": remark.text}, "subject": subject}


def _otc(source: SourceInfo, file: FileName, otc: Otc) -> list[Json]:
    """An OTC drug as the patient's statement; with its ingredients (31) the drug is a contained Medication."""
    patient = _minimal_patient(source, file.patient)
    subject = {"reference": patient["fullUrl"]}
    drug: Json = {"text": otc.name}
    if otc.jan:
        drug = {"coding": [_coding(GTIN, otc.jan, otc.name)], **drug}
    statement: Json = {"resourceType": "MedicationStatement", "status": "completed" if otc.end else "active"}
    statement["category"] = _concept(
        f"{HL7_CODE_SYSTEM}medication-statement-category", "patientspecified", "Patient Specified"
    )
    if otc.ingredients:
        ingredients = [
            {"itemCodeableConcept": _ingredient(item.name, item.code_type, item.code)} for item in otc.ingredients
        ]
        statement["contained"] = [{"resourceType": "Medication", "id": "otc", "code": drug, "ingredient": ingredients}]
        statement["medicationReference"] = {"reference": "#otc"}
    else:
        statement["medicationCodeableConcept"] = drug
    statement["subject"] = subject
    period = {"start": otc.start and otc.start.isoformat(), "end": otc.end and otc.end.isoformat()}
    _put(statement, "effectivePeriod", {key: value for key, value in period.items() if value})
    statement["informationSource"] = subject
    key = f"{file.patient}:3:{_digest(f'{otc.name}|{otc.start}')}"
    return [patient, record_entry(source, key, statement)]


def _ingredient(name: str, code_type: str, code: str) -> Json:
    if not code:
        return {"text": name}
    return {"coding": [_coding(f"{JAHIS}otc-ingredient-code-type-{code_type or 'none'}", code, name)], "text": name}


def _dispensing(source: SourceInfo, file: FileName, dispensing: Dispensing) -> list[Json]:
    """The block's Patient (conditional create), organisations, dispenser, one MedicationDispense per drug
    and one Observation per 残薬確認."""
    patient = _minimal_patient(source, file.patient)
    subject = {"reference": patient["fullUrl"]}
    result = [patient]
    pharmacy = _organization(source, dispensing.pharmacy, result)
    dispenser = _dispenser(source, dispensing, result)
    performers = [{"actor": actor} for actor in (pharmacy, dispenser) if actor is not None]
    notes = [_annotation(note) for note in dispensing.notes]
    day = dispensing.day.isoformat()
    block = f"{file.key}:{dispensing.day:%Y%m%d}-{dispensing.ordinal}"
    for rp in dispensing.rps:
        prescriber = _organization(source, rp.institution, result)
        request = _prescription(rp, prescriber, subject)
        for drug in rp.drugs:
            dispense = _dispense(rp, drug, request, subject)
            _put(dispense, "performer", performers)
            dispense["whenHandedOver"] = day
            _put(dispense, "note", notes)
            result.append(record_entry(source, f"{block}:{rp.key}:{drug.position}", dispense))
    for index, text in enumerate(dispensing.remaining, start=1):
        observation = _observation("421", RECORDS["421"][0], subject, system=JAHIS_RECORD)
        observation["effectiveDateTime"] = day
        _put(observation, "performer", [pharmacy] if pharmacy else [])
        observation["valueString"] = text
        result.append(record_entry(source, f"{block}:421:{index}", observation))
    return result


def _organization(source: SourceInfo, institution: Institution | None, result: list[Json]) -> Json | None:
    """A JP_Organization created once per 10-digit code (every source may name it); without a code only
    its name, as a display."""
    if institution is None:
        return None
    if institution.code is None:
        return {"display": institution.name} if institution.name else None
    code = institution.code
    organization: Json = {
        "resourceType": "Organization",
        "meta": {"profile": [JP_PROFILE + "JP_Organization"]},
        "extension": [
            {"url": JP_EXTENSION + "JP_Organization_PrefectureNo", "valueCoding": _coding(PREFECTURE_NO, code[:2])},
            {
                "url": JP_EXTENSION + "JP_Organization_InsuranceOrganizationCategory",
                "valueCoding": _coding(FEE_SCORE_TYPE, code[2]),
            },
            {
                "url": JP_EXTENSION + "JP_Organization_InsuranceOrganizationNo",
                "valueIdentifier": {"system": MEDICAL_INSTITUTION_7, "value": code[3:]},
            },
        ],
        "identifier": [{"system": MEDICAL_INSTITUTION, "value": code}],
        "type": [_concept(f"{HL7_CODE_SYSTEM}organization-type", "prov", "Healthcare Provider")],
    }
    _put(organization, "name", institution.name)
    _put(
        organization,
        "telecom",
        [{"system": "phone", "value": institution.phone, "use": "work"}] if institution.phone else [],
    )
    address = {"use": "work", "text": institution.address, "postalCode": institution.postal_code}
    if institution.address or institution.postal_code:
        organization["address"] = [{key: value for key, value in address.items() if value}]
    url = full_url(source.code, f"organization:{code}", "Organization")
    result.append(create_entry(url, organization, MEDICAL_INSTITUTION, code))
    reference = {"reference": url}
    _put(reference, "display", institution.name)
    return reference


def _dispenser(source: SourceInfo, dispensing: Dispensing, result: list[Json]) -> Json | None:
    """Record 15's pharmacist (or dispensing doctor), known only by name: a Practitioner updated on
    `dispenser:<pharmacy code>:<name>`, so the same name at the same pharmacy is one Practitioner."""
    person = dispensing.dispenser
    if person is None:
        return None
    practitioner: Json = {
        "resourceType": "Practitioner",
        "meta": {"profile": [JP_PROFILE + "JP_Practitioner"]},
        "name": [human_name("IDE", person.name)],
    }
    _put(practitioner, "telecom", [{"system": "phone", "value": person.detail, "use": "work"}] if person.detail else [])
    pharmacy = dispensing.pharmacy
    scope = (pharmacy and (pharmacy.code or pharmacy.name)) or ""
    entry = record_entry(source, f"dispenser:{scope}:{person.name}", practitioner)
    result.append(entry)
    return {"reference": entry["fullUrl"], "display": person.name}


def _prescription(rp: Rp, prescriber: Json | None, subject: Json) -> list[Json]:
    """The prescription behind the RP, contained (JAHIS has no prescription number to key it by): the
    doctor of record 55 as a contained PractitionerRole of the institution of record 51."""
    request: Json = {"resourceType": "MedicationRequest", "id": "prescription", "status": "completed"}
    request["intent"] = "order"
    contained = [request]
    doctor = rp.doctor
    if doctor is not None:
        role: Json = {"resourceType": "PractitionerRole", "id": "prescriber", "practitioner": {"display": doctor.name}}
        _put(role, "organization", prescriber)
        _put(role, "specialty", [{"text": doctor.detail}] if doctor.detail else [])
        contained.append(role)
        request["requester"] = {"reference": "#prescriber"}
    else:
        _put(request, "requester", prescriber)
    request["subject"] = subject
    return contained


def _dispense(rp: Rp, drug: Drug, contained: list[Json], subject: Json) -> Json:
    usage = rp.usage
    assert usage is not None  # the parser refuses an RP without its 301
    medication = _medication(drug)
    request = {**contained[0], "medicationCodeableConcept": medication}
    dispense: Json = {
        "resourceType": "MedicationDispense",
        "contained": [request, *contained[1:]],
        "identifier": [
            {"system": RP_NUMBER, "value": str(rp.number)},
            {"system": ORDER_IN_RP, "value": str(drug.position)},
        ],
        "status": "completed",
        "category": _concept(JAHIS_DOSAGE_FORM, usage.form, DOSAGE_FORMS[usage.form]),
        "medicationCodeableConcept": medication,
        "subject": subject,
        "authorizingPrescription": [{"reference": "#prescription"}],
    }
    quantity, supply, dose = _amounts(drug, usage)
    _put(dispense, "quantity", quantity)
    _put(dispense, "daysSupply", supply)
    instruction: Json = {}
    _put(instruction, "text", "　".join(text for text in (usage.text, *rp.supplements, *drug.supplements) if text))
    cautions = [("291", text) for text in drug.cautions] + [("391", text) for text in rp.cautions]
    _put(instruction, "additionalInstruction", [_record_concept(record, text) for record, text in cautions])
    if usage.code:
        instruction["timing"] = {
            "code": {"coding": [{"system": f"{JAHIS}usage-code-type-{usage.code_type}", "code": usage.code}]}
        }
    _put(instruction, "doseAndRate", [dose] if dose else [])
    _put(dispense, "dosageInstruction", [instruction] if instruction else [])
    return dispense


def _medication(drug: Drug) -> Json:
    """The drug by 薬品コード種別 (HOT by its length), plus its 一般名コード; the name as printed is the text."""
    codings = []
    if drug.code_type == "6":
        codings.append(_coding(HOT[len(drug.code)], drug.code, drug.name))
    elif drug.code_type in DRUG_SYSTEMS:
        codings.append(_coding(DRUG_SYSTEMS[drug.code_type], drug.code, drug.name))
    if drug.generic_code:
        codings.append(_coding(GENERIC_NAME_CODE, drug.generic_code, drug.generic_name or None))
    medication: Json = {}
    _put(medication, "coding", codings)
    medication["text"] = drug.name
    return medication


def _amounts(drug: Drug, usage: Usage) -> tuple[Json | None, Json | None, Json | None]:
    """quantity, daysSupply and doseAndRate by 調剤単位: 日分 — 用量 is per day, quantity = 用量 x days;
    回分 — 用量 is per use, quantity = 用量 x uses; anything else (外用's 調剤) — 用量 is the total."""
    count_by = usage.count_unit if usage.count_unit in (PER_DAY, PER_USE) else None
    if not usage.count_unit:
        count_by = COUNT_BY_FORM.get(usage.form)
    dose, count = drug.dose, usage.count
    if count_by is None or count is None:
        return (None if dose is None else _quantity(dose, drug.unit)), None, None
    supply: Json = {"value": _number(count), **(DAYS if count_by == PER_DAY else USES)}
    if dose is None:
        return None, supply, None
    per = _quantity(dose, drug.unit)
    rate = {"rateRatio": {"numerator": per, "denominator": {"value": 1, **DAYS}}} if count_by == PER_DAY else None
    return _quantity(dose * count, drug.unit), supply, rate or {"doseQuantity": per}


def _quantity(value: Decimal, unit: str) -> Json:
    quantity: Json = {"value": _number(value)}
    _put(quantity, "unit", unit)
    return quantity


def _number(value: Decimal) -> int | Decimal:
    """A JSON number: integral values as int, others as the Decimal without trailing zeros (0.50 as 0.5), as a
    decimal read from FHIR JSON is held (a float would be checked again when it is stored)."""
    return int(value) if value == value.to_integral_value() else value.normalize()


def _annotation(note: Note) -> Json:
    """401 服用注意, 411 医療機関等提供情報, 501 備考, 601 患者等記入 as labelled notes on each drug of the block."""
    label = RECORDS[note.record][0]
    if note.kind:
        label = f"{label} ({PROVIDED_INFO_KINDS[note.kind]})"
    annotation: Json = {}
    if note.record == "601":
        annotation["authorString"] = "患者等"
        _put(annotation, "time", note.day and note.day.isoformat())
    annotation["text"] = f"{label}: {note.text}"
    return annotation


def _observation(code: str, display: str, subject: Json, *, system: str = LOINC) -> Json:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [_coding(system, code, display)], "text": display},
        "subject": subject,
    }


def _record_concept(record: str, text: str) -> Json:
    """A text labelled with the JAHIS record it came from, e.g. 291 薬品服用注意."""
    return {"coding": [_coding(JAHIS_RECORD, record, RECORDS[record][0])], "text": text}


def _minimal_patient(source: SourceInfo, number: str) -> Json:
    """The patient as a conditional create on the file's patient number, filled in by the patient part."""
    system = source.patient_identifier_system
    patient = {
        "resourceType": "Patient",
        "meta": {"profile": [JP_PROFILE + "JP_Patient"]},
        "identifier": [{"system": system, "value": number}],
    }
    return create_entry(_patient_url(source, number), patient, system, number)


def _patient_url(source: SourceInfo, number: str) -> str:
    return full_url(source.code, f"patient:{number}", "Patient")


def _phone(number: str) -> Json:
    mobile = number.startswith(("070", "080", "090"))
    return {"system": "phone", "value": number, "use": "mobile" if mobile else "home"}


def _digest(text: str) -> str:
    """A short stable key for free text (a record key must stay a plain identifier value)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _coding(system: str, code: str, display: str | None = None) -> Json:
    coding = {"system": system, "code": code}
    _put(coding, "display", display)
    return coding


def _concept(system: str, code: str, display: str) -> Json:
    return {"coding": [_coding(system, code, display)]}


def _put(target: Json, name: str, value: Any) -> None:
    """Set `name` only when there is something to say (FHIR forbids empty elements)."""
    if value:
        target[name] = value
