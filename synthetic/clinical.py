"""Health histories: chronic conditions by age, regular visits with prescriptions and labs, acute events,
admissions, immunisations and deaths, each at the institution that would record it."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from synthetic.catalog.clinical import (
    BASIC_PANEL,
    CONDITIONS,
    DEPARTMENTS,
    DRUGS,
    LAB_TESTS,
    MONITORING,
    TREATMENT,
    VACCINES,
)
from synthetic.model import (
    Allergy,
    Condition,
    Department,
    Diagnosis,
    Dispensing,
    DosageForm,
    Drug,
    Encounter,
    EncounterClass,
    Fall,
    Immunization,
    Institution,
    InstitutionKind,
    LabPanel,
    LabResult,
    Person,
    PrescribedDrug,
    Prescription,
    Region,
    Sex,
)
from synthetic.world import years_before

# Prevalence of chronic conditions by age band: <40, 40-64, 65-74, 75-84, 85+ (female, male where they differ).
PREVALENCE: dict[str, tuple[float, ...]] = {
    "hypertension": (0.01, 0.2, 0.45, 0.6, 0.65),
    "diabetes": (0.002, 0.07, 0.15, 0.17, 0.15),
    "dyslipidemia": (0.01, 0.15, 0.3, 0.3, 0.2),
    "dementia": (0.0, 0.002, 0.03, 0.13, 0.4),
    "heart_failure": (0.0, 0.005, 0.03, 0.08, 0.15),
    "atrial_fibrillation": (0.0, 0.005, 0.03, 0.06, 0.08),
    "cerebral_infarction": (0.0, 0.01, 0.04, 0.08, 0.1),
    "ckd": (0.0, 0.03, 0.1, 0.15, 0.2),
    "gerd": (0.02, 0.06, 0.1, 0.12, 0.12),
    "gastritis": (0.01, 0.05, 0.08, 0.1, 0.1),
    "insomnia": (0.02, 0.05, 0.1, 0.15, 0.15),
    "knee_oa": (0.0, 0.05, 0.15, 0.25, 0.25),
    "lumbar_stenosis": (0.0, 0.02, 0.06, 0.1, 0.1),
    "copd": (0.0, 0.01, 0.03, 0.05, 0.05),
    "constipation": (0.01, 0.03, 0.08, 0.15, 0.25),
    "depression": (0.02, 0.03, 0.03, 0.03, 0.03),
    "asthma": (0.05, 0.03, 0.03, 0.03, 0.03),
    "allergic_rhinitis": (0.1, 0.1, 0.05, 0.03, 0.02),
    "atopic_dermatitis": (0.05, 0.02, 0.01, 0.01, 0.01),
    "cancer": (0.002, 0.01, 0.03, 0.04, 0.04),
}
FEMALE_ONLY = {"osteoporosis": (0.0, 0.03, 0.15, 0.3, 0.4), "breast_cancer": (0.001, 0.006, 0.01, 0.01, 0.01)}
MALE_ONLY = {"bph": (0.0, 0.05, 0.2, 0.3, 0.3), "osteoporosis": (0.0, 0.005, 0.02, 0.05, 0.08)}
DEMENTIA_KINDS = (("dementia_alzheimer", 0.6), ("dementia_vascular", 0.2), ("dementia_unspecified", 0.2))
CANCERS = ("gastric_cancer", "colon_cancer", "lung_cancer", "prostate_cancer")
ORTHOPEDIC = frozenset({"osteoporosis", "knee_oa", "lumbar_stenosis"})
HOSPITAL_FOLLOW_UP = frozenset({*CANCERS, "breast_cancer"})

# Lab values: (mean, spread, decimals) for a healthy person, and shifted means for conditions.
LAB_VALUES = {
    "tp": (7.1, 0.4, 1),
    "alb": (4.2, 0.3, 1),
    "ast": (22, 6, 0),
    "alt": (18, 7, 0),
    "cre": (0.75, 0.15, 2),
    "ua": (5.2, 1.1, 1),
    "bun": (15, 4, 0),
    "glucose": (95, 9, 0),
    "hba1c": (5.6, 0.3, 1),
    "tc": (200, 28, 0),
    "tg": (120, 45, 0),
    "hdl": (58, 12, 0),
    "ldl": (118, 25, 0),
    "na": (141, 2, 0),
    "k": (4.2, 0.3, 1),
    "wbc": (5.8, 1.3, 1),
    "hb": (13.4, 1.2, 1),
    "plt": (24.0, 5.0, 1),
    "crp": (0.08, 0.05, 2),
    "bnp": (15, 8, 1),
}
SICK_LAB_VALUES = {
    ("diabetes", "hba1c"): (7.3, 0.7),
    ("diabetes", "glucose"): (150, 30),
    ("dyslipidemia", "ldl"): (140, 25),
    ("ckd", "cre"): (1.5, 0.4),
    ("heart_failure", "bnp"): (220, 120),
    ("pneumonia", "crp"): (8.0, 4.0),
    ("pneumonia", "wbc"): (12.5, 2.5),
}
ALLERGENS = (
    ("medication", "ペニシリン"),
    ("medication", "セフェム系抗生物質"),
    ("medication", "ヨード造影剤"),
    ("food", "卵"),
    ("food", "そば"),
    ("food", "えび"),
)


@dataclass(slots=True)
class CareNeeds:
    """What the health history tells the care simulation: triggers for 要介護認定."""

    dementia: bool = False
    stroke: bool = False
    fracture_discharge: date | None = None
    frailty: float = 0.0  # 0..1, drives care levels and checklist answers


@dataclass(slots=True)
class _Clock:
    """Issues order numbers unique in every institution: the person's number and a running count."""

    person_number: int
    count: int = 0

    def next(self) -> str:
        self.count += 1
        return f"{self.person_number:09d}{self.count:06d}"


