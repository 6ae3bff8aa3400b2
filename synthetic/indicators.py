"""The elderly-support indicators as of the end date, computed from the generator's own model of the people.

Definitions (docs/synthetic-region.md repeats them): residents are people alive and living in the city on
the end date, counted in the district of their address then; every indicator but the first three counts
residents aged 65 or more. Windows end on the end date and include it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, timedelta

from synthetic.care import RISK_WHEN_NO, bmi_of
from synthetic.catalog.clinical import DEMENTIA_CONDITIONS, DEMENTIA_DRUGS
from synthetic.model import ChecklistResponse, EncounterClass, Person, Region

CARE_LEVEL_KEYS = {
    "12": "care_support_1",
    "13": "care_support_2",
    "21": "care_need_1",
    "22": "care_need_2",
    "23": "care_need_3",
    "24": "care_need_4",
    "25": "care_need_5",
}
INDICATORS = (
    "residents",
    "aged_65_plus",
    "aged_75_plus",
    "living_alone_65_plus",
    "care_certified",
    *CARE_LEVEL_KEYS.values(),
    "dementia",
    "polypharmacy",
    "falls_12_months",
    "discharged_30_days",
    "no_contact_6_months",
    "frailty_risk",
)
POLYPHARMACY_INGREDIENTS = 6
POLYPHARMACY_DAYS = 90
FALL_DAYS = 365
DISCHARGE_DAYS = 30
NO_CONTACT_DAYS = 183


def household_sizes(people: Iterable[Person], as_of: date) -> Counter[str]:
    """Living members per household on the end date."""
    return Counter(person.residence_on(as_of).household_id for person in people if person.alive_on(as_of))


def person_indicators(person: Person, as_of: date, household_size: int) -> list[str]:
    """The indicators this person counts towards (empty when not a resident on the end date)."""
    if not person.alive_on(as_of):
        return []
    age = person.age_on(as_of)
    found = ["residents"]
    if age < 65:
        return found
    found.append("aged_65_plus")
    if age >= 75:
        found.append("aged_75_plus")
    if household_size == 1:
        found.append("living_alone_65_plus")
    level = _care_level(person, as_of)
    if level is not None:
        found.extend(("care_certified", level))
    found.extend(name for name, applies in ELDERLY_TESTS if applies(person, as_of))
    return found


def _since(as_of: date, days: int) -> date:
    """First day of a window of `days` days ending on `as_of`."""
    return as_of - timedelta(days=days - 1)


def _care_level(person: Person, as_of: date) -> str | None:
    current = [c for c in person.certifications if c.valid_from <= as_of <= c.valid_to and c.decided_on <= as_of]
    return CARE_LEVEL_KEYS[current[-1].level.code] if current else None


def _dementia(person: Person, as_of: date) -> bool:
    """An unresolved dementia diagnosis recorded by the end date, or an anti-dementia drug in the last year."""
    diagnosed = any(
        d.condition.key in DEMENTIA_CONDITIONS and d.recorded_at.date() <= as_of and not d.suspected
        for d in person.diagnoses
    )
    year = _since(as_of, 365)
    treated = any(
        year <= p.ordered_at.date() <= as_of and any(drug.drug.key in DEMENTIA_DRUGS for drug in p.drugs)
        for p in person.prescriptions
    )
    return diagnosed or treated


def _polypharmacy(person: Person, as_of: date) -> bool:
    """At least six distinct ingredients (YJ first 7) in outpatient prescriptions of the last 90 days."""
    window = _since(as_of, POLYPHARMACY_DAYS)
    ingredients = {
        drug.drug.ingredient
        for p in person.prescriptions
        if not p.inpatient and window <= p.ordered_at.date() <= as_of
        for drug in p.drugs
    }
    return len(ingredients) >= POLYPHARMACY_INGREDIENTS


def _fell(person: Person, as_of: date) -> bool:
    """A recorded fall (care incident or fracture) in the last 12 months, or checklist item 9 answered はい."""
    window = _since(as_of, FALL_DAYS)
    recorded = any(window <= fall.occurred_on <= as_of for fall in person.falls)
    reported = any(window <= c.answered_on <= as_of and c.answers[8] for c in person.checklists)
    return recorded or reported


def _discharged(person: Person, as_of: date) -> bool:
    window = _since(as_of, DISCHARGE_DAYS)
    return any(
        e.encounter_class is EncounterClass.INPATIENT
        and e.end is not None
        and not e.died
        and window <= e.end.date() <= as_of
        for e in person.encounters
    )


def _no_contact(person: Person, as_of: date) -> bool:
    """No health or care contact in the last six months: no visit, dispensing, lab, vaccination, care record."""
    window = _since(as_of, NO_CONTACT_DAYS)

    def within(day: date) -> bool:
        return window <= day <= as_of

    return not (
        any(within(e.start.date()) or (e.end is not None and within(e.end.date())) for e in person.encounters)
        or any(p.dispensing is not None and within(p.dispensing.dispensed_on) for p in person.prescriptions)
        or any(within(p.ordered_at.date()) for p in person.prescriptions)
        or any(within(panel.collected_at.date()) for panel in person.lab_panels)
        or any(within(i.given_on) for i in person.immunizations)
        or any(within(s.provided_on) for s in person.care_services)
        or any(within(a.assessed_on) for a in person.adl_assessments)
        or any(within(c.answered_on) for c in person.checklists)
    )


def _frailty_risk(person: Person, as_of: date) -> bool:
    """The latest checklist of the last 12 months meets a 事業対象者 criterion (①-④ of the MHLW scoring)."""
    window = _since(as_of, 365)
    recent = [c for c in person.checklists if window <= c.answered_on <= as_of]
    return bool(recent) and checklist_frail(recent[-1])


def checklist_frail(response: ChecklistResponse) -> bool:
    risky = checklist_risks(response)
    return (
        sum(risky[:20]) >= 10  # ① 複数の項目に支障
        or sum(risky[5:10]) >= 3  # ② 運動機能低下
        or (risky[10] and risky[11])  # ③ 低栄養
        or sum(risky[12:15]) >= 2  # ④ 口腔機能低下
    )


def checklist_risks(response: ChecklistResponse) -> list[bool]:
    """Per item, whether the answer counts as 該当 (いいえ is the risk for items 1-8, 16 and 19)."""
    risky = [(not answer) if item in RISK_WHEN_NO else answer for item, answer in enumerate(response.answers)]
    risky[11] = bmi_of(response.height_cm, response.weight_kg) < 18.5
    return risky


ELDERLY_TESTS: tuple[tuple[str, Callable[[Person, date], bool]], ...] = (
    ("dementia", _dementia),
    ("polypharmacy", _polypharmacy),
    ("falls_12_months", _fell),
    ("discharged_30_days", _discharged),
    ("no_contact_6_months", _no_contact),
    ("frailty_risk", _frailty_risk),
)


def tally(region: Region, people: list[Person]) -> dict[str, Counter[str]]:
    """Indicator counts per district for a list of people (a household chunk)."""
    sizes = household_sizes(people, region.as_of)
    counts: dict[str, Counter[str]] = {}
    for person in people:
        if not person.alive_on(region.as_of):
            continue
        residence = person.residence_on(region.as_of)
        found = person_indicators(person, region.as_of, sizes[residence.household_id])
        counts.setdefault(residence.address.district, Counter()).update(found)
    return counts
