"""Long-term care: certification of care level over time, services used, Barthel scores, falls at the
facility, vital signs, and the 基本チェックリスト answered at the 地域包括支援センター."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from synthetic.catalog.clinical import BARTHEL_MAXIMA, CARE_LEVELS
from synthetic.clinical import CareNeeds
from synthetic.model import (
    AdlAssessment,
    CareCertification,
    CareService,
    ChecklistResponse,
    Fall,
    Institution,
    InstitutionKind,
    Person,
    Region,
    Sex,
    VitalSigns,
)
from synthetic.world import years_before

LEVEL_ORDER = ("12", "13", "21", "22", "23", "24", "25")
LEVEL_WEIGHTS = (0.14, 0.14, 0.2, 0.17, 0.13, 0.12, 0.1)
CERTIFICATION_BY_AGE = ((70, 0.025), (75, 0.05), (80, 0.1), (85, 0.21), (90, 0.4), (200, 0.6))
# Items of the 基本チェックリスト (0-based) whose risky answer is いいえ; for the others it is はい.
RISK_WHEN_NO = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 15, 18})
# Units per use of a service type (monthly for the ones billed monthly).
UNITS = {"11": 250, "13": 500, "15": 780, "16": 720, "17": 300, "21": 700, "43": 1076, "51": 800, "A5": 380}
MONTHLY = frozenset({"17", "43", "51"})


def live_care(region: Region, person: Person, rng: random.Random, needs: CareNeeds, facilities: CareFacilities) -> None:
    """Certification and services for people 65+, and the checklist for those without a certification."""
    age = person.age_on(region.as_of)
    if person.care_insurance is None:
        return
    end = min(region.as_of, person.death - timedelta(days=1)) if person.death else region.as_of
    chance = next(p for limit, p in CERTIFICATION_BY_AGE if age < limit)
    chance *= (2.0 if needs.dementia else 1.0) * (1.5 if needs.stroke else 1.0)
    certified_from: date | None = None
    if rng.random() < min(0.95, chance):
        certified_from = years_before(region.start, 1) + timedelta(days=rng.randrange(365 * 2))
    if needs.fracture_discharge and rng.random() < 0.7:
        certified_from = min(certified_from or needs.fracture_discharge, needs.fracture_discharge)
    if certified_from is not None and certified_from <= end:
        _certify(region, person, rng, needs, certified_from, end)
        _use_services(region, person, rng, end, facilities)
    _checklist(region, person, rng, needs, end, facilities)


class CareFacilities:
    """Chooses, per service type, a facility offering it, and the person's support center."""

    def __init__(self, region: Region) -> None:
        self.by_service: dict[str, list[Institution]] = {}
        self.all = region.of_kind(InstitutionKind.CARE_FACILITY)
        for institution in self.all:
            for service in institution.service_types:
                self.by_service.setdefault(service.code, []).append(institution)
        self.centers = region.of_kind(InstitutionKind.SUPPORT_CENTER)

    def offering(self, rng: random.Random, code: str) -> Institution | None:
        choices = self.by_service.get(code)
        return rng.choice(choices) if choices else None

    def center(self, district: str, rng: random.Random) -> Institution:
        nearby = [center for center in self.centers if center.address.district == district]
        return nearby[0] if nearby else rng.choice(self.centers)


def _level(rng: random.Random, needs: CareNeeds, shift: int = 0) -> str:
    index = rng.choices(range(len(LEVEL_ORDER)), LEVEL_WEIGHTS)[0]
    index += (1 if needs.dementia else 0) + shift
    return LEVEL_ORDER[max(0, min(len(LEVEL_ORDER) - 1, index))]


def _certify(region: Region, person: Person, rng: random.Random, needs: CareNeeds, first: date, end: date) -> None:
    """Back-to-back certifications of 12 months from `first`; a fracture brings a 区分変更 to a higher level."""
    level = _level(rng, needs)
    valid_from, application = first, "new"
    while valid_from <= end:
        valid_to = years_before(valid_from, -1) - timedelta(days=1)
        change = needs.fracture_discharge
        if change is not None and valid_from < change <= valid_to:
            _add_certification(person, rng, level, application, valid_from, change - timedelta(days=1))
            level = LEVEL_ORDER[min(len(LEVEL_ORDER) - 1, LEVEL_ORDER.index(level) + rng.randint(1, 2))]
            valid_from, application = change, "change"
            continue
        _add_certification(person, rng, level, application, valid_from, valid_to)
        valid_from, application = valid_to + timedelta(days=1), "renewal"
        step = rng.choices((-1, 0, 1), (0.15, 0.6, 0.25))[0]
        level = LEVEL_ORDER[max(0, min(len(LEVEL_ORDER) - 1, LEVEL_ORDER.index(level) + step))]


def _add_certification(
    person: Person, rng: random.Random, level: str, application: str, valid_from: date, valid_to: date
) -> None:
    """The application goes in about a month before the period it decides (on the day itself for a change)."""
    applied = valid_from - timedelta(days=0 if application == "change" else rng.randint(20, 45))
    decided = applied + timedelta(days=rng.randint(25, 40))
    person.certifications.append(
        CareCertification(CARE_LEVELS[level], application, applied, decided, valid_from, valid_to)
    )