@dataclass(slots=True)
class Caregivers:
    """The institutions that look after this person."""

    home: Institution | None
    orthopedic: Institution | None
    hospital: Institution
    pharmacies: list[Institution] = field(default_factory=list)


CaregiverPicker = Callable[[random.Random, Person, dict[str, date]], Caregivers]


def band(age: int) -> int:
    return 0 if age < 40 else 1 if age < 65 else 2 if age < 75 else 3 if age < 85 else 4


def live_health(region: Region, person: Person, rng: random.Random, caregivers_of: CaregiverPicker) -> CareNeeds:
    """Simulate the person's health over the period; fills the person's clinical event lists."""
    age = person.age_on(region.as_of)
    clock = _Clock(int(person.person_id[1:]))
    chronic = _chronic_conditions(rng, person, age, region.start)
    needs = CareNeeds(
        dementia=any(key.startswith("dementia") for key in chronic),
        stroke="cerebral_infarction" in chronic,
        frailty=min(1.0, max(0.0, (age - 65) / 30 + 0.15 * len(chronic) / 3 + rng.gauss(0, 0.1))),
    )
    caregivers = caregivers_of(rng, person, chronic)
    if rng.random() < 0.09:
        category, substance = rng.choice(ALLERGENS)
        person.allergies.append(Allergy(category, substance, years_before(region.start, rng.randint(0, 10))))
    person.death = _death(rng, region, age, chronic)
    end = min(region.as_of, person.death - timedelta(days=1)) if person.death else region.as_of
    history = _History(region, person, rng, clock, end)
    history.follow_up(chronic, caregivers)
    history.acute_events(age, chronic, caregivers, needs)
    history.immunise(age, caregivers)
    if person.death and rng.random() < 0.5:
        history.terminal_admission(caregivers.hospital, person.death)
    return needs


