"""SS-MIX2 標準化ストレージ (HL7 v2.5, ISO-2022-JP, CR segment ends): what a hospital's or clinic's HIS keeps.

One message per file, in the standard tree:
``<ID[0:3]>/<ID[3:6]>/<ID>/<診療日|->/<種別>/<ID>_<診療日|->_<種別>_<オーダNo>_<発生日時>_<診療科|->_<flag>``.

Messages: ADT-00 (ADT^A08 患者基本), ADT-12 (ADT^A04 外来受付, outpatient and emergency visits), ADT-22 /
ADT-52 (ADT^A01 / A03 入院 / 退院), PPR-01 (PPR^ZD1, one per diagnosis), OMP-01 (RDE^O11 処方) and OML-11
(OUL^R22 検体検査結果). Immunizations are not written: only the FHIR clinic reports them.

Choices the SS-MIX2 connector relies on (where the spec leaves room or could not be checked):
- オーダNo ``999999999999999`` where there is no order (ADT), as in the spec's sample tree. PPR-01, OMP-01 and
  OML-11 use the model's order number. 診療科 is ``-`` for ADT-00 and PPR-01 (a diagnosis has no department).
- 診療日: visit start (ADT-12, ADT-22), discharge (ADT-52), order time (OMP-01), specimen collection (OML-11).
- 発生日時 (and MSH-7) is the event time plus 0-179 seconds, with milliseconds, both taken from a hash of the
  message's key; MSH-10 is a 20-digit hash of the same key, unique per source. Files end with CR alone (the
  NHO sample tree adds an MLLP 0x1C; a reader should accept both).
- ADT-12 of an emergency visit has PV1-2 ``O`` (SS-MIX2 knows only I and O) and PV1-4 admission type ``E``.
- ADT-00 is a snapshot of the patient master as of its 発生日時: one per address the source learned (older ones
  flag ``2``). The newest is stamped at the latest master update (address, allergy, insurance card or death
  here), so it alone carries everything known. Only ADT-00 carries the address (PID-11) and phone (PID-13);
  other messages carry PID-3/5/7/8, and a discharge by death also PID-29/30 (PV1-36 ``20^死亡^HL70112``).
- IN1: IN1-2 保険種別 (JHSD0001: ``C0`` 国保, ``39`` 後期高齢者医療, ``01`` 協会けんぽ), IN1-3 保険者番号,
  IN1-10 記号, IN1-11 番号, IN1-12 valid from, IN1-17 ``SEL^本人`` / ``OTH^家族`` (HL70063), IN1-49 枝番.
- PRB-10 is the ICD-10 code without its dot (``E119``), as SS-MIX2 病名 masters write it; PRB-13
  ``1^疑いあり^JHSD0005`` marks a suspected diagnosis; an abated one has PRB-9 and PRB-14/15 ``R^治癒^HL70241``.
- RXE-3 is one dose: 1日量 divided by the times a day in the 用法 (``１日２回``) for 内服 (RXE-19 then gives the
  1日量), the dose per use for 屯服, and ``""`` (null, with RXE-5) for 外用. RXE-10 = dose x days (the model's
  1日量 x 日数/回数), RXE-15 = the order number. TQ1-6 (``28^d``) only for 内服, RXR ``PO`` for 内服 and 屯服.
- Orders and lab results say inpatient (PV1-2 ``I``, ORC-29 ``I``) for an inpatient prescription, or for a
  specimen taken during a stay here; the stay's ward, room and bed (PV1-3) are a hash of the admission.
- OML-11: one SPM + OBR + ORC group per specimen; OBX-7 is ``low-high``, ``<high`` or ``>low``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import cache

from synthetic.model import (
    Address,
    Allergy,
    Department,
    Diagnosis,
    DosageForm,
    Encounter,
    EncounterClass,
    HealthInsurance,
    Institution,
    InsuranceKind,
    LabPanel,
    LabResult,
    Person,
    PrescribedDrug,
    Prescription,
    Region,
    Sex,
    SourceView,
)
from synthetic.output import Output
from synthetic.writers.hl7v2 import encode, escape, segment

NO_ORDER = "999999999999999"
NO_DAY = "-"  # the date folder of data that belongs to no single day
NO_DEPARTMENT = "-"
PROFILE = "SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO"
MESSAGE_TYPES = {
    "ADT-00": "ADT^A08^ADT_A01",
    "ADT-12": "ADT^A04^ADT_A01",
    "ADT-22": "ADT^A01^ADT_A01",
    "ADT-52": "ADT^A03^ADT_A03",
    "PPR-01": "PPR^ZD1^PPR_ZD1",
    "OMP-01": "RDE^O11^RDE_O11",
    "OML-11": "OUL^R22^OUL_R22",
}
SEX_CODES = {Sex.MALE: "M", Sex.FEMALE: "F"}
INSURANCE_TYPES = {
    InsuranceKind.NATIONAL: "C0^国民健康保険^JHSD0001",
    InsuranceKind.LATE_ELDERLY: "39^後期高齢者医療^JHSD0001",
    InsuranceKind.EMPLOYEE: "01^全国健康保険協会管掌健康保険^JHSD0001",
}
ALLERGY_TYPES = {
    "medication": "DA^薬剤アレルギー^HL70127",
    "food": "FA^食物アレルギー^HL70127",
    "environment": "EA^環境アレルギー^HL70127",
}
ORDER_TYPES = {False: "O^外来患者オーダ^HL70482", True: "I^入院患者オーダ^HL70482"}
PRESCRIPTION_TYPES = {False: "OHP^外来処方^MR9P", True: "IHP^入院処方^MR9P"}
ORAL_FORMS = frozenset({DosageForm.ORAL, DosageForm.AS_NEEDED})
MASTER_UPDATE = time(9, 0)  # the front desk updates the patient master when it opens
_TIMES_A_DAY = re.compile("１日([１-９])回")
_MILLI = Decimal("0.001")


def write_person(region: Region, institution: Institution, person: Person, out: Output) -> None:
    """Every message this hospital or clinic stores about the person."""
    code = institution.code
    storage = _Storage(institution, person.views[code], [e for e in person.encounters if e.institution == code], out)
    storage.patient_master(person.allergies)
    storage.visits()
    storage.diagnoses(d for d in person.diagnoses if d.institution == code)
    storage.prescriptions(p for p in person.prescriptions if p.institution == code)
    storage.lab_panels(p for p in person.lab_panels if p.institution == code)


def write_institution(region: Region, institution: Institution, out: Output) -> None:
    """Nothing: an SS-MIX2 tree holds per-patient files only."""


class _Storage:
    """One patient's folder at one institution, and what all of its messages share."""

    def __init__(self, institution: Institution, view: SourceView, encounters: list[Encounter], out: Output) -> None:
        self.institution = institution
        self.view = view
        self.encounters = encounters
        self.out = out
        patient_id = view.patient_id
        self.folder = f"{patient_id[:3]}/{patient_id[3:6]}/{patient_id}"
        number = institution.organization_number
        self.msh = f"MSH|^~\\&|HIS|{number}|SS-MIX2|{number}|"
        self.pid = _pid(view)
        self.stays = [e for e in encounters if e.encounter_class is EncounterClass.INPATIENT]
        address = institution.address
        self.facility = {
            21: escape(institution.name),
            22: f"^^^^{address.postal_code}^JPN^^{escape(address.text)}",
            23: f"^^^^^^^^^^^{institution.phone}",
        }

    def patient_master(self, allergies: list[Allergy]) -> None:
        """ADT-00: one snapshot per address learned; the newest (flag 1) at the last update of the master."""
        view, insurance = self.view, self.view.insurance
        death = next((e.end for e in self.encounters if e.died and e.end is not None), None)
        moments = [
            datetime.combine(since, MASTER_UPDATE) + timedelta(minutes=5 * i)
            for i, (since, _) in enumerate(view.addresses)
        ]
        updates = [moments[-1], *(datetime.combine(allergy.recorded_on, MASTER_UPDATE) for allergy in allergies)]
        if insurance is not None:
            updates.append(datetime.combine(insurance.valid_from, MASTER_UPDATE))
        if death is not None:
            updates.append(death)
        moments[-1] = max(updates)
        newest = len(moments) - 1
        for i, ((_, address), moment) in enumerate(zip(view.addresses, moments, strict=True)):
            day = moment.date()
            known = [allergy for allergy in allergies if allergy.recorded_on <= day]
            segments = [
                f"EVN||{moment:%Y%m%d%H%M}",
                _pid(view, address, death if death is not None and death <= moment else None),
                "PV1|0001|N",
                *(_al1(n, allergy) for n, allergy in enumerate(known, 1)),
            ]
            if insurance is not None and insurance.valid_from <= day:
                segments.append(_in1(insurance))
            flag = "1" if i == newest else "2"
            self._write("ADT-00", NO_DAY, NO_ORDER, NO_DEPARTMENT, moment, str(i), segments, flag)

    def visits(self) -> None:
        """ADT-12 per outpatient or emergency visit; ADT-22, and ADT-52 once discharged, per stay."""
        for i, encounter in enumerate(self.encounters):
            key, start, end = str(i), encounter.start, encounter.end
            if encounter.encounter_class is not EncounterClass.INPATIENT:
                emergency = "E" if encounter.encounter_class is EncounterClass.EMERGENCY else ""
                self._event("ADT-12", start, encounter, key, self.pid, {4: emergency, 44: f"{start:%Y%m%d%H%M}"})
                continue
            admission = {17: self._doctor(encounter.doctor), 44: f"{start:%Y%m%d%H%M}"}
            self._event("ADT-22", start, encounter, key, self.pid, admission)
            if end is not None:
                disposition = "20^死亡^HL70112" if encounter.died else "01^自宅^HL70112"
                pid = _pid(self.view, death=end) if encounter.died else self.pid
                discharge = {**admission, 36: disposition, 45: f"{end:%Y%m%d%H%M}"}
                self._event("ADT-52", end, encounter, key, pid, discharge)

    def diagnoses(self, diagnoses: Iterable[Diagnosis]) -> None:
        """PPR-01: one file per diagnosis, in the ``-`` folder."""
        for diagnosis in diagnoses:
            condition, recorded = diagnosis.condition, diagnosis.recorded_at
            name = escape(condition.name)
            code = f"{condition.medis_key}^{name}^MDCDX2"
            problem = {
                1: "AD",
                2: f"{recorded:%Y%m%d%H%M}",
                3: code,
                4: diagnosis.order_number,
                7: f"{recorded:%Y%m%d}",
                10: f"{condition.icd10.replace('.', '')}^^I10",
                16: f"{diagnosis.onset:%Y%m%d}",
            }
            if diagnosis.abated is not None:
                abated = f"{diagnosis.abated:%Y%m%d}"
                problem |= {9: abated, 14: "R^治癒^HL70241", 15: abated}
            if diagnosis.suspected:
                problem[13] = "1^疑いあり^JHSD0005"
            if condition.sensitive:
                problem[25] = "V^非常に限定^HL70177"
            segments = [self.pid, segment("PRB", problem), f"ZPR||{code}|||{condition.medis_exchange}^{name}^MDCDX2"]
            number = diagnosis.order_number
            self._write("PPR-01", NO_DAY, number, NO_DEPARTMENT, recorded, number, segments)

    def prescriptions(self, prescriptions: Iterable[Prescription]) -> None:
        """OMP-01: one RDE^O11 per prescription, an ORC + RXE + TQ1 (+ RXR) group per drug."""
        for prescription in prescriptions:
            ordered, inpatient, department = prescription.ordered_at, prescription.inpatient, prescription.department
            stay = self._stay(ordered) if inpatient else None
            location = self._location(stay, department)
            order = {
                1: "NW",
                2: prescription.order_number,
                9: f"{ordered:%Y%m%d%H%M%S}",
                12: self._doctor(prescription.doctor),
                13: location,
                17: _department(department),
                **self.facility,
                29: ORDER_TYPES[inpatient],
            }
            segments = [self.pid, self._pv1(inpatient, location, department, prescription.doctor)]
            for item in prescription.drugs:
                order[4] = str(item.rp_number)
                segments += (segment("ORC", order), _rxe(prescription, item), _tq1(item, ordered))
                if item.drug.form in ORAL_FORMS:
                    segments.append("RXR|PO^口^HL70162")
            number = prescription.order_number
            self._write("OMP-01", f"{ordered:%Y%m%d}", number, department.code, ordered, number, segments)

    def lab_panels(self, panels: Iterable[LabPanel]) -> None:
        """OML-11: one OUL^R22 per panel, its results grouped by specimen."""
        for panel in panels:
            stay = self._stay(panel.collected_at)
            department, number = panel.department, panel.order_number
            location = self._location(stay, department)
            collected, reported = f"{panel.collected_at:%Y%m%d%H%M}", f"{panel.reported_at:%Y%m%d%H%M%S}"
            doctor = self._doctor(panel.doctor)
            order = {
                1: "SC",
                2: number,
                5: "CM",
                9: reported,
                12: doctor,
                13: location,
                17: _department(department),
                **self.facility,
                29: ORDER_TYPES[stay is not None],
            }
            groups: dict[tuple[str, str], list[LabResult]] = {}
            for result in panel.results:
                groups.setdefault((result.test.specimen_code, result.test.specimen_name), []).append(result)
            segments = [self.pid, self._pv1(stay is not None, location, department, panel.doctor)]
            for n, ((specimen_code, specimen_name), results) in enumerate(groups.items(), 1):
                specimen = f"{number}{n:02d}"
                name = escape(specimen_name)
                order[3] = specimen
                segments += (
                    segment("SPM", {1: str(n), 2: specimen, 4: f"{specimen_code}^{name}^JC10", 17: collected}),
                    segment(
                        "OBR",
                        {
                            1: str(n),
                            2: number,
                            3: specimen,
                            4: f"{specimen_code}^{name}検査^99O03",
                            7: collected,
                            16: doctor,
                            22: reported,
                            25: "F",
                        },
                    ),
                    segment("ORC", order),
                    *(_obx(i, result, collected) for i, result in enumerate(results, 1)),
                )
            day = f"{panel.collected_at:%Y%m%d}"
            self._write("OML-11", day, number, department.code, panel.reported_at, number, segments)

    def _event(
        self, kind: str, moment: datetime, encounter: Encounter, key: str, pid: str, visit: dict[int, str]
    ) -> None:
        """An ADT message about a visit or stay, filed under the day it happened; `visit` adds to its PV1."""
        department = encounter.department
        inpatient = encounter.encounter_class is EncounterClass.INPATIENT
        location = self._location(encounter if inpatient else None, department)
        segments = [
            f"EVN||{moment:%Y%m%d%H%M}||||{moment:%Y%m%d%H%M}",
            pid,
            self._pv1(inpatient, location, department, encounter.doctor, visit),
        ]
        self._write(kind, f"{moment:%Y%m%d}", NO_ORDER, department.code, moment, key, segments)

    def _write(
        self,
        kind: str,
        day: str,
        order: str,
        department: str,
        moment: datetime,
        key: str,
        segments: list[str],
        flag: str = "1",
    ) -> None:
        """Stamp the message (MSH-7 = 発生日時, MSH-10) from `key`, unique per kind for the patient, and store it."""
        patient_id = self.view.patient_id
        digest = _digest(f"{patient_id}|{kind}|{key}")
        stamp = f"{moment + timedelta(seconds=digest % 180):%Y%m%d%H%M%S}{digest // 180 % 1000:03d}"
        header = (
            f"{self.msh}{stamp[:14]}.{stamp[14:]}||{MESSAGE_TYPES[kind]}|{digest:020d}|P|2.5||||||~ISO IR87||"
            f"ISO2022-1994|{PROFILE}"
        )
        name = f"{patient_id}_{day}_{kind}_{order}_{stamp}_{department}_{flag}"
        self.out.write_file(f"{self.folder}/{day}/{kind}/{name}", encode("\r".join((header, *segments)) + "\r"))

    def _pv1(
        self, inpatient: bool, location: str, department: Department, doctor: str, more: dict[int, str] | None = None
    ) -> str:
        fields = {1: "0001", 2: "I" if inpatient else "O", 3: location, 7: self._doctor(doctor), 10: department.code}
        return segment("PV1", fields | more if more else fields)

    def _doctor(self, name: str) -> str:
        """XCN: the staff number (position in the institution's staff list), family and given name."""
        if not name:
            return ""
        staff = self.institution.staff
        number = f"{staff.index(name) + 1:04d}" if name in staff else ""
        family, _, given = name.partition(" ")
        return f"{number}^{escape(family)}^{escape(given)}^^^^^^^L^^^^^I"

    def _stay(self, moment: datetime) -> Encounter | None:
        return next((e for e in self.stays if e.start <= moment and (e.end is None or moment <= e.end)), None)

    def _location(self, stay: Encounter | None, department: Department) -> str:
        """PV1-3: during a stay a bed (病棟^病室^ベッド, plausible and stable for the stay), else the clinic."""
        if stay is None:
            return f"{department.code}^^^^^C"
        digest = _digest(f"{self.view.patient_id}|{stay.start}")
        floor = 2 + digest % 5
        return f"{floor}{1 + digest // 5 % 2}^{floor}{1 + digest // 10 % 15:02d}^{1 + digest // 150 % 4}^^^N"


