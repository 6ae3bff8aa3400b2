"""HL7 v2.5 messages (as SS-MIX2 writes them) to JP Core FHIR R4: one message, one small transaction.

Every resource but the Patient is a conditional update on ``<record system>|<record key>``. The key starts
with the message's key (SS-MIX2: the storage's logical ID; plain HL7: MSH-10) and adds the segment's place
(RP number and order in it, report and result numbers), except where the message names the thing itself:
a stay (PV1-19 visit number or PV1-44 admission time), a problem (PRB-4), and the patient master's allergies
and insurance (per patient), so that the messages about one thing update one resource.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal

from connectors import jp
from connectors.base import SourceInfo
from connectors.hl7v2 import codes
from connectors.hl7v2.parser import FormatError, Hl7Error, Message, Repetition, Segment, date, date_time
from connectors.jp import HL7_CODE_SYSTEM as THO
from connectors.jp import JP_EXTENSION, JP_PROFILE, Json

MASTER_TRIGGERS = frozenset({"A08", "A40"})  # the patient master: its PID replaces the Patient
VISIT_TRIGGERS = frozenset({"A01", "A02", "A03", "A04"})
NAME_TYPES = frozenset("ABCDILMNPRSTU")  # HL7 table 0200, one-letter codes
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_RANGE = re.compile(r"\s*([+-]?\d+(?:\.\d+)?)\s*[-~]\s*([+-]?\d+(?:\.\d+)?)\s*")
_BOUND = re.compile(r"\s*([<>]=?)\s*([+-]?\d+(?:\.\d+)?)\s*")


@dataclass(frozen=True)
class MessageContext:
    """What a message's mapping needs besides the message."""

    source: SourceInfo
    key: str  # the message's record key: SS-MIX2's logical ID, or MSH-10
    patient_id: str = ""  # SS-MIX2: the storage's patient ID (the file name's), which wins over PID-3
    deleted: bool = False  # SS-MIX2 condition flag 0: delete what the message had written


def entries(message: Message, context: MessageContext) -> list[Json]:
    """The message's transaction entries; an Hl7Error when any part of it cannot be taken."""
    kind = message.message_type
    handler = HANDLERS.get(kind)
    if handler is None:
        raise Hl7Error(message.header.line, "MSH-9", f"message type {kind} is not supported")
    record = _Record(message, context)
    handler(record)
    if context.deleted:
        return [
            {"request": {"method": "DELETE", "url": entry["request"]["url"]}}
            for entry in record.entries
            if entry["request"]["method"] == "PUT" and entry["resource"]["resourceType"] != "Patient"
        ]
    return record.entries


class _Record:
    """One message's entries as they are built, and what its resources share (the patient, the source)."""

    def __init__(self, message: Message, context: MessageContext) -> None:
        self.message = message
        self.context = context
        self.source = context.source
        self.key = context.key
        self.trigger = message.message_type.partition("^")[2]
        self.entries: list[Json] = []
        self.patient: Json = {}
        self.patient_number = ""

    # --- entries

    def put(self, resource_type: str, key: str, profile: str, body: Json, *identifiers: Json) -> Json:
        """A resource updated on its record key (with `identifiers` after it); returns the reference to it."""
        meta = {"profile": [JP_PROFILE + profile], **body.pop("meta", {})}
        resource = {"resourceType": resource_type, "meta": meta, "identifier": list(identifiers), **body}
        entry = jp.record_entry(self.source, key, resource)
        self.entries.append(entry)
        return {"reference": entry["fullUrl"]}

    def delete(self, resource_type: str, key: str) -> None:
        url = jp.conditional_reference(resource_type, self.source.record_system, key)
        self.entries.append({"request": {"method": "DELETE", "url": url}})

    def require(self, name: str) -> Segment:
        segment = self.message.first(name)
        if segment is None:
            kind = self.message.message_type
            raise Hl7Error(self.message.header.line, name, f"{kind} message has no {name} segment")
        return segment

    # --- field readers that turn bad values into problems

    def when(self, segment: Segment, number: int, label: str, reader: Callable[[str], str] = date_time) -> str:
        """A date/time field as FHIR, ``""`` when empty."""
        text = segment.value(number)
        if not text:
            return ""
        try:
            return reader(text)
        except FormatError as bad:
            raise self.problem(segment, number, f"{label} '{text}' {bad}") from bad

    def number(self, segment: Segment, number: int, text: str, label: str) -> Decimal:
        if not _NUMBER.fullmatch(text.strip()):
            raise self.problem(segment, number, f"{label} '{text}' is not a number")
        return Decimal(text.strip())

    @staticmethod
    def table_code(segment: Segment, number: int, label: str, table: Collection[str], name: str) -> str:
        """A coded field's code (``""`` when empty), which must be one of `table` (named `name`)."""
        code = segment.value(number)
        if code and code not in table:
            raise _Record.problem(segment, number, f"{label} '{code}' is not in {name}")
        return code

    def required_concept(self, segment: Segment, number: int, label: str) -> Json:
        """A CWE that the message must carry."""
        concept = self.concept(segment.repetition(number), f"{segment.name}-{number}")
        if not concept:
            raise self.problem(segment, number, f"{label} is empty")
        return concept

    @staticmethod
    def problem(segment: Segment, number: int, what: str) -> Hl7Error:
        field = f"{segment.name}-{number}"
        return Hl7Error(segment.line, field, f"{field} {what}")

    def coding(self, code: str, display: str, system_name: str, field: str, merit9: str = "") -> Json:
        coding = {"system": codes.system_for(system_name, code, self.source.code, field, merit9), "code": code}
        if display:
            coding["display"] = display
        return coding

    def concept(self, repetition: Repetition, field: str, table: str = "", merit9: str = "") -> Json:
        """A CWE (code^text^system^alternate code^text^system) as a CodeableConcept; {} when empty."""
        codings = [
            self.coding(code, repetition.value(first + 1), repetition.value(first + 2) or table, field, merit9)
            for first in (1, 4)
            if (code := repetition.component(first))
        ]
        text = repetition.value(2) or repetition.value(5)
        concept: Json = {}
        if codings:
            concept["coding"] = codings
        if text:
            concept["text"] = text
        return concept

    def quantity(self, segment: Segment, number: int, amount: str, unit: tuple[str, str, str], label: str) -> Json:
        """An amount with a coded unit (``TAB^錠^MR9P``): MERIT-9 units under JP Core's system."""
        quantity: Json = {"value": self.number(segment, number, amount, label)}
        code, text, name = unit
        if text or code:
            quantity["unit"] = text or code
        if code:
            quantity["system"] = codes.system_for(name, code, self.source.code, f"{segment.name}-{number}", "unit")
            quantity["code"] = code
        return quantity

    # --- the patient

    def add_patient(self, pid: Segment, master: bool) -> None:
        """The Patient from PID: replaced from the patient master, created when unknown from other messages."""
        number = self.context.patient_id or _patient_number(pid)
        if not number:
            raise self.problem(pid, 3, "patient ID is empty")
        system = self.source.patient_identifier_system
        resource: Json = {
            "resourceType": "Patient",
            "meta": {"profile": [JP_PROFILE + "JP_Patient"]},
            "identifier": [{"system": system, "value": number}, *self._other_identifiers(pid, number)],
            **self._demographics(pid),
        }
        url = jp.full_url(self.source.code, number, "Patient")
        entry = jp.put_entry if master else jp.create_entry
        self.entries.append(entry(url, resource, system, number))
        self.patient = {"reference": url}
        self.patient_number = number

    def _other_identifiers(self, pid: Segment, number: str) -> list[Json]:
        """PID-3's other identifiers (another issuer's number) kept without a system: none is known for them."""
        if self.context.patient_id:
            return []
        others = []
        for repetition in pid.repetitions(3)[1:]:
            identifier: Json = {"value": repetition.value(1)}
            if repetition.value(5):
                identifier["type"] = {"text": repetition.value(5)}
            if repetition.value(4):
                identifier["assigner"] = {"display": repetition.value(4)}
            if identifier["value"] and identifier["value"] != number:
                others.append(identifier)
        return others

    def _demographics(self, pid: Segment) -> Json:
        body: Json = {}
        names = [name for name in map(_human_name, pid.repetitions(5)) if name]
        if names:
            body["name"] = names
        telecom = [
            contact
            for number, use in ((13, "home"), (14, "work"))
            for contact in (_contact_point(repetition, use) for repetition in pid.repetitions(number))
            if contact
        ]
        if telecom:
            body["telecom"] = telecom
        sex = self.table_code(pid, 8, "sex", codes.GENDERS, "HL7 table 0001 (M, F, O, U, A, N)")
        if sex:
            body["gender"] = codes.GENDERS[sex]
        birth = self.when(pid, 7, "birth date", date)
        if birth:
            body["birthDate"] = birth
        death = self.when(pid, 29, "death date/time")
        if death:
            body["deceasedDateTime"] = death
        elif pid.value(30) in ("Y", "N"):
            body["deceasedBoolean"] = pid.value(30) == "Y"
        addresses = [address for address in map(_address, pid.repetitions(11)) if address]
        if addresses:
            body["address"] = addresses
        return body


