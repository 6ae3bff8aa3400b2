"""How each source knows a person: its own patient number and its own copy of the demographics, with the
noise real registration desks produce (kana typos, 新字体 for a 旧字体 name, full-width digits, a missed move,
a mistyped birth date, no phone, no insurance card)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from functools import cache

from synthetic.catalog.names import KANJI_VARIANTS
from synthetic.model import (
    Address,
    HealthInsurance,
    Institution,
    InstitutionKind,
    InsuranceKind,
    Person,
    PersonName,
    Region,
    SourceView,
)

# Rates per source record, by default; `Noise` lets a caller turn them up or down.
KANA_TYPO = 0.03
SIMPLIFIED_KANJI = 0.7  # a source writes 高 for the register's 髙
FULL_WIDTH_ADDRESS = 0.25
BIRTH_DATE_TYPO = 0.004
NO_PHONE = 0.15
NO_INSURANCE = 0.1
LEARNS_OF_MOVE = {"ssmix2": 0.6, "fhir": 0.6, "jahis": 0.4, "care": 0.9, "resident-register": 1.0}

# Kana a clerk confuses: voicing, small kana written large, long vowels written out.
KANA_SWAPS = (
    ("ヅ", "ズ"),
    ("ヂ", "ジ"),
    ("ョ", "ヨ"),
    ("ュ", "ユ"),
    ("ャ", "ヤ"),
    ("ッ", "ツ"),
    ("ウ", "ー"),
    ("オウ", "オー"),
    ("イ", "ー"),
    ("ワ", "ハ"),
    ("オ", "ヲ"),
)
SIMPLIFY = {variant: plain for plain, variants in KANJI_VARIANTS.items() for variant in variants}
FULL_WIDTH_DIGITS = str.maketrans("0123456789-", "０１２３４５６７８９－")

# Patient numbers: each source numbers people with its own bijection of the person index.
ID_DIGITS = {
    InstitutionKind.HOSPITAL: 10,
    InstitutionKind.CLINIC: 8,
    InstitutionKind.FHIR_CLINIC: 8,
    InstitutionKind.PHARMACY: 8,
    InstitutionKind.CARE_FACILITY: 7,
    InstitutionKind.SUPPORT_CENTER: 7,
    InstitutionKind.MUNICIPALITY: 10,
}


def patient_number(region: Region, institution: Institution, person_index: int) -> str:
    """A number unique in the source that looks arbitrary: an affine bijection modulo 10**digits."""
    digits = ID_DIGITS[institution.kind]
    multiplier, offset = _numbering(region.seed, institution.code, digits)
    return f"{(person_index * multiplier + offset) % 10**digits:0{digits}d}"


@cache
def _numbering(seed: int, source: str, digits: int) -> tuple[int, int]:
    """The source's multiplier (coprime to 10) and offset, drawn once from the seed."""
    modulus = 10**digits
    seed_rng = random.Random(f"{seed}:ids:{source}")
    multiplier = seed_rng.randrange(modulus // 10, modulus) | 1
    while multiplier % 5 == 0:
        multiplier += 2
    return multiplier, seed_rng.randrange(modulus)


def views_build(region: Region, person: Person, person_index: int, rng: random.Random) -> None:
    """Give the person a view at every source that holds a record of them (the municipality always)."""
    contacts = _contacts(person)
    for institution in region.institutions:
        if institution.kind is InstitutionKind.MUNICIPALITY:
            days = [person.residences[0].since]
        else:
            days = contacts.get(institution.code, [])
            if not days:
                continue
        person.views[institution.code] = _view(region, institution, person, person_index, rng, sorted(days))


def _contacts(person: Person) -> dict[str, list[date]]:
    """Every day on which each institution recorded something about the person."""
    days: dict[str, list[date]] = {}

    def seen(code: str, day: date) -> None:
        days.setdefault(code, []).append(day)

    for diagnosis in person.diagnoses:
        seen(diagnosis.institution, diagnosis.recorded_at.date())
    for encounter in person.encounters:
        seen(encounter.institution, encounter.start.date())
    for prescription in person.prescriptions:
        seen(prescription.institution, prescription.ordered_at.date())
        if prescription.dispensing is not None:
            seen(prescription.dispensing.pharmacy, prescription.dispensing.dispensed_on)
    for panel in person.lab_panels:
        seen(panel.institution, panel.collected_at.date())
    for immunization in person.immunizations:
        seen(immunization.institution, immunization.given_on)
    for service in person.care_services:
        seen(service.facility, service.provided_on)
    for assessment in person.adl_assessments:
        seen(assessment.facility, assessment.assessed_on)
    for fall in person.falls:
        seen(fall.recorded_by, fall.occurred_on)
    for checklist in person.checklists:
        seen(checklist.institution, checklist.answered_on)
    for vitals in person.vital_signs:
        seen(vitals.facility, vitals.measured_at.date())
    return days


def _view(
    region: Region, institution: Institution, person: Person, person_index: int, rng: random.Random, days: list[date]
) -> SourceView:
    official = institution.kind is InstitutionKind.MUNICIPALITY
    registered = days[0]
    if not official and rng.random() < 0.5:
        registered = max(person.birth_date, registered - timedelta(days=rng.randrange(3650)))
    return SourceView(
        source=institution.code,
        patient_id=patient_number(region, institution, person_index),
        registered_on=registered,
        name=person.name if official else _written_name(person.name, rng, institution),
        birth_date=person.birth_date if official else _written_birth_date(person.birth_date, rng),
        sex=person.sex,
        addresses=_addresses(person, rng, institution, registered, days),
        phone="" if rng.random() < NO_PHONE else person.phone,
        insurance=_insurance(person, rng, institution, _last_day(region, person) if official else days[-1]),
    )


def _last_day(region: Region, person: Person) -> date:
    return min(region.as_of, person.death) if person.death else region.as_of


def _written_name(name: PersonName, rng: random.Random, institution: Institution) -> PersonName:
    family, given = name.family_kanji, name.given_kanji
    if rng.random() < SIMPLIFIED_KANJI:
        family = "".join(SIMPLIFY.get(char, char) for char in family)
        given = "".join(SIMPLIFY.get(char, char) for char in given)
    family_kana, given_kana = name.family_kana, name.given_kana
    if rng.random() < KANA_TYPO:
        if rng.random() < 0.5:
            family_kana = _kana_typo(family_kana, rng)
        else:
            given_kana = _kana_typo(given_kana, rng)
    return PersonName(family, given, family_kana, given_kana)


def _kana_typo(kana: str, rng: random.Random) -> str:
    candidates = [(a, b) for a, b in KANA_SWAPS if a in kana] + [(b, a) for a, b in KANA_SWAPS if b in kana]
    if candidates:
        wrong, right = rng.choice(candidates)
        return kana.replace(wrong, right, 1)
    if len(kana) > 2:
        position = rng.randrange(len(kana) - 1)
        return kana[:position] + kana[position + 1] + kana[position] + kana[position + 2 :]
    return kana


def _written_birth_date(birth: date, rng: random.Random) -> date:
    if rng.random() >= BIRTH_DATE_TYPO:
        return birth
    if birth.day <= 12 and birth.day != birth.month:
        return birth.replace(month=birth.day, day=birth.month)
    return birth + timedelta(days=rng.choice((-10, -1, 1, 10)))


def _addresses(
    person: Person, rng: random.Random, institution: Institution, registered: date, days: list[date]
) -> tuple[tuple[date, Address], ...]:
    """The address at registration, then each move the source heard of (at the next contact after it)."""
    learns = LEARNS_OF_MOVE[institution.connector]
    full_width = institution.kind is not InstitutionKind.MUNICIPALITY and rng.random() < FULL_WIDTH_ADDRESS
    addresses = [(registered, _written_address(person.residence_on(registered).address, full_width))]
    for residence in person.residences[1:]:
        if residence.since <= registered or rng.random() >= learns:
            continue
        later = [day for day in days if day >= residence.since]
        if institution.kind is InstitutionKind.MUNICIPALITY:
            later = [residence.since]
        if later:
            addresses.append((later[0], _written_address(residence.address, full_width)))
    return tuple(addresses)


def _written_address(address: Address, full_width: bool) -> Address:
    if not full_width:
        return address
    return replace(address, street=address.street.translate(FULL_WIDTH_DIGITS))


def _insurance(
    person: Person, rng: random.Random, institution: Institution, last_contact: date
) -> HealthInsurance | None:
    """The health insurance card the source last saw; pharmacies' notebooks and care records carry none,
    the municipality knows only the 国保 and 後期高齢者 cards it administers."""
    card = person.insurance_on(last_contact)
    if institution.connector in ("jahis", "care"):
        return None
    if institution.kind is InstitutionKind.MUNICIPALITY:
        return card if card.kind is not InsuranceKind.EMPLOYEE else None
    return None if rng.random() < NO_INSURANCE else card
