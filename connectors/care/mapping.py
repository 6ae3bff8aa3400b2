"""Care CSV rows -> FHIR R4 transaction entries (codes and choices: docs/connectors/care-csv.md, "Mapping to
FHIR"). JP Core has no long-term-care profiles, so these follow japan-formats §4.10 with project code
systems; standard codes (LOINC, v3-ActCode, UCUM) are used wherever one exists.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from connectors.base import SourceInfo
from connectors.care.parser import (
    APPLICATIONS,
    CARE_LEVELS,
    INCIDENT_KINDS,
    INJURIES,
    PLACES,
    Adl,
    Certification,
    Checklist,
    Client,
    Incident,
    Row,
    Service,
    Vitals,
)
from connectors.jp import (
    HL7_CODE_SYSTEM,
    JP_PROFILE,
    PROJECT_SYSTEMS,
    Json,
    create_entry,
    full_url,
    human_names,
    ltc_insured_identifier,
    put_entry,
    record_entry,
)

CODE_SYSTEMS = f"{PROJECT_SYSTEMS}CodeSystem/"
EXTENSIONS = f"{PROJECT_SYSTEMS}StructureDefinition/"
LTC = f"{CODE_SYSTEMS}ltc"
CARE_LEVEL = f"{CODE_SYSTEMS}care-level"
SERVICE_TYPE = f"{CODE_SYSTEMS}ltc-service-type"
APPLICATION_KIND = f"{CODE_SYSTEMS}ltc-application-kind"
INCIDENT_PLACE = f"{CODE_SYSTEMS}incident-place"
INJURY = f"{CODE_SYSTEMS}injury"
COVERAGE_TYPE = f"{CODE_SYSTEMS}coverage-type"
LTC_INSURER = f"{PROJECT_SYSTEMS}IdSystem/ltc-insurer-number"
CHECKLIST_QUESTIONNAIRE = f"{PROJECT_SYSTEMS}Questionnaire/kihon-checklist"
REGISTERED_ON = f"{EXTENSIONS}ltc-registration-date"
APPLICATION_KIND_EXTENSION = f"{EXTENSIONS}ltc-application-kind"
APPLICATION_DATE_EXTENSION = f"{EXTENSIONS}ltc-application-date"
SERVICE_UNITS_EXTENSION = f"{EXTENSIONS}ltc-service-units"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ACT_CODE = f"{HL7_CODE_SYSTEM}v3-ActCode"
UNIT_NAMES = {"Cel": "°C", "mm[Hg]": "mmHg"}  # UCUM codes whose usual printed unit differs

# The format's words as the displays of the project codes they are mapped to (新規 -> new).
APPLICATION_NAMES = {code: word for word, code in APPLICATIONS.items()}
INCIDENT_NAMES = {code: word for word, code in INCIDENT_KINDS.items()}
PLACE_NAMES = {code: word for word, code in PLACES.items()}
INJURY_NAMES = {code: word for word, code in INJURIES.items()}
# Barthel Index items and total in LOINC (the codes of HL7's PACIO and US behavioral-health IGs).
BARTHEL_LOINC = {
    "食事": "83184-2",
    "移乗": "83185-9",
    "整容": "96767-9",
    "トイレ動作": "83183-4",
    "入浴": "83181-8",
    "平地歩行": "83186-7",
    "階段": "96758-8",
    "更衣": "83182-6",
    "排便": "96759-6",
    "排尿": "96760-4",
}
BARTHEL_TOTAL = "96761-2"
# Encounter.class by サービス種類コード: services at home, stays in a facility; the rest (通所 and codes
# not listed) are ambulatory.
HOME_SERVICES = frozenset({"11", "12", "13", "14", "17", "31", "43", "46", "71", "76", "A1", "A2", "A3", "A4"})
STAY_SERVICES = frozenset({"21", "22", "23", "32", "33", "51", "52", "53", "54", "55"})
ENCOUNTER_CLASSES = {"HH": "home health", "NONAC": "inpatient non-acute", "AMB": "ambulatory"}


def entries(source: SourceInfo, row: Row) -> list[Json]:
    """One row's transaction entries: its Patient first, then what the row records about that person."""
    record = row.record
    if isinstance(record, Client):
        return _client(source, record)
    patient = _minimal_patient(source, record.client)
    subject = {"reference": patient["fullUrl"]}
    match record:
        case Certification():
            resources = [_certification(record, subject)]
        case Service():
            resources = [_service(source, record, subject)]
        case Adl():
            resources = [_adl(source, record, subject)]
        case Incident():
            resources = [_incident(source, record, subject)]
        case Vitals():
            resources = _vitals(source, record, subject)
        case Checklist():
            return [patient, _checklist(source, record, subject)]
    return [patient, *(record_entry(source, key, resource) for key, resource in resources)]