# --- ADT ------------------------------------------------------------------------------------------------


def _adt(record: _Record) -> None:
    """Patient master (A08), visits (A01-A04), merge (A40) and allergies (A60), with what they carry."""
    pid = record.require("PID")
    record.add_patient(pid, record.trigger in MASTER_TRIGGERS)
    if record.trigger == "A40":
        _merge(record)
    if record.trigger in VISIT_TRIGGERS:
        _encounter(record, record.require("PV1"))
    for number, al1 in enumerate(record.message.all("AL1"), 1):
        _allergy(record, al1, f"{record.patient_number}.AL1.{al1.value(1) or number}")
    for number, iam in enumerate(record.message.all("IAM"), 1):
        key = f"{record.patient_number}.IAM.{iam.value(7) or iam.value(1) or number}"
        if iam.value(6) == "D":
            record.delete("AllergyIntolerance", key)
        else:
            _allergy(record, iam, key)
    for number, in1 in enumerate(record.message.all("IN1"), 1):
        _coverage(record, in1, f"{record.patient_number}.IN1.{in1.value(1) or number}")
    _results(record, category=None)


def _merge(record: _Record) -> None:
    """A40: the surviving record (PID) replaces the prior one (MRG-1), which is kept inactive and linked."""
    mrg = record.require("MRG")
    prior = mrg.repetition(1).value(1)
    if not prior:
        raise record.problem(mrg, 1, "prior patient ID is empty")
    system = record.source.patient_identifier_system
    old = {
        "resourceType": "Patient",
        "meta": {"profile": [JP_PROFILE + "JP_Patient"]},
        "identifier": [{"system": system, "value": prior}],
        "active": False,
        "link": [{"other": record.patient, "type": "replaced-by"}],
    }
    url = jp.full_url(record.source.code, prior, "Patient")
    record.entries[0]["resource"]["link"] = [{"other": {"reference": url}, "type": "replaces"}]
    record.entries.append(jp.put_entry(url, old, system, prior))