def _chronic_conditions(rng: random.Random, person: Person, age: int, start: date) -> dict[str, date]:
    """Chronic condition key -> onset (before the period)."""
    age_band = band(age)
    female = person.sex is Sex.FEMALE
    table = {**PREVALENCE, **(FEMALE_ONLY if female else MALE_ONLY)}
    chronic: dict[str, date] = {}
    for key, prevalence in table.items():
        if rng.random() >= prevalence[age_band]:
            continue
        if key == "dementia":
            key = rng.choices([kind for kind, _ in DEMENTIA_KINDS], [weight for _, weight in DEMENTIA_KINDS])[0]
        elif key == "cancer":
            key = rng.choice(CANCERS if not female else CANCERS[:3])
        onset = years_before(start, rng.randint(0, max(0, min(15, age - 20)))) - timedelta(days=rng.randrange(300))
        chronic[key] = max(onset, person.birth_date + timedelta(days=30))
    return chronic


def _death(rng: random.Random, region: Region, age: int, chronic: dict[str, date]) -> date | None:
    """Gompertz mortality (about 3% a year at 80), higher with heart failure or cancer."""
    yearly = 1.2e-5 * math.exp(0.1 * age) * (0.6 if rng.random() < 0.5 else 1.0)
    if "heart_failure" in chronic or any(key in HOSPITAL_FOLLOW_UP for key in chronic):
        yearly *= 2
    period_days = (region.as_of - region.start).days + 1
    if rng.random() >= min(0.9, yearly * period_days / 365.25):
        return None
    return region.start + timedelta(days=rng.randrange(1, period_days))


def _workday(day: date) -> date:
    return day + timedelta(days=1) if day.weekday() == 6 else day


def _at(day: date, rng: random.Random, earliest: int = 9, latest: int = 16) -> datetime:
    return datetime.combine(day, time(rng.randint(earliest, latest), rng.randrange(0, 60, 5)))