def _client(source: SourceInfo, client: Client) -> list[Json]:
    """The client's Patient (this source's master data, so a conditional update) and, with a 介護保険証,
    the insurer and the Coverage."""
    system, number = source.patient_identifier_system, client.number
    patient = _patient_resource(system, number)
    if client.insured:
        patient["identifier"].append(ltc_insured_identifier(client.insurer, client.insured))
    if client.registered is not None:
        patient["extension"] = [{"url": REGISTERED_ON, "valueDate": client.registered.isoformat()}]
    _put(patient, "name", human_names(client.kanji, client.kana))
    _put(patient, "telecom", [_phone(client.phone)] if client.phone else [])
    _put(patient, "gender", client.sex)
    _put(patient, "birthDate", client.birth and client.birth.isoformat())
    address = {key: value for key, value in (("text", client.address), ("postalCode", client.postal_code)) if value}
    _put(patient, "address", [{"use": "home", **address}] if address else [])
    patient_url = full_url(source.code, _patient_key(number), "Patient")
    result = [put_entry(patient_url, patient, system, number)]
    if client.insured:
        insurer_url = full_url(source.code, f"insurer/{client.insurer}", "Organization")
        insurer = {
            "resourceType": "Organization",
            "meta": {"profile": [f"{JP_PROFILE}JP_Organization"]},
            "identifier": [{"system": LTC_INSURER, "value": client.insurer}],
            "type": [
                {"coding": [{"system": f"{HL7_CODE_SYSTEM}organization-type", "code": "pay", "display": "Payer"}]}
            ],
        }
        coverage = {
            "resourceType": "Coverage",
            "status": "active",
            "type": {"coding": [{"system": COVERAGE_TYPE, "code": "介護保険", "display": "介護保険"}]},
            "subscriberId": client.insured,
            "beneficiary": {"reference": patient_url},
            "relationship": {"coding": [{"system": f"{HL7_CODE_SYSTEM}subscriber-relationship", "code": "self"}]},
            "payor": [{"reference": insurer_url}],
        }
        result.append(create_entry(insurer_url, insurer, LTC_INSURER, client.insurer))
        result.append(record_entry(source, f"clients/{number}/coverage", coverage))
    return result


def _minimal_patient(source: SourceInfo, number: str) -> Json:
    """The patient as a conditional create on the client number: a row read before its client row still has
    its Patient, which the client row then fills in."""
    system = source.patient_identifier_system
    patient = _patient_resource(system, number)
    return create_entry(full_url(source.code, _patient_key(number), "Patient"), patient, system, number)


def _patient_resource(system: str, number: str) -> Json:
    return {
        "resourceType": "Patient",
        "meta": {"profile": [f"{JP_PROFILE}JP_Patient"]},
        "identifier": [{"system": system, "value": number}],
    }


def _patient_key(number: str) -> str:
    return f"client/{number}"


def _phone(number: str) -> Json:
    mobile = number.startswith(("070", "080", "090"))
    return {"system": "phone", "value": number, "use": "mobile" if mobile else "home"}