def _encounter(record: _Record, pv1: Segment) -> None:
    """A stay or visit, one Encounter for all its messages when PV1-19 or PV1-44 names it."""
    patient_class = record.table_code(pv1, 2, "patient class", codes.ENCOUNTER_CLASSES, "HL7 table 0004")
    if not patient_class:
        raise record.problem(pv1, 2, "patient class is empty")
    code, display = codes.ENCOUNTER_CLASSES[patient_class]
    if patient_class == "O" and pv1.value(4) == "E":
        code, display = codes.EMERGENCY
    trigger = record.trigger
    finished = trigger in ("A03", "A04")
    body: Json = {
        "status": "finished" if finished else "in-progress",
        "class": {"system": THO + "v3-ActCode", "code": code, "display": display},
    }
    if pv1.value(10):
        department = codes.SYSTEMS["HL70069"]
        body["serviceType"] = {"coding": [{"system": department, "code": pv1.value(10)}]}
    body["subject"] = record.patient
    participants = [
        {
            "type": [{"coding": [{"system": THO + "v3-ParticipationType", "code": role}]}],
            "individual": {"display": name},
        }
        for number, role in ((7, "ATND"), (8, "REF"), (9, "CON"), (17, "ADM"))
        for name in (_person(repetition) for repetition in pv1.repetitions(number))
        if name
    ]
    if participants:
        body["participant"] = participants
    event = _event_time(record)
    start = record.when(pv1, 44, "admit date/time") or (event if trigger in ("A01", "A04") else "")
    end = record.when(pv1, 45, "discharge date/time") or (event if trigger == "A03" else "")
    if start or end:
        body["period"] = {key: value for key, value in (("start", start), ("end", end)) if value}
    disposition = record.concept(pv1.repetition(36), "PV1-36", "HL70112")
    if disposition:
        body["hospitalization"] = {"dischargeDisposition": disposition}
    locations = [
        {"location": {"display": text}, "status": status}
        for number, status in ((3, "completed" if finished else "active"), (6, "completed"))
        if (text := _location(pv1.repetition(number)))
    ]
    if trigger == "A02" and event and locations:  # a transfer: the new bed from the event on
        locations[0]["period"] = {"start": event}
    if locations:
        body["location"] = locations
    body["serviceProvider"] = _organization(record.source)
    admitted = pv1.value(44)
    if pv1.value(19):
        key = f"{record.patient_number}.visit.{pv1.value(19)}"
    elif admitted:
        key = f"{record.patient_number}.{admitted}.{patient_class}"
    else:
        key = f"{record.key}.PV1"
    record.put("Encounter", key, "JP_Encounter", body)


def _event_time(record: _Record) -> str:
    """When the event happened (EVN-6), else when it was recorded (EVN-2)."""
    evn = record.message.first("EVN")
    if evn is None:
        return ""
    return record.when(evn, 6, "event occurred date/time") or record.when(evn, 2, "recorded date/time")


def _allergy(record: _Record, segment: Segment, key: str) -> None:
    """AL1 (patient master) or IAM (A60): the same first five fields; recorded AL1-6 or IAM-13."""
    kind = record.table_code(segment, 2, "allergen type", codes.ALLERGY_CATEGORIES, "HL7 table 0127")
    body: Json = {"clinicalStatus": {"coding": [{"system": THO + "allergyintolerance-clinical", "code": "active"}]}}
    if codes.ALLERGY_CATEGORIES.get(kind):
        body["category"] = [codes.ALLERGY_CATEGORIES[kind]]
    severity = segment.value(4)
    reactions = [repetition.text() for repetition in segment.repetitions(5)]
    if severity and not reactions and severity in codes.CRITICALITIES:
        body["criticality"] = codes.CRITICALITIES[severity]
    code = record.concept(segment.repetition(3), f"{segment.name}-3")
    if code:
        body["code"] = code
    body["patient"] = record.patient
    if segment.name == "IAM":
        onset = record.when(segment, 11, "onset date")
        if onset:
            body["onsetDateTime"] = onset
        elif segment.value(12):
            body["onsetString"] = segment.value(12)
    recorded = (
        record.when(segment, 6, "identification date")
        if segment.name == "AL1"
        else record.when(segment, 13, "reported date/time")
    )
    if recorded:
        body["recordedDate"] = recorded
    if reactions:
        reaction: Json = {"manifestation": [{"text": text} for text in reactions]}
        if severity in codes.SEVERITIES:
            reaction["severity"] = codes.SEVERITIES[severity]
        body["reaction"] = [reaction]
    record.put("AllergyIntolerance", key, "JP_AllergyIntolerance", body)


def _coverage(record: _Record, in1: Segment, key: str) -> None:
    """JP_Coverage: 記号 IN1-10, 番号 IN1-11, 枝番 IN1-49, the insurer (IN1-3) referred to by its number."""
    insurer = in1.value(3)
    if not insurer:
        raise record.problem(in1, 3, "insurer number is empty")
    symbol, number, branch = in1.value(10), in1.value(11), in1.value(49)
    body: Json = {}
    extensions = [
        {"url": f"{JP_EXTENSION}JP_Coverage_{element}", "valueString": value}
        for element, value in (
            ("InsuredPersonSymbol", symbol),
            ("InsuredPersonNumber", number),
            ("InsuredPersonSubNumber", branch),
        )
        if value
    ]
    if extensions:
        body["extension"] = extensions
    body["status"] = "active"
    kind = record.concept(in1.repetition(2), "IN1-2")
    public = {"system": THO + "v3-ActCode", "code": "PUBLICPOL", "display": "public healthcare"}
    body["type"] = {**kind, "coding": [public, *kind.get("coding", [])]}
    if number:
        body["subscriberId"] = f"{symbol}:{number}" if symbol else number
    body["beneficiary"] = record.patient
    if branch:
        body["dependent"] = branch
    relationship = in1.value(17)
    if relationship:
        original = record.coding(relationship, in1.value(17, 2), in1.value(17, 3) or "HL70063", "IN1-17")
        mapped = codes.RELATIONSHIPS.get(relationship, "other")
        body["relationship"] = {"coding": [{"system": THO + "subscriber-relationship", "code": mapped}, original]}
    period = {
        element: value
        for element, value in (
            ("start", record.when(in1, 12, "plan effective date", date)),
            ("end", record.when(in1, 13, "plan expiration date", date)),
        )
        if value
    }
    if period:
        body["period"] = period
    payor: Json = {"type": "Organization", "identifier": {"system": jp.INSURER_NUMBER, "value": insurer}}
    if in1.value(4):
        payor["display"] = in1.value(4)
    body["payor"] = [payor]
    identifiers = []
    if number:
        member = jp.insurance_member_id(insurer, symbol, number, branch)
        identifiers.append({"system": jp.INSURANCE_MEMBER_ID, "value": member})
    record.put("Coverage", key, "JP_Coverage", body, *identifiers)


# --- PPR^ZD1 --------------------------------------------------------------------------------------------


def _problems(record: _Record) -> None:
    """One Condition per PRB, with the ZPR (MEDIS exchange code, modifiers) and NTE after it."""
    record.add_patient(record.require("PID"), master=False)
    record.require("PRB")
    for number, (prb, following) in enumerate(_groups(record.message, "PRB", ("ZPR", "NTE")), 1):
        _condition(record, prb, following, number)