def _use_services(region: Region, person: Person, rng: random.Random, end: date, facilities: CareFacilities) -> None:
    """Services from the first certified day in the period; the first facility also assesses and records."""
    first = max(region.start, min(c.valid_from for c in person.certifications))
    if first > end:
        return
    level = person.certifications[-1].level.code
    plan = ["15", "43"] if level in ("12", "13", "21", "22") else ["51"] if rng.random() < 0.5 else ["11", "15", "17"]
    if level in ("12", "13"):
        plan = ["16"] if rng.random() < 0.3 else ["15"]
    chosen = [(code, facility) for code in plan if (facility := facilities.offering(rng, code)) is not None]
    if not chosen:  # nobody offers the plan here: the person still uses (and is known to) some provider
        fallback = rng.choice(facilities.all)
        chosen = [(fallback.service_types[0].code, fallback)]
    weekdays = sorted(rng.sample(range(6), rng.randint(1, 3)))
    for code, facility in chosen:
        service_type = next(s for s in facility.service_types if s.code == code)
        for day in _service_days(first, end, code, weekdays):
            units = UNITS[code] * (_days_in_month(day) if code == "51" else 1)
            person.care_services.append(CareService(facility.code, service_type, day, units))
    main = chosen[0][1]
    _assess(person, rng, main, first, end, level)


def _service_days(first: date, end: date, code: str, weekdays: list[int]) -> list[date]:
    if code in MONTHLY:
        days, day = [], first.replace(day=1)
        while day <= end:
            last = min(end, (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1))
            days.append(last)
            day = last + timedelta(days=1)
        return [d for d in days if d >= first]
    total = (end - first).days + 1
    return [first + timedelta(days=n) for n in range(total) if (first + timedelta(days=n)).weekday() in weekdays]


def _days_in_month(day: date) -> int:
    return ((day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).day


def _assess(person: Person, rng: random.Random, facility: Institution, first: date, end: date, level: str) -> None:
    """Barthel every six months, vital signs monthly, and falls at the facility."""
    dependency = LEVEL_ORDER.index(level) / (len(LEVEL_ORDER) - 1)
    day = first
    while day <= end:
        scores = tuple(
            max(0, min(maximum, round(maximum * (1 - dependency) + rng.gauss(0, 3)) // 5 * 5))
            for maximum in BARTHEL_MAXIMA
        )
        person.adl_assessments.append(AdlAssessment(facility.code, day, scores))
        day += timedelta(days=182)
    day = first
    weight = Decimal(str(round(rng.gauss(48 if person.sex is Sex.FEMALE else 58, 7), 1)))
    while day <= end:
        measured = datetime.combine(day, time(9, rng.randrange(0, 60, 5)))
        person.vital_signs.append(
            VitalSigns(
                facility.code,
                measured,
                rng.randint(110, 160),
                rng.randint(60, 95),
                rng.randint(58, 96),
                Decimal(f"36.{rng.randint(0, 9)}"),
                weight + Decimal(rng.randint(-10, 10)) / 10,
            )
        )
        if rng.random() < 0.02 + 0.05 * dependency:
            fell = day + timedelta(days=rng.randint(0, 27))
            if fell <= end:
                injury = rng.choices(("none", "bruise", "fracture"), (0.7, 0.27, 0.03))[0]
                person.falls.append(Fall(facility.code, fell, "facility", injury))
        day += timedelta(days=30)


def _checklist(
    region: Region, person: Person, rng: random.Random, needs: CareNeeds, end: date, facilities: CareFacilities
) -> None:
    """About a third of people 65+ without a certification answer the checklist once in the period."""
    if person.certifications or not facilities.centers or rng.random() >= 0.35:
        return
    span = (end - region.start).days
    if span < 1:
        return
    answered = region.start + timedelta(days=rng.randrange(span))
    center = facilities.center(person.residence_on(answered).address.district, rng)
    fell = any(answered - timedelta(days=365) < fall.occurred_on <= answered for fall in person.falls)
    risk = needs.frailty
    answers = []
    for item in range(25):
        risky = rng.random() < 0.08 + 0.45 * risk
        if item == 8:
            risky = fell or rng.random() < 0.08 + 0.2 * risk
        answers.append(not risky if item in RISK_WHEN_NO else risky)
    height = Decimal(str(round(rng.gauss(150 if person.sex is Sex.FEMALE else 162, 6), 1)))
    bmi = rng.gauss(22.5 - 3 * risk, 2.5)
    weight = Decimal(str(round(bmi * float(height / 100) ** 2, 1)))
    answers[11] = bmi_of(height, weight) < Decimal("18.5")
    person.checklists.append(ChecklistResponse(center.code, answered, tuple(answers), height, weight))


def bmi_of(height_cm: Decimal, weight_kg: Decimal) -> Decimal:
    return weight_kg / (height_cm / 100) ** 2