def _pid(view: SourceView, address: Address | None = None, death: datetime | None = None) -> str:
    """PID; `address` (with the phone) only for the patient master, `death` once the death is known here."""
    name = view.name
    fields = {
        1: "0001",
        3: f"{view.patient_id}^^^^PI",
        5: f"{escape(name.family_kanji)}^{escape(name.given_kanji)}^^^^^L^I~"
        f"{escape(name.family_kana)}^{escape(name.given_kana)}^^^^^L^P",
        7: f"{view.birth_date:%Y%m%d}",
        8: SEX_CODES[view.sex],
    }
    if address is not None:
        fields[11] = f"^^^^{address.postal_code}^JPN^H^{escape(address.text)}"
        if view.phone:
            fields[13] = f"^PRN^PH^^^^^^^^^{view.phone}"
    if death is not None:
        fields |= {29: f"{death:%Y%m%d%H%M}", 30: "Y"}
    return segment("PID", fields)


def _al1(number: int, allergy: Allergy) -> str:
    """AL1 with the substance as text only: the model has no allergen codes."""
    fields = {
        1: str(number),
        2: ALLERGY_TYPES[allergy.category],
        3: f"^{escape(allergy.substance)}",
        6: f"{allergy.recorded_on:%Y%m%d}",
    }
    return segment("AL1", fields)