def _condition(record: _Record, prb: Segment, following: list[Segment], number: int) -> None:
    zpr = next((segment for segment in following if segment.name == "ZPR"), None)
    code = _condition_code(record, prb, zpr)
    deleted = prb.value(1) == "DE"
    confirmation = record.table_code(prb, 13, "confirmation", codes.CONFIRMATIONS, "JHSD0005 or HL7 table 0389")
    verification = "entered-in-error" if deleted else codes.CONFIRMATIONS.get(confirmation, "confirmed")
    outcome = record.table_code(prb, 14, "outcome (転帰)", codes.OUTCOMES, "HL7 table 0241 or JHSD0006")
    abated = record.when(prb, 9, "resolution date/time")
    status = codes.OUTCOME_STATUSES.get(outcome, "")
    if abated and status not in codes.ABATED:
        status = "inactive"  # closed (転帰日) without recovery
    if not abated and status in codes.ABATED:
        abated = record.when(prb, 15, "outcome date/time")
    body: Json = {}
    security = _confidentiality(record, prb)
    if security:
        body["meta"] = {"security": [security]}
    if outcome:
        table = "JHSD0006" if outcome in codes.OUTCOME_JHSD0006_CODES else "HL70241"
        coding = record.coding(outcome, prb.value(14, 2), prb.value(14, 3) or table, "PRB-14")
        body["extension"] = [
            {"url": JP_EXTENSION + "JP_Condition_DiseaseOutcome", "valueCodeableConcept": {"coding": [coding]}}
        ]
    if not deleted:
        body["clinicalStatus"] = _status("condition-clinical", status or "active")
    body["verificationStatus"] = _status("condition-ver-status", verification)
    categories = [{"coding": [{"system": THO + "condition-category", "code": "encounter-diagnosis"}]}]
    diagnosis_kind = prb.repetition(10)
    if diagnosis_kind.value(4):
        categories.append(
            {
                "coding": [
                    record.coding(diagnosis_kind.value(4), diagnosis_kind.value(5), diagnosis_kind.value(6), "PRB-10")
                ]
            }
        )
    main = record.concept(prb.repetition(18), "PRB-18")
    if main:
        categories.append(main)
    body["category"] = categories
    body["code"] = code
    body["subject"] = record.patient
    onset = record.when(prb, 16, "onset date/time")
    if onset:
        body["onsetDateTime"] = onset
    if abated:
        body["abatementDateTime"] = abated
    recorded = record.when(prb, 7, "date/time recorded")
    if recorded:
        body["recordedDate"] = recorded
    notes = [zpr.value(7)] if zpr is not None and zpr.value(7) else []
    notes += [
        repetition.text() for segment in following if segment.name == "NTE" for repetition in segment.repetitions(3)
    ]
    if notes:
        body["note"] = [{"text": text} for text in notes]
    instance = prb.value(4)
    key = f"{record.patient_number}.PRB.{instance}" if instance else f"{record.key}.PRB.{number}"
    record.put("Condition", key, "JP_Condition_Diagnosis", body)


def _condition_code(record: _Record, prb: Segment, zpr: Segment | None) -> Json:
    """PRB-3 (MEDIS 病名管理番号), ZPR-5 (交換用コード), PRB-10 (ICD-10), modifiers (ZPR-1/4, ZPR-3/6)."""
    problem = record.required_concept(prb, 3, "problem")
    codings: list[Json] = list(problem.get("coding", []))
    if zpr is not None:
        for number in (2, 5):
            codings += record.concept(zpr.repetition(number), f"ZPR-{number}").get("coding", [])
    classification = prb.repetition(10)
    if classification.value(1):
        system = classification.value(3) or "I10"
        code = codes.icd10(classification.value(1)) if system == "I10" else classification.value(1)
        codings.append(record.coding(code, classification.value(2), system, "PRB-10"))
    unique = list({(coding["system"], coding["code"]): coding for coding in codings}.values())
    concept: Json = {}
    if zpr is not None:
        modifiers = [
            {"url": f"{JP_EXTENSION}JP_Condition_Disease{place}Modifier", "valueCodeableConcept": modifier}
            for place, key_field, exchange_field in (("Prefix", 1, 4), ("Postfix", 3, 6))
            for modifier in _modifiers(record, zpr, key_field, exchange_field)
        ]
        if modifiers:
            concept["extension"] = modifiers
    concept["coding"] = unique
    text = problem.get("text") or next((coding.get("display") for coding in unique if coding.get("display")), "")
    if text:
        concept["text"] = text
    return concept


def _modifiers(record: _Record, zpr: Segment, key_field: int, exchange_field: int) -> Iterable[Json]:
    """MEDIS 修飾語: management numbers and exchange codes, paired by repetition."""
    keys, exchanges = zpr.repetitions(key_field), zpr.repetitions(exchange_field)
    for index in range(max(len(keys), len(exchanges))):
        codings = [
            {
                "system": system,
                "code": parts[index].value(1),
                **({"display": parts[index].value(2)} if parts[index].value(2) else {}),
            }
            for parts, system in ((keys, codes.MEDIS_MODIFIER_KEY), (exchanges, codes.MEDIS_MODIFIER_EXCHANGE))
            if index < len(parts) and parts[index].value(1)
        ]
        if codings:
            yield {"coding": codings}


def _confidentiality(record: _Record, prb: Segment) -> Json:
    """PRB-25 (HL7 table 0177): the one security label the message itself states."""
    sensitivity = prb.value(25)
    if not sensitivity:
        return {}
    if sensitivity in codes.CONFIDENTIALITY:
        code, display = codes.CONFIDENTIALITY[sensitivity]
        return {"system": THO + "v3-Confidentiality", "code": code, "display": display}
    return record.coding(sensitivity, prb.value(25, 2), prb.value(25, 3) or "HL70177", "PRB-25")


# --- RDE^O11, RAS^O17 -----------------------------------------------------------------------------------