def _certification(certification: Certification, subject: Json) -> tuple[str, Json]:
    """要介護度 as japan-formats §4.10 models it: the level for the certification's valid period."""
    level = _coding(CARE_LEVEL, certification.level, CARE_LEVELS[certification.level])
    value: Json = {"coding": [level]}
    if certification.level_name and certification.level_name != level["display"]:
        value["text"] = certification.level_name  # what the source called it, when that differs
    period = {"start": certification.valid_from.isoformat()}
    _put(period, "end", certification.valid_to and certification.valid_to.isoformat())
    extensions = []
    if certification.application is not None:
        kind = _coding(APPLICATION_KIND, certification.application, APPLICATION_NAMES[certification.application])
        extensions.append({"url": APPLICATION_KIND_EXTENSION, "valueCoding": kind})
    if certification.applied is not None:
        extensions.append({"url": APPLICATION_DATE_EXTENSION, "valueDate": certification.applied.isoformat()})
    observation: Json = {
        "resourceType": "Observation",
        "status": "final",
        "code": _concept(LTC, "care-level", "要介護度"),
        "subject": subject,
        "effectivePeriod": period,
    }
    _put(observation, "extension", extensions)
    _put(observation, "issued", certification.decided and f"{certification.decided.isoformat()}T00:00:00+09:00")
    observation["valueCodeableConcept"] = value
    return _key("certifications", certification.client, certification.valid_from), observation


def _service(source: SourceInfo, service: Service, subject: Json) -> tuple[str, Json]:
    """A day of service as an Encounter: what was provided (the service type), where, when, by whom."""
    code = service.service_type
    encounter_class = "HH" if code in HOME_SERVICES else "NONAC" if code in STAY_SERVICES else "AMB"
    day = service.day.isoformat()
    encounter: Json = {"resourceType": "Encounter"}
    if service.units is not None:
        encounter["extension"] = [{"url": SERVICE_UNITS_EXTENSION, "valueInteger": service.units}]
    encounter |= {
        "status": "finished",
        "class": _coding(ACT_CODE, encounter_class, ENCOUNTER_CLASSES[encounter_class]),
        "serviceType": {"coding": [_coding(SERVICE_TYPE, code, service.service_name)]},
        "subject": subject,
        "period": {"start": day, "end": day},
        "serviceProvider": _organization(source),
    }
    return _key("services", service.client, service.day, code), encounter


def _adl(source: SourceInfo, adl: Adl, subject: Json) -> tuple[str, Json]:
    """Barthel Index: the total as the value, each scored item as a component."""
    observation = _observation(source, "survey", _concept(LOINC, BARTHEL_TOTAL, text="Barthel Index"), subject)
    observation["effectiveDateTime"] = adl.day.isoformat()
    observation["valueInteger"] = adl.total
    components = [
        {"code": _concept(LOINC, BARTHEL_LOINC[item], text=item), "valueInteger": score} for item, score in adl.scores
    ]
    _put(observation, "component", components)
    return _key("adl", adl.client, adl.day), observation


def _incident(source: SourceInfo, incident: Incident, subject: Json) -> tuple[str, Json]:
    """A fall as an event Observation (no value): where it happened and the injury as components."""
    observation = _observation(source, None, _concept(LTC, incident.kind, INCIDENT_NAMES[incident.kind]), subject)
    observation["effectiveDateTime"] = incident.day.isoformat()
    components = []
    if incident.place is not None:
        place = _concept(INCIDENT_PLACE, incident.place, PLACE_NAMES[incident.place])
        components.append({"code": _concept(LTC, "incident-place", "場所"), "valueCodeableConcept": place})
    if incident.injury is not None:
        injury = _concept(INJURY, incident.injury, INJURY_NAMES[incident.injury])
        components.append({"code": _concept(LTC, "injury", "受傷"), "valueCodeableConcept": injury})
    _put(observation, "component", components)
    return _key("incidents", incident.client, incident.day, incident.kind), observation