def _in1(insurance: HealthInsurance) -> str:
    relationship = "OTH^家族^HL70063" if insurance.dependent else "SEL^本人^HL70063"
    fields = {
        1: "1",
        2: INSURANCE_TYPES[insurance.kind],
        3: insurance.insurer_number,
        10: escape(insurance.symbol),
        11: escape(insurance.number),
        12: f"{insurance.valid_from:%Y%m%d}",
        17: relationship,
        49: insurance.branch,
    }
    return segment("IN1", fields)


def _department(department: Department) -> str:
    return f"{department.code}^{escape(department.name)}^HL70069"


def _rxe(prescription: Prescription, item: PrescribedDrug) -> str:
    drug = item.drug
    unit = f"{drug.unit_code}^{escape(drug.unit)}^MR9P"
    fields = {
        2: f"{drug.hot9}^{escape(drug.name)}^HOT9",
        10: _amount(item.daily_dose * item.days),
        11: unit,
        15: prescription.order_number,
        21: PRESCRIPTION_TYPES[prescription.inpatient],
    }
    if drug.form is DosageForm.ORAL:
        fields |= {
            3: _amount(item.daily_dose / _times_a_day(drug.usage_text)),
            5: unit,
            19: f"{_amount(item.daily_dose)}^{drug.unit_code}&{escape(drug.unit)}&MR9P",
        }
    elif drug.form is DosageForm.AS_NEEDED:
        fields |= {3: _amount(item.daily_dose), 5: unit}
    else:
        fields |= {3: '""', 5: '""'}
    return segment("RXE", fields)