def _prescriptions(record: _Record) -> None:
    """RDE^O11: one MedicationRequest per RXE, numbered within its RP (ORC-4)."""
    record.add_patient(record.require("PID"), master=False)
    record.require("RXE")
    in_rp: dict[str, int] = {}
    for rxe, following in _groups(record.message, "RXE", ("TQ1", "RXR", "RXC", "NTE")):
        orc = _before(record.message, rxe, "ORC")
        rp = orc.value(4) if orc is not None else ""
        in_rp[rp] = in_rp.get(rp, 0) + 1
        _medication_request(record, orc, rxe, following, rp, in_rp[rp])


def _medication_request(
    record: _Record, orc: Segment | None, rxe: Segment, following: list[Segment], rp: str, order: int
) -> None:
    tq1 = next((segment for segment in following if segment.name == "TQ1"), None)
    rxr = next((segment for segment in following if segment.name == "RXR"), None)
    components = [segment for segment in following if segment.name == "RXC"]
    drug = record.required_concept(rxe, 2, "give code")
    body: Json = {}
    if components:
        body["contained"] = [_mixture(record, rxe, drug, components)]
    body["status"] = _order_status(orc)
    body["intent"] = "order"
    categories = [_prescription_category(record, repetition) for repetition in rxe.repetitions(21)]
    if categories:
        body["category"] = categories
    if components:
        body["medicationReference"] = {"reference": "#medication"}
    else:
        body["medicationCodeableConcept"] = drug
    body["subject"] = record.patient
    if orc is not None:
        authored = record.when(orc, 9, "date/time of transaction")
        if authored:
            body["authoredOn"] = authored
        requester = _person(orc.repetition(12))
        if requester:
            body["requester"] = {"display": requester}
    body["dosageInstruction"] = [_dosage(record, rxe, tq1, rxr)]
    dispense: Json = {}
    if rxe.value(10):
        dispense["quantity"] = record.quantity(rxe, 10, rxe.value(10), _unit(rxe.repetition(11)), "dispense amount")
    duration = _duration(record, tq1) if tq1 is not None else {}
    if duration:
        dispense["expectedSupplyDuration"] = duration
    if dispense:
        body["dispenseRequest"] = dispense
    identifiers = [{"system": codes.ORDER_IN_RP, "value": str(order)}]
    if rp:
        identifiers.insert(0, {"system": codes.RP_NUMBER, "value": rp})
    key = f"{record.key}.{rp or '-'}.{order}"
    record.put("MedicationRequest", key, "JP_MedicationRequest", body, *identifiers)


def _mixture(record: _Record, rxe: Segment, drug: Json, components: list[Segment]) -> Json:
    """Injections: RXE-2 names the mixture (``00^一般``) and each RXC one of its drugs."""
    medication: Json = {"resourceType": "Medication", "id": "medication", "code": drug}
    form = record.concept(rxe.repetition(6), "RXE-6")
    if form:
        medication["form"] = form
    ingredients = []
    for rxc in components:
        item = record.required_concept(rxc, 2, "component code")
        ingredient: Json = {"itemCodeableConcept": item, "isActive": rxc.value(1) != "B"}
        if rxc.value(3):
            numerator = record.quantity(rxc, 3, rxc.value(3), _unit(rxc.repetition(4)), "component amount")
            ingredient["strength"] = {"numerator": numerator, "denominator": {"value": Decimal(1)}}
        ingredients.append(ingredient)
    medication["ingredient"] = ingredients
    return medication


def _dosage(record: _Record, rxe: Segment, tq1: Segment | None, rxr: Segment | None) -> Json:
    """用法 (TQ1-3, JAMI 16-digit code), period of use (TQ1-7/8), days (TQ1-6), route, dose and daily dose."""
    dosage: Json = {}
    extensions = []
    timing: Json = {}
    if tq1 is not None:
        pattern = tq1.repetition(3)
        code, text, system = pattern.value(1, 1), pattern.value(1, 2), pattern.value(1, 3)
        if text:
            dosage["text"] = text
        if code:
            timing["code"] = {
                "coding": [record.coding(code, text, system, "TQ1-3")],
                **({"text": text} if text else {}),
            }
        period = {
            element: value
            for element, value in (
                ("start", record.when(tq1, 7, "start date/time")),
                ("end", record.when(tq1, 8, "end date/time")),
            )
            if value
        }
        if period:
            extensions.append({"url": JP_EXTENSION + "JP_MedicationDosage_PeriodOfUse", "valuePeriod": period})
        duration = _duration(record, tq1)
        if duration:
            extensions.append({"url": JP_EXTENSION + "JP_MedicationDosage_UsageDuration", "valueDuration": duration})
    if extensions:
        dosage = {"extension": extensions, **dosage}
    instructions = [
        concept for concept in (record.concept(repetition, "RXE-7") for repetition in rxe.repetitions(7)) if concept
    ]
    if instructions:
        dosage["additionalInstruction"] = instructions
    if timing:
        dosage["timing"] = timing
    if rxr is not None:
        for number, element in ((2, "site"), (1, "route")):
            concept = record.concept(rxr.repetition(number), f"RXR-{number}", "HL70162" if number == 1 else "")
            if concept:
                dosage[element] = concept
    dose_and_rate: Json = {}
    if rxe.value(3):
        dose_and_rate["doseQuantity"] = record.quantity(rxe, 3, rxe.value(3), _unit(rxe.repetition(5)), "give amount")
    daily = rxe.repetition(19)
    if daily.value(1):
        unit = (daily.value(2, 1), daily.value(2, 2), daily.value(2, 3))
        numerator = record.quantity(rxe, 19, daily.value(1), unit, "total daily dose")
        day = {"value": Decimal(1), "unit": "日", "system": codes.UCUM, "code": "d"}
        dose_and_rate["rateRatio"] = {"numerator": numerator, "denominator": day}
    elif rxe.value(23):
        dose_and_rate["rateQuantity"] = record.quantity(
            rxe, 23, rxe.value(23), _unit(rxe.repetition(24)), "give rate amount"
        )
    if dose_and_rate:
        dosage["doseAndRate"] = [dose_and_rate]
    return dosage