class _History:
    """Writes one person's clinical events into the model, never after `end` (the day before death)."""

    def __init__(self, region: Region, person: Person, rng: random.Random, clock: _Clock, end: date) -> None:
        self.region = region
        self.person = person
        self.rng = rng
        self.clock = clock
        self.end = end

    # --- regular care ----------------------------------------------------------------------------------

    def follow_up(self, chronic: dict[str, date], caregivers: Caregivers) -> None:
        by_institution: dict[str, tuple[Institution, list[str]]] = {}
        for key in chronic:
            institution = self._manager(key, caregivers)
            if institution is not None:
                by_institution.setdefault(institution.code, (institution, []))[1].append(key)
        for institution, keys in by_institution.values():
            self._regular_visits(institution, keys, chronic, caregivers)

    def _manager(self, key: str, caregivers: Caregivers) -> Institution | None:
        if key in HOSPITAL_FOLLOW_UP:
            return caregivers.hospital
        if key in ORTHOPEDIC and caregivers.orthopedic is not None:
            return caregivers.orthopedic
        return caregivers.home

    def _regular_visits(
        self, institution: Institution, keys: list[str], chronic: dict[str, date], caregivers: Caregivers
    ) -> None:
        rng = self.rng
        department = self._department(institution, keys)
        doctor = rng.choice(institution.staff)
        interval = 28 if self.person.age_on(self.region.as_of) >= 75 or rng.random() < 0.4 else 56
        for key in keys:
            recorded = max(chronic[key], years_before(self.region.start, rng.randint(0, 8)))
            self._diagnose(institution, CONDITIONS[key], chronic[key], _at(recorded, rng))
        drugs = self._regimen(keys)
        pharmacy = caregivers.pharmacies[0] if caregivers.pharmacies else None
        if institution is caregivers.orthopedic and len(caregivers.pharmacies) > 1:
            pharmacy = caregivers.pharmacies[1]
        day = self.region.start + timedelta(days=rng.randrange(interval))
        visit = 0
        while day <= self.end:
            when = _at(_workday(day), rng)
            if when.date() > self.end:
                break
            self._encounter(
                institution,
                EncounterClass.OUTPATIENT,
                department,
                when,
                when + timedelta(minutes=15),
                CONDITIONS[keys[0]],
                doctor,
            )
            if drugs:
                self._prescribe(
                    institution,
                    when + timedelta(minutes=10),
                    department,
                    doctor,
                    drugs,
                    interval,
                    pharmacy,
                    inpatient=False,
                )
            monitored = [test for key in keys for test in MONITORING.get(key, ())]
            if (monitored and visit % 3 == 0) or visit % 6 == 0:
                self._labs(institution, when - timedelta(minutes=20), department, doctor, monitored, keys)
            visit += 1
            day += timedelta(days=interval + rng.randint(-3, 3))

    def _department(self, institution: Institution, keys: list[str]) -> Department:
        wanted = "orthopedics" if keys[0] in ORTHOPEDIC else "psychiatry" if keys[0] == "depression" else "internal"
        for department in institution.departments:
            if department == DEPARTMENTS[wanted]:
                return department
        return institution.departments[0]

    def _regimen(self, keys: list[str]) -> list[Drug]:
        chosen: dict[str, Drug] = {}
        for key in keys:
            for group in TREATMENT.get(key, ()):
                drug = DRUGS[self.rng.choice(group)]
                chosen.setdefault(drug.key, drug)
        return list(chosen.values())

    # --- acute events -------------------------------------------------------------------------------

    def acute_events(self, age: int, chronic: dict[str, date], caregivers: Caregivers, needs: CareNeeds) -> None:
        rng = self.rng
        years = ((self.region.as_of - self.region.start).days + 1) / 365.25
        if rng.random() < 0.15 * years:
            self._infection(caregivers)
        fracture = (0.0, 0.001, 0.004, 0.012, 0.03)[band(age)]
        fracture *= (2 if "osteoporosis" in chronic else 1) * (1.5 if needs.dementia else 1)
        if rng.random() < fracture * years:
            needs.fracture_discharge = self._hip_fracture(caregivers.hospital)
        if age >= 55 and rng.random() < (0.003, 0.003, 0.005, 0.01, 0.015)[band(age)] * years:
            needs.stroke = self._admission(caregivers.hospital, "cerebral_infarction", "neurosurgery", (20, 40)) or (
                needs.stroke
            )
        if "heart_failure" in chronic and rng.random() < 0.2 * years:
            self._admission(caregivers.hospital, "heart_failure", "cardiology", (10, 20))
        if age >= 75 and rng.random() < (0.03 if age < 85 else 0.06) * years:
            self._admission(caregivers.hospital, "pneumonia", "respiratory", (10, 16))
        if age >= 65 and rng.random() < 0.03 * years:
            self._admission(caregivers.hospital, "cataract", "ophthalmology", (2, 4))
        for key in HOSPITAL_FOLLOW_UP & chronic.keys():
            if rng.random() < 0.4 * years:
                self._admission(caregivers.hospital, key, "surgery", (7, 21))

    def _infection(self, caregivers: Caregivers) -> None:
        rng = self.rng
        institution = caregivers.home or caregivers.hospital
        day = self._day()
        if day is None:
            return
        key = "influenza" if day.month in (12, 1, 2, 3) and rng.random() < 0.5 else "acute_bronchitis"
        department = institution.departments[0]
        doctor = rng.choice(institution.staff)
        when = _at(day, rng)
        self._encounter(
            institution,
            EncounterClass.OUTPATIENT,
            department,
            when,
            when + timedelta(minutes=10),
            CONDITIONS[key],
            doctor,
        )
        self._diagnose(institution, CONDITIONS[key], day, when, abated=day + timedelta(days=14))
        pharmacy = caregivers.pharmacies[0] if caregivers.pharmacies else None
        self._prescribe(
            institution,
            when + timedelta(minutes=5),
            department,
            doctor,
            self._regimen([key]),
            5,
            pharmacy,
            inpatient=False,
        )

    def _hip_fracture(self, hospital: Institution) -> date | None:
        rng = self.rng
        day = self._day()
        if day is None:
            return None
        key = rng.choice(("hip_fracture", "trochanteric_fracture"))
        arrival = _at(day, rng, 7, 21)
        self._encounter(
            hospital,
            EncounterClass.EMERGENCY,
            DEPARTMENTS["emergency"],
            arrival,
            arrival + timedelta(hours=2),
            CONDITIONS[key],
            rng.choice(hospital.staff),
        )
        self.person.falls.append(Fall(hospital.code, day, rng.choice(("home", "home", "outdoors")), "fracture"))
        discharge = self._stay(hospital, key, DEPARTMENTS["orthopedics"], arrival + timedelta(hours=2), (25, 45))
        return discharge

    def _admission(self, hospital: Institution, key: str, department: str, days: tuple[int, int]) -> bool:
        day = self._day()
        if day is None:
            return False
        self._stay(hospital, key, DEPARTMENTS[department], _at(day, self.rng, 8, 20), days)
        return True

    def terminal_admission(self, hospital: Institution, death: date) -> None:
        rng = self.rng
        admitted = _at(max(self.region.start, death - timedelta(days=rng.randint(3, 30))), rng)
        department = DEPARTMENTS["internal"]
        doctor = rng.choice(hospital.staff)
        died_at = datetime.combine(death, time(rng.randint(0, 23), rng.randrange(60)))
        self._encounter(hospital, EncounterClass.INPATIENT, department, admitted, died_at, None, doctor, died=True)

    def _stay(
        self, hospital: Institution, key: str, department: Department, admitted: datetime, days: tuple[int, int]
    ) -> date | None:
        """An admission with its diagnosis, labs and inpatient prescriptions; returns the discharge date."""
        rng = self.rng
        doctor = rng.choice(hospital.staff)
        discharge = admitted + timedelta(days=rng.randint(*days), hours=rng.randint(0, 4))
        ended = discharge if discharge.date() <= self.end else None
        self._encounter(hospital, EncounterClass.INPATIENT, department, admitted, ended, CONDITIONS[key], doctor)
        abated = discharge.date() + timedelta(days=60) if key in ("hip_fracture", "trochanteric_fracture") else None
        chronic_after = key in ("cerebral_infarction", "heart_failure")
        self._diagnose(
            hospital,
            CONDITIONS[key],
            admitted.date(),
            admitted + timedelta(hours=1),
            abated=None if chronic_after else abated or discharge.date(),
        )
        self._labs(hospital, admitted + timedelta(hours=1), department, doctor, list(MONITORING.get(key, ())), [key])
        drugs = self._regimen([key]) or [DRUGS["acetaminophen"]]
        self._prescribe(hospital, admitted + timedelta(hours=2), department, doctor, drugs, 7, None, inpatient=True)
        return ended.date() if ended else None

    def immunise(self, age: int, caregivers: Caregivers) -> None:
        rng = self.rng
        institution = caregivers.home
        if institution is None:
            return
        for year in range(self.region.start.year, self.region.as_of.year + 1):
            season = date(year, 10, 15) + timedelta(days=rng.randrange(60))
            if self.region.start <= season <= self.end and rng.random() < (0.55 if age >= 65 else 0.2):
                self._immunise(institution, season, "influenza")
        if 65 <= age <= 66 and rng.random() < 0.4 and (day := self._day()) is not None:
            self._immunise(institution, day, "pneumococcal")

    def _immunise(self, institution: Institution, day: date, vaccine: str) -> None:
        lot = f"{vaccine[:3].upper()}{day.year % 100:02d}-{self.rng.randint(100, 999)}"
        self.person.immunizations.append(Immunization(institution.code, _workday(day), VACCINES[vaccine], lot))

    # --- records -------------------------------------------------------------------------------------

    def _day(self) -> date | None:
        """A random working day in the period before `end`, or None when there is none."""
        span = (self.end - self.region.start).days
        if span < 1:
            return None
        return _workday(self.region.start + timedelta(days=self.rng.randrange(span)))

    def _encounter(
        self,
        institution: Institution,
        encounter_class: EncounterClass,
        department: Department,
        start: datetime,
        end: datetime | None,
        reason: Condition | None,
        doctor: str,
        *,
        died: bool = False,
    ) -> None:
        self.person.encounters.append(
            Encounter(institution.code, encounter_class, department, start, end, reason, died, doctor)
        )

    def _diagnose(
        self,
        institution: Institution,
        condition: Condition,
        onset: date,
        recorded: datetime,
        abated: date | None = None,
    ) -> None:
        suspected = self.rng.random() < 0.03
        self.person.diagnoses.append(
            Diagnosis(
                institution.code,
                condition,
                onset,
                recorded,
                abated if abated and abated <= self.end else None,
                suspected,
                self.clock.next(),
            )
        )

    def _prescribe(
        self,
        institution: Institution,
        when: datetime,
        department: Department,
        doctor: str,
        drugs: list[Drug],
        days: int,
        pharmacy: Institution | None,
        *,
        inpatient: bool,
    ) -> None:
        if not drugs or when.date() > self.end:
            return
        prescribed = tuple(
            PrescribedDrug(rp, drug, drug.daily_dose, _days(drug, days)) for rp, drug in enumerate(drugs, start=1)
        )
        dispensing = None
        if pharmacy is not None and not inpatient:
            dispensed = when.date() + timedelta(days=1 if self.rng.random() < 0.1 else 0)
            if dispensed <= self.end:
                dispensing = Dispensing(pharmacy.code, dispensed, self.rng.choice(pharmacy.staff))
        self.person.prescriptions.append(
            Prescription(
                institution.code, when, self.clock.next(), inpatient, department, doctor, prescribed, dispensing
            )
        )

    def _labs(
        self,
        institution: Institution,
        when: datetime,
        department: Department,
        doctor: str,
        tests: list[str],
        keys: list[str],
    ) -> None:
        if when.date() > self.end:
            return
        wanted = dict.fromkeys([*BASIC_PANEL, *tests])
        results = tuple(LabResult(LAB_TESTS[test], self._value(test, keys)) for test in wanted)
        reported = when + timedelta(hours=self.rng.randint(2, 30))
        self.person.lab_panels.append(
            LabPanel(institution.code, when, reported, self.clock.next(), department, doctor, results)
        )

    def _value(self, test: str, keys: list[str]) -> Decimal:
        mean, spread, decimals = LAB_VALUES[test]
        for key in keys:
            mean, spread = SICK_LAB_VALUES.get((key, test), (mean, spread))
        value = max(mean * 0.2, self.rng.gauss(mean, spread))
        return Decimal(round(value, decimals)).quantize(Decimal(1).scaleb(-decimals))