def _tq1(item: PrescribedDrug, ordered: datetime) -> str:
    drug = item.drug
    fields = {1: "1", 3: f"{drug.usage_code}&{escape(drug.usage_text)}&JAMISDP01", 7: f"{ordered:%Y%m%d}"}
    if drug.form is DosageForm.ORAL:
        fields[6] = f"{item.days}^d"
    return segment("TQ1", fields)


def _obx(number: int, result: LabResult, collected: str) -> str:
    test = result.test
    unit = escape(test.unit)
    if test.low is not None and test.high is not None:
        reference = f"{test.low:f}-{test.high:f}"
    elif test.high is not None:
        reference = f"<{test.high:f}"
    else:
        reference = f">{test.low:f}" if test.low is not None else ""
    fields = {
        1: str(number),
        2: "NM",
        3: f"{test.jlac10}^{escape(test.name)}^JC10",
        5: f"{result.value:f}",
        6: f"{unit}^{unit}^ISO+" if unit else "",
        7: reference,
        8: result.flag,
        11: "F",
        14: collected,
    }
    return segment("OBX", fields)


def _digest(key: str) -> int:
    """A stable 64-bit number from `key` (unlike hash(), the same in every process)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest())


@cache
def _times_a_day(usage: str) -> int:
    """How many doses a day a 用法 names (``１日３回朝昼夕食後`` -> 3); 1 when it names none."""
    match = _TIMES_A_DAY.search(usage)
    return int(match.group(1)) if match else 1


def _amount(value: Decimal) -> str:
    """A quantity as a plain decimal, at most three places, without trailing zeros."""
    return f"{value.quantize(_MILLI).normalize():f}"