def _vitals(source: SourceInfo, vitals: Vitals, subject: Json) -> list[tuple[str, Json]]:
    """One vital-signs Observation per measurement the row has: blood pressure (a panel of both pressures),
    heart rate, body temperature, body weight."""
    moment = f"{vitals.measured:%Y-%m-%dT%H:%M:00}+09:00"
    key = f"vitals/{vitals.client}/{vitals.measured:%Y%m%d%H%M}"

    def vital(code: str, display: str) -> Json:
        observation = _observation(source, "vital-signs", _concept(LOINC, code, display), subject)
        observation["effectiveDateTime"] = moment
        return observation

    result = []
    if vitals.systolic is not None or vitals.diastolic is not None:
        panel = vital("85354-9", "Blood pressure panel with all children optional")
        panel["component"] = [
            _pressure("8480-6", "Systolic blood pressure", vitals.systolic),
            _pressure("8462-4", "Diastolic blood pressure", vitals.diastolic),
        ]
        result.append((f"{key}/blood-pressure", panel))
    measurements = (
        ("heart-rate", "8867-4", "Heart rate", vitals.pulse, "/min"),
        ("body-temperature", "8310-5", "Body temperature", vitals.temperature, "Cel"),
        ("body-weight", "29463-7", "Body weight", vitals.weight_kg, "kg"),
    )
    for item, code, display, value, unit in measurements:
        if value is not None:
            observation = vital(code, display)
            observation["valueQuantity"] = _quantity(value, unit)
            result.append((f"{key}/{item}", observation))
    return result


def _pressure(code: str, display: str, value: int | None) -> Json:
    component: Json = {"code": _concept(LOINC, code, display)}
    if value is None:
        component["dataAbsentReason"] = _concept(f"{HL7_CODE_SYSTEM}data-absent-reason", "unknown", "Unknown")
    else:
        component["valueQuantity"] = _quantity(value, "mm[Hg]")
    return component


def _checklist(source: SourceInfo, checklist: Checklist, subject: Json) -> Json:
    """基本チェックリスト as a QuestionnaireResponse: items 1-25 as booleans (はい = true), then height and
    weight. Its identifier is a single Identifier (0..1), so the entry is built here, not by record_entry."""
    key = _key("checklists", checklist.client, checklist.day)
    items: list[Json] = [
        {"linkId": str(number), **({"answer": [{"valueBoolean": answer}]} if answer is not None else {})}
        for number, answer in enumerate(checklist.answers, start=1)
    ]
    for link, value, unit in (("height", checklist.height_cm, "cm"), ("weight", checklist.weight_kg, "kg")):
        if value is not None:
            items.append({"linkId": link, "answer": [{"valueQuantity": _quantity(value, unit)}]})
    response = {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": source.record_system, "value": key},
        "questionnaire": CHECKLIST_QUESTIONNAIRE,
        "status": "completed",
        "subject": subject,
        "authored": checklist.day.isoformat(),
        "author": _organization(source),
        "item": items,
    }
    url = full_url(source.code, key, "QuestionnaireResponse")
    return put_entry(url, response, source.record_system, key)


def _observation(source: SourceInfo, category: str | None, code: Json, subject: Json) -> Json:
    observation: Json = {"resourceType": "Observation", "status": "final"}
    if category is not None:
        observation["category"] = [_concept(f"{HL7_CODE_SYSTEM}observation-category", category)]
    observation |= {"code": code, "subject": subject, "performer": [_organization(source)]}
    return observation


def _organization(source: SourceInfo) -> Json:
    """The source as a logical reference (its identifier): who performed, provided or recorded."""
    reference: Json = {"display": source.organization_name}
    if source.organization_system and source.organization_value:
        reference["identifier"] = {"system": source.organization_system, "value": source.organization_value}
    return reference


def _key(table: str, client: str, day: date, item: str = "") -> str:
    """The record key: table, client number, day (+ item), stable across re-sends of the same row."""
    return f"{table}/{client}/{day:%Y%m%d}" + (f"/{item}" if item else "")


def _quantity(value: int | Decimal, code: str) -> Json:
    return {"value": value, "unit": UNIT_NAMES.get(code, code), "system": UCUM, "code": code}


def _coding(system: str, code: str, display: str = "") -> Json:
    coding = {"system": system, "code": code}
    _put(coding, "display", display)
    return coding


def _concept(system: str, code: str, display: str = "", *, text: str = "") -> Json:
    concept: Json = {"coding": [_coding(system, code, display)]}
    _put(concept, "text", text)
    return concept


def _put(target: dict[str, Any], name: str, value: Any) -> None:
    """Set an element only when it has a value: FHIR forbids empty strings, lists and objects."""
    if value:
        target[name] = value