def _duration(record: _Record, tq1: Segment) -> Json:
    """TQ1-6 service duration (``28^d``) as a UCUM Duration."""
    amount = tq1.value(6)
    if not amount:
        return {}
    unit = tq1.value(6, 2) or "d"
    if unit not in codes.DURATION_UNITS:
        raise record.problem(tq1, 6, f"service duration unit '{unit}' is not one of d, wk, mo, h, min")
    code, name = codes.DURATION_UNITS[unit]
    return {
        "value": record.number(tq1, 6, amount, "service duration"),
        "unit": name,
        "system": codes.UCUM,
        "code": code,
    }


def _prescription_category(record: _Record, repetition: Repetition) -> Json:
    """RXE-21 処方区分 (MERIT-9 OHP/IHP...) with FHIR's outpatient/inpatient beside it."""
    concept = record.concept(repetition, "RXE-21", merit9="category")
    fhir = codes.PRESCRIPTION_CATEGORIES.get(repetition.value(1))
    if fhir:
        concept["coding"] = [*concept.get("coding", []), {"system": THO + "medicationrequest-category", "code": fhir}]
    return concept


def _order_status(orc: Segment | None) -> str:
    if orc is None:
        return "unknown"
    return codes.ORDER_STATUSES.get(orc.value(5)) or codes.ORDER_CONTROLS.get(orc.value(1), "unknown")


def _administrations(record: _Record) -> None:
    """RAS^O17: one MedicationAdministration per RXA; the RXR after an order's RXAs applies to all of them."""
    record.add_patient(record.require("PID"), master=False)
    record.require("ORC")
    record.require("RXA")
    groups = _groups(record.message, "ORC", ("RXA", "RXR", "TQ1", "RXE", "RXC", "NTE", "OBX", "RXO"))
    for orc, following in groups:
        rp = orc.value(4)
        order = 0
        for rxa in following:
            if rxa.name != "RXA":
                continue
            order += 1
            rxr = next(
                (segment for segment in following if segment.name == "RXR" and segment.position > rxa.position), None
            )
            _medication_administration(record, orc, rxa, rxr, f"{record.key}.{rp or '-'}.{order}")


def _medication_administration(record: _Record, orc: Segment, rxa: Segment, rxr: Segment | None, key: str) -> None:
    drug = record.required_concept(rxa, 5, "administered code")
    start = record.when(rxa, 3, "start of administration")
    if not start:
        raise record.problem(rxa, 3, "start of administration is empty")
    end = record.when(rxa, 4, "end of administration")
    status = (
        "entered-in-error" if rxa.value(21) == "D" else codes.ADMINISTRATION_STATUSES.get(rxa.value(20), "completed")
    )
    body: Json = {"status": status}
    category = codes.ORDER_TYPES.get(orc.value(29))
    if category:
        body["category"] = {"coding": [{"system": THO + "medication-admin-category", "code": category}]}
    body["medicationCodeableConcept"] = drug
    body["subject"] = record.patient
    if end and end != start:
        body["effectivePeriod"] = {"start": start, "end": end}
    else:
        body["effectiveDateTime"] = start
    performer = _person(rxa.repetition(10))
    if performer:
        body["performer"] = [{"actor": {"display": performer}}]
    notes = [repetition.value(2) or repetition.value(1) for repetition in rxa.repetitions(9)]
    if notes:
        body["note"] = [{"text": text} for text in notes]
    dosage: Json = {}
    if rxa.value(12):
        dosage["text"] = rxa.value(12)
    if rxr is not None:
        for number, element in ((2, "site"), (1, "route")):
            concept = record.concept(rxr.repetition(number), f"RXR-{number}", "HL70162" if number == 1 else "")
            if concept:
                dosage[element] = concept
    if rxa.value(6) and rxa.value(6) != "999":  # 999: amount not recorded (HL7)
        dosage["dose"] = record.quantity(rxa, 6, rxa.value(6), _unit(rxa.repetition(7)), "administered amount")
    if dosage:
        body["dosage"] = dosage
    record.put("MedicationAdministration", key, "JP_MedicationAdministration", body)


# --- OUL^R22, ORU^R01 (and OBX in ADT) ------------------------------------------------------------------


def _lab_results(record: _Record) -> None:
    record.add_patient(record.require("PID"), master=False)
    record.require("OBR")
    _results(record, category="laboratory")


def _observation_results(record: _Record) -> None:
    record.add_patient(record.require("PID"), master=False)
    record.require("OBR")
    _results(record, category=None)


def _results(record: _Record, category: str | None) -> None:
    """An Observation per OBX and a DiagnosticReport per OBR listing them; OBX before any OBR stand alone."""
    specimen: Segment | None = None
    report: tuple[Segment, Segment | None, list[Json], list[str]] | None = None
    loose = 0
    reports = 0
    last: Json | None = None
    for segment in record.message.segments:
        if segment.name == "SPM":
            specimen = segment
        elif segment.name == "OBR":
            if report is not None:
                _diagnostic_report(record, *report, category, reports)
            reports += 1
            report = (segment, specimen, [], [])
        elif segment.name == "OBX":
            if report is None:
                loose += 1
                last = _observation(record, segment, None, specimen, category, f"{record.key}.OBX.{loose}")
            else:
                obr, spm, results, statuses = report
                key = f"{record.key}.{reports}.{len(results) + 1}"
                last = _observation(record, segment, obr, spm, category, key)
                results.append({"reference": record.entries[-1]["fullUrl"]})
                statuses.append(last["status"])
            continue
        if segment.name == "NTE" and last is not None:
            last.setdefault("note", []).extend({"text": repetition.text()} for repetition in segment.repetitions(3))
        else:
            last = None
    if report is not None:
        _diagnostic_report(record, *report, category, reports)