def _days(drug: Drug, days: int) -> int:
    if drug.form is DosageForm.AS_NEEDED:
        return 10
    if drug.form is DosageForm.TOPICAL:
        return 1
    return days


def pick_caregivers(region: Region) -> CaregiverPicker:
    """A picker that chooses a person's clinic, hospital and pharmacies, preferring their own district."""
    clinics = region.of_kind(InstitutionKind.CLINIC, InstitutionKind.FHIR_CLINIC)
    orthopedic = tuple(i for i in clinics if DEPARTMENTS["orthopedics"] in i.departments)
    hospitals = region.of_kind(InstitutionKind.HOSPITAL)
    pharmacies = region.of_kind(InstitutionKind.PHARMACY)

    def local(rng: random.Random, choices: tuple[Institution, ...], district: str) -> Institution:
        nearby = [i for i in choices if i.address.district == district]
        return rng.choice(nearby) if nearby and rng.random() < 0.6 else rng.choice(choices)

    def pick(rng: random.Random, person: Person, chronic: dict[str, date]) -> Caregivers:
        district = person.residences[0].address.district
        hospital = local(rng, hospitals, district)
        home = hospital if rng.random() < 0.15 else local(rng, clinics, district)
        ortho = rng.choice(orthopedic) if orthopedic and ORTHOPEDIC & chronic.keys() and rng.random() < 0.5 else None
        chosen = [local(rng, pharmacies, district)]
        if rng.random() < 0.2:
            chosen.append(rng.choice(pharmacies))
        return Caregivers(home, ortho, hospital, chosen)

    return pick
