"""Who lives in the region: households with Japan's age structure, names, addresses, insurance, deaths, moves.

`household_plan` draws only the shape of every household (ages and sexes) from the seed; it is small and
is made once, so that chunks of households can then be lived out independently, in any process.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from core.formats import check_digit
from synthetic.catalog import names, places
from synthetic.model import (
    CareInsurance,
    HealthInsurance,
    InsuranceKind,
    Person,
    PersonName,
    Region,
    Residence,
    Sex,
)
from synthetic.world import district_address, phone_number, years_before

# Share of the population per 5-year age band (0-4, 5-9, ..., 95-99, 100+), Japan around 2024.
AGE_BANDS = (3.5, 4.0, 4.3, 4.5, 5.0, 5.1, 5.2, 5.8, 6.3, 7.5, 7.5, 6.5, 6.0, 6.0, 7.2, 6.0, 4.8, 3.2, 1.6, 0.5, 0.08)
ELDERLY_BANDS = AGE_BANDS[13:]

# Household shapes and how often each is drawn; tuned so that the population is ~29% 65+ and ~16% 75+,
# and about a fifth of people 65+ live alone.
HOUSEHOLD_SHAPES = (
    ("elderly_single", 0.13),
    ("elderly_couple", 0.19),
    ("family", 0.19),
    ("three_generations", 0.05),
    ("single_adult", 0.20),
    ("couple", 0.12),
    ("single_parent", 0.05),
    ("elderly_with_child", 0.07),
)

EMPLOYEE_INSURER = "01220016"  # 協会けんぽ shape: 法別 01 + prefecture 22 + 001 + check digit
MOVE_RATE = 0.04  # households moving to another district per year


@dataclass(frozen=True, slots=True)
class PlannedMember:
    age: int  # on the last day of the period
    female: bool
    twin: bool = False  # born the same day as the member before


@dataclass(frozen=True, slots=True)
class PlannedHousehold:
    index: int  # 0-based
    first_person: int  # global index of its first member
    members: tuple[PlannedMember, ...]


def household_plan(seed: int, people: int) -> list[PlannedHousehold]:
    """Every household's members' ages and sexes, until exactly `people` people are planned."""
    rng = random.Random(f"{seed}:households")
    shapes = [shape for shape, _ in HOUSEHOLD_SHAPES]
    weights = [weight for _, weight in HOUSEHOLD_SHAPES]
    plan: list[PlannedHousehold] = []
    planned = 0
    while planned < people:
        members = _members(rng, rng.choices(shapes, weights)[0])[: people - planned]
        plan.append(PlannedHousehold(len(plan), planned, members))
        planned += len(members)
    return plan


def _age(rng: random.Random, low: int, high: int) -> int:
    """An age in [low, high] following the national age structure."""
    first, last = low // 5, min(high // 5, len(AGE_BANDS) - 1)
    band = rng.choices(range(first, last + 1), AGE_BANDS[first : last + 1])[0]
    return rng.randint(max(low, band * 5), min(high, band * 5 + 4 if band < len(AGE_BANDS) - 1 else 104))


def _members(rng: random.Random, shape: str) -> tuple[PlannedMember, ...]:
    if shape == "elderly_single":
        age = _age(rng, 65, 104)
        return (PlannedMember(age, rng.random() < (0.62 if age < 80 else 0.75)),)
    if shape == "elderly_couple":
        husband = _age(rng, 66, 100)
        return PlannedMember(husband, False), PlannedMember(max(65, husband - rng.randint(0, 5)), True)
    if shape == "elderly_with_child":
        parent = _age(rng, 75, 104)
        return PlannedMember(parent, rng.random() < 0.7), PlannedMember(
            parent - rng.randint(25, 35), rng.random() < 0.5
        )
    if shape in ("single_adult", "couple"):
        age = _age(rng, 20, 64) if shape == "single_adult" else _age(rng, 28, 64)
        head = PlannedMember(age, rng.random() < 0.45)
        if shape == "single_adult":
            return (head,)
        return head, PlannedMember(max(20, age + rng.randint(-4, 4)), not head.female)
    parent = _age(rng, 28, 55)
    adults = [PlannedMember(parent, (shape == "single_parent" and rng.random() < 0.85) or rng.random() < 0.5)]
    if shape != "single_parent":
        adults.append(PlannedMember(parent + rng.randint(-4, 4), not adults[0].female))
    children = []
    for _ in range(rng.choice((1, 1, 2, 2, 2, 3))):
        children.append(PlannedMember(max(0, min(parent - 22, _age(rng, 0, 24))), rng.random() < 0.49))
    if len(children) >= 2 and rng.random() < 0.04:
        children[1] = PlannedMember(children[0].age, rng.random() < 0.49, twin=True)
    if shape == "three_generations":
        adults.insert(0, PlannedMember(max(65, parent + rng.randint(25, 35)), rng.random() < 0.7))
    return (*adults, *children)


def people_of(region: Region, household: PlannedHousehold) -> Iterator[tuple[Person, random.Random]]:
    """The household's members with their names, dates, residences, insurance and deaths; each person
    comes with the random stream that the rest of their life is drawn from."""
    rng = random.Random(f"{region.seed}:household:{household.index}")
    household_id = f"H{household.index + 1:07d}"
    district_index = rng.randrange(len(region.districts))
    district = _district(region, district_index)
    elderly_only = all(member.age >= 65 for member in household.members)
    address = district_address(rng, district, apartment=rng.random() < (0.15 if elderly_only else 0.35))
    residences = [Residence(years_before(region.start, rng.randint(1, 40)), address, household_id)]
    if rng.random() < MOVE_RATE * _period_years(region):
        moved_on = _day_in_period(rng, region)
        other = _district(region, (district_index + rng.randint(1, len(region.districts) - 1)) % len(region.districts))
        residences.append(Residence(moved_on, district_address(rng, other, apartment=rng.random() < 0.4), household_id))
    landline = phone_number(rng, mobile=False) if rng.random() < (0.8 if elderly_only else 0.3) else ""
    family = _family_name(rng)
    nhi = _national_card(rng, region, household)
    employee = _employee_card(rng) if not elderly_only and rng.random() < 0.7 else None
    previous_birth: date | None = None
    previous_id = previous_given = ""
    for position, member in enumerate(household.members):
        person_index = household.first_person + position
        member_rng = random.Random(f"{region.seed}:person:{person_index}")
        birth = previous_birth if member.twin and previous_birth else _birth_date(member_rng, region, member.age)
        previous_birth = birth
        own_family = family if position < 3 or member.age < 30 else _family_name(member_rng)
        given_kanji, given_kana = member_rng.choice(names.given_names_for(birth.year, member.female))
        if member.twin and position > 0:
            given_kanji, given_kana = _twin_given_name(member_rng, birth.year, member.female, previous_given)
        mobile = phone_number(member_rng, mobile=True) if member.age >= 15 and member_rng.random() < 0.85 else ""
        person = Person(
            person_id=f"P{person_index + 1:07d}",
            name=PersonName(own_family[0], given_kanji, own_family[1], given_kana),
            sex=Sex.FEMALE if member.female else Sex.MALE,
            birth_date=birth,
            phone=(landline or mobile) if member.age >= 65 else (mobile or landline),
            residences=list(residences),
            health_insurance=_health_insurance(member_rng, region, birth, nhi, employee, position),
            care_insurance=_care_insurance(region, birth, person_index),
            twin_of=previous_id if member.twin else None,
        )
        previous_id, previous_given = person.person_id, given_kanji
        yield person, member_rng


def _district(region: Region, index: int) -> tuple[str, str]:
    name = region.districts[index]
    return next(district for district in places.DISTRICTS if district[0] == name)


def _period_years(region: Region) -> float:
    return ((region.as_of - region.start).days + 1) / 365.25


def _day_in_period(rng: random.Random, region: Region) -> date:
    return region.start + timedelta(days=rng.randrange((region.as_of - region.start).days + 1))


def _birth_date(rng: random.Random, region: Region, age: int) -> date:
    """A birth date that makes the person `age` on the last day of the period."""
    latest = years_before(region.as_of, age)
    return latest - timedelta(days=rng.randrange(365))


def _family_name(rng: random.Random) -> tuple[str, str]:
    """Common names more often; a register sometimes holds the name in its 旧字体 form (髙橋, 山﨑)."""
    index = min(int(rng.paretovariate(1.2)) - 1, len(names.FAMILY_NAMES) - 1)
    index = (index * 7 + rng.randrange(3)) % len(names.FAMILY_NAMES) if rng.random() < 0.5 else index
    kanji, kana = names.FAMILY_NAMES[index]
    if rng.random() < 0.12:
        for plain, variants in names.KANJI_VARIANTS.items():
            if plain in kanji:
                kanji = kanji.replace(plain, rng.choice(variants))
                break
    return kanji, kana


def _twin_given_name(rng: random.Random, year: int, female: bool, sibling: str) -> tuple[str, str]:
    choices = [name for name in names.given_names_for(year, female) if name[0] != sibling]
    return rng.choice(choices)


def _national_card(rng: random.Random, region: Region, household: PlannedHousehold) -> tuple[str, str]:
    """国保: one 記号・番号 per household (記号 is often written with a kanji prefix)."""
    symbol = rng.choice(("綱", "つ", "")) + f"{rng.randint(1, 99):02d}"
    return symbol, f"{household.index + 1:07d}"


def _employee_card(rng: random.Random) -> tuple[str, str]:
    """協会けんぽ: the employer's 記号 (digits) and the employee's 番号."""
    return f"{rng.randint(1000000, 99999999)}", str(rng.randint(1, 2999))


def _health_insurance(
    rng: random.Random,
    region: Region,
    birth: date,
    nhi: tuple[str, str],
    employee: tuple[str, str] | None,
    position: int,
) -> list[HealthInsurance]:
    """The cards the person held during the period: 後期高齢者医療 from the 75th birthday."""
    turns_75 = years_before(birth, -75)
    branch = f"{position:02d}"
    if employee is not None and years_before(region.as_of, 65) < birth:
        card = HealthInsurance(
            InsuranceKind.EMPLOYEE, EMPLOYEE_INSURER, employee[0], employee[1], branch, position > 0, region.start
        )
    else:
        card = HealthInsurance(
            InsuranceKind.NATIONAL,
            region.nhi_insurer_number,
            nhi[0],
            nhi[1],
            branch,
            False,
            years_before(region.start, 3),
        )
    if turns_75 > region.as_of:
        return [card]
    late = HealthInsurance(
        InsuranceKind.LATE_ELDERLY, region.late_elderly_insurer_number, "", _late_number(rng), "", False, turns_75
    )
    return [late] if turns_75 <= region.start else [card, late]


def _late_number(rng: random.Random) -> str:
    return f"{rng.randint(10_000_000, 99_999_999)}"


def _care_insurance(region: Region, birth: date, person_index: int) -> CareInsurance | None:
    """第1号被保険者: everyone 65 or older holds a 10-digit number from the municipality."""
    turns_65 = years_before(birth, -65)
    if turns_65 > region.as_of:
        return None
    digits = f"{person_index + 1:09d}"
    return CareInsurance(region.ltc_insurer_number, digits + check_digit(digits), turns_65)


def household_heads_mark(members: list[Person], as_of: date) -> None:
    """世帯主: the oldest member of the household still living on each member's last day in the register."""
    for person in members:
        last_day = min(as_of, person.death) if person.death else as_of
        living = [member for member in members if member is person or member.alive_on(last_day)]
        person.household_head = min(living, key=lambda member: member.birth_date) is person