def _observation(
    record: _Record, obx: Segment, obr: Segment | None, spm: Segment | None, category: str | None, key: str
) -> Json:
    code = record.required_concept(obx, 3, "observation identifier")
    result_status = record.table_code(obx, 11, "result status", codes.OBSERVATION_STATUSES, "HL7 table 0085")
    body: Json = {"status": codes.OBSERVATION_STATUSES.get(result_status, "unknown")}
    if category == "laboratory":
        body["category"] = [
            {
                "coding": [
                    {"system": codes.JP_OBSERVATION_CATEGORY, "code": "laboratory"},
                    {"system": THO + "observation-category", "code": "laboratory"},
                ]
            }
        ]
    body["code"] = code
    body["subject"] = record.patient
    effective = record.when(obx, 14, "date/time of the observation") or _collected(record, obr, spm)
    if effective:
        body["effectiveDateTime"] = effective
    issued = _instant(record, obr, 22) if obr is not None else ""
    if issued:
        body["issued"] = issued
    body.update(_value(record, obx))
    flags = obx.repetitions(8)
    if flags:
        body["interpretation"] = [_interpretation(record, flag.value(1)) for flag in flags]
    reference = _reference_range(obx, body.get("valueQuantity"))
    if reference:
        body["referenceRange"] = [reference]
    if spm is not None and spm.value(4, 2):
        body["specimen"] = {"display": spm.value(4, 2)}
    profile = "JP_Observation_LabResult" if category == "laboratory" else "JP_Observation_Common"
    record.put("Observation", key, profile, body)
    resource: Json = record.entries[-1]["resource"]
    return resource


def _value(record: _Record, obx: Segment) -> Json:
    """OBX-5 by OBX-2: NM quantity (UCUM when the unit is ASCII), SN comparator/range/ratio, CWE, ST/TX, TS."""
    kind = obx.value(2)
    repetitions = obx.repetitions(5)
    if not repetitions:
        return {}
    first = repetitions[0]
    if kind == "NM":
        return {"valueQuantity": _measured(record, obx, record.number(obx, 5, first.text(), "value (NM)"))}
    if kind == "SN":
        return _structured_numeric(record, obx, first)
    if kind in ("CWE", "CE", "CNE", "CF"):
        return {"valueCodeableConcept": record.concept(first, "OBX-5")}
    if kind in ("ST", "TX", "FT"):
        return {"valueString": "\n".join(repetition.text() for repetition in repetitions)}
    if kind in ("TS", "DTM", "DT"):
        return {"valueDateTime": record.when(obx, 5, "value")}
    if not kind:
        raise record.problem(obx, 2, "value type is empty, but OBX-5 holds a value")
    raise record.problem(obx, 2, f"value type '{kind}' is not supported (NM, SN, ST, TX, FT, CWE, CE, TS, DT)")


def _structured_numeric(record: _Record, obx: Segment, value: Repetition) -> Json:
    comparator, first, separator, second = (value.value(number) for number in (1, 2, 3, 4))
    if not separator and not second:
        if comparator not in ("", "=", "<", ">", "<=", ">="):
            raise record.problem(obx, 5, f"comparator '{comparator}' is not one of <, >, <=, >=, =")
        quantity = _measured(record, obx, record.number(obx, 5, first, "value (SN)"))
        if comparator not in ("", "="):
            quantity = {"value": quantity.pop("value"), "comparator": comparator, **quantity}
        return {"valueQuantity": quantity}
    if separator == "-" and not comparator:
        low, high = (_measured(record, obx, record.number(obx, 5, text, "value (SN)")) for text in (first, second))
        return {"valueRange": {"low": low, "high": high}}
    if separator in (":", "/") and not comparator:
        numerator, denominator = ({"value": record.number(obx, 5, text, "value (SN)")} for text in (first, second))
        return {"valueRatio": {"numerator": numerator, "denominator": denominator}}
    return {"valueString": value.text()}


def _measured(record: _Record, obx: Segment, value: Decimal) -> Json:
    """A result quantity: the unit as written, coded as UCUM when it is ASCII (with a few common synonyms)."""
    quantity: Json = {"value": value}
    unit = obx.repetition(6)
    code = unit.value(1)
    if unit.value(2) or code:
        quantity["unit"] = unit.value(2) or code
    if code and code.isascii() and " " not in code:
        quantity["system"] = codes.UCUM
        quantity["code"] = codes.UCUM_SYNONYMS.get(code, code)
    return quantity


def _reference_range(obx: Segment, quantity: Json | None) -> Json:
    """OBX-7: ``low-high``, ``<high`` or ``>low`` as quantities in the result's unit; other text as text."""
    text = obx.value(7)
    if not text:
        return {}
    unit = {element: quantity[element] for element in ("unit", "system", "code") if quantity and element in quantity}
    if match := _RANGE.fullmatch(text):
        return {"low": {"value": Decimal(match.group(1)), **unit}, "high": {"value": Decimal(match.group(2)), **unit}}
    if match := _BOUND.fullmatch(text):
        bound = "high" if match.group(1).startswith("<") else "low"
        return {bound: {"value": Decimal(match.group(2)), **unit}}
    return {"text": text}


def _interpretation(record: _Record, flag: str) -> Json:
    if flag in codes.INTERPRETATIONS:
        coding = {"system": THO + "v3-ObservationInterpretation", "code": flag, "display": codes.INTERPRETATIONS[flag]}
    else:
        coding = record.coding(flag, "", "HL70078", "OBX-8")
    return {"coding": [coding]}


def _diagnostic_report(
    record: _Record,
    obr: Segment,
    spm: Segment | None,
    results: list[Json],
    statuses: list[str],
    category: str | None,
    number: int,
) -> None:
    code = record.required_concept(obr, 4, "universal service identifier")
    result_status = record.table_code(obr, 25, "result status", codes.REPORT_STATUSES, "HL7 table 0123")
    if result_status:
        status = codes.REPORT_STATUSES[result_status]
    else:
        status = "final" if statuses and all(status == "final" for status in statuses) else "unknown"
    body: Json = {"status": status}
    section = "LAB" if category == "laboratory" else obr.value(24)
    if section:
        body["category"] = [{"coding": [{"system": THO + "v2-0074", "code": section}]}]
    body["code"] = code
    body["subject"] = record.patient
    effective = _collected(record, obr, spm)
    if effective:
        body["effectiveDateTime"] = effective
    issued = _instant(record, obr, 22)
    if issued:
        body["issued"] = issued
    if spm is not None and spm.value(4, 2):
        body["specimen"] = [{"display": spm.value(4, 2)}]
    if results:
        body["result"] = results
    profile = "JP_DiagnosticReport_LabResult" if category == "laboratory" else "JP_DiagnosticReport_Common"
    record.put("DiagnosticReport", f"{record.key}.{number}", profile, body)


def _collected(record: _Record, obr: Segment | None, spm: Segment | None) -> str:
    """When the specimen was taken: OBR-7, else SPM-17."""
    observed = record.when(obr, 7, "observation date/time") if obr is not None else ""
    return observed or (record.when(spm, 17, "specimen collection date/time") if spm is not None else "")


def _instant(record: _Record, segment: Segment, number: int) -> str:
    """A FHIR instant needs the time: a date-only value is left out of `issued`."""
    moment = record.when(segment, number, "date/time")
    return moment if "T" in moment else ""


# --- shared pieces --------------------------------------------------------------------------------------


def _groups(message: Message, head: str, members: tuple[str, ...]) -> list[tuple[Segment, list[Segment]]]:
    """Each `head` segment with the `members` segments that follow it up to the next segment of another kind."""
    groups: list[tuple[Segment, list[Segment]]] = []
    open_group = False
    for segment in message.segments:
        if segment.name == head:
            groups.append((segment, []))
            open_group = True
        elif open_group and segment.name in members:
            groups[-1][1].append(segment)
        else:
            open_group = False
    return groups


def _before(message: Message, segment: Segment, name: str) -> Segment | None:
    """The last `name` segment before `segment`."""
    found = None
    for candidate in message.segments[: segment.position - 1]:
        if candidate.name == name:
            found = candidate
    return found


def _status(code_system: str, code: str) -> Json:
    return {"coding": [{"system": THO + code_system, "code": code}]}


def _organization(source: SourceInfo) -> Json:
    """The source organisation, referred to by its identifier (the pipeline registers it)."""
    return {
        "identifier": {"system": source.organization_system, "value": source.organization_value},
        "display": source.organization_name,
    }


def _patient_number(pid: Segment) -> str:
    """PID-3: the repetition typed PI (patient internal ID, as SS-MIX2 writes it), else MR, else the first."""
    repetitions = pid.repetitions(3)
    for kind in ("PI", "MR"):
        for repetition in repetitions:
            if repetition.value(5) == kind:
                return repetition.value(1)
    return repetitions[0].value(1) if repetitions else ""


def _human_name(repetition: Repetition) -> Json:
    """An XPN as a JP Core HumanName, read tolerantly: the representation (I kanji, P kana) is XPN-8, or XPN-7
    when a writer dropped one ``^`` and put the name type (``L``) in XPN-6."""
    family, given, middle, suffix, prefix = (repetition.value(number) for number in (1, 2, 3, 4, 5))
    name_type, representation = repetition.value(7), repetition.value(8)
    if not representation and repetition.value(6) in NAME_TYPES and name_type in codes.REPRESENTATIONS:
        name_type, representation = repetition.value(6), name_type
    code = codes.REPRESENTATIONS.get(representation)
    if code == "SYL":  # half-width katakana to full-width, as the other sources write kana
        family, given, middle = (jp.normalise_kana(part) for part in (family, given, middle))
    givens = [part for part in (given, middle) if part]
    if not family and not givens:
        return {}
    name: Json = {}
    if code:
        name["extension"] = [{"url": jp.NAME_REPRESENTATION, "valueCode": code}]
    use = "usual" if code in ("IDE", "SYL") else codes.NAME_USES.get(name_type)
    if use:
        name["use"] = use
    name["text"] = " ".join(part for part in (family, *givens) if part)
    if family:
        name["family"] = family
    if givens:
        name["given"] = givens
    if prefix:
        name["prefix"] = [prefix]
    if suffix:
        name["suffix"] = [suffix]
    return name


def _person(repetition: Repetition) -> str:
    """An XCN's name for display: family and given name (a whole name may sit in the family part)."""
    return " ".join(part for part in (repetition.value(2), repetition.value(3)) if part)


def _address(repetition: Repetition) -> Json:
    """An XAD: SS-MIX2 writes the whole address in XAD-8 with the postal code (XAD-5); others are structured."""
    street, other, city, state, postal, country, kind, text = (repetition.value(number) for number in range(1, 9))
    address: Json = {}
    if codes.ADDRESS_USES.get(kind):
        address["use"] = codes.ADDRESS_USES[kind]
    if text:
        address["text"] = text
    lines = [part for part in (street, other) if part]
    if lines:
        address["line"] = lines
    for element, value in (("city", city), ("state", state), ("postalCode", postal), ("country", country)):
        if value:
            address[element] = value
    return address if any(key != "use" for key in address) else {}


def _contact_point(repetition: Repetition, use: str) -> Json:
    """An XTN: the number in XTN-12 (or the old XTN-1), e-mail in XTN-4; XTN-2 the use, XTN-3 the equipment."""
    equipment = repetition.value(3).upper()
    system = codes.TELECOM_SYSTEMS.get(equipment, "phone")
    value = repetition.value(4) if system == "email" else repetition.value(12) or repetition.value(1)
    if not value:
        return {}
    contact: Json = {"system": system, "value": value}
    purpose = repetition.value(2)
    chosen = "mobile" if equipment == "CP" else codes.TELECOM_USES.get(purpose) if purpose else use
    if chosen:
        contact["use"] = chosen
    return contact


def _location(repetition: Repetition) -> str:
    """A PL for display: its description (PL-9), else point of care / room / bed (病棟/病室/ベッド, or 診療科)."""
    return repetition.value(9) or "/".join(part for part in (repetition.value(number) for number in (1, 2, 3)) if part)


def _unit(repetition: Repetition) -> tuple[str, str, str]:
    """A CWE unit's code, text and coding system."""
    return repetition.value(1), repetition.value(2), repetition.value(3)


HANDLERS: dict[str, Callable[[_Record], None]] = {
    **{f"ADT^{trigger}": _adt for trigger in ("A01", "A02", "A03", "A04", "A08", "A40", "A60")},
    "PPR^ZD1": _problems,
    "RDE^O11": _prescriptions,
    "RAS^O17": _administrations,
    "OUL^R22": _lab_results,
    "ORU^R01": _observation_results,
}
