"""Resident register (住民基本台帳) extract that the municipality hands over (docs/connectors/resident-register.md).

Municipal 住基 extracts for 連携 are CSV in Shift_JIS, so this one is CP932 with CRLF, a header row of Japanese
column names, the csv module's quoting and dates as YYYYMMDD. Two tables: residents.csv, one row per person
on the register during the period (the dead stay, as 死亡, so that deaths reach the platform), and
movements.csv, the 異動 (moves and deaths). The register is the official record: names as registered
(旧字体 included) and addresses from the person's residences, never a stale copy.

Who lives alone is read from residents.csv alone: the living (状態 住民) rows that share a 世帯番号.
"""

from __future__ import annotations

from itertools import pairwise

from core.formats import RESIDENT_REGISTER_COLUMNS
from synthetic.model import Institution, InsuranceKind, Person, Region, Sex
from synthetic.output import Output
from synthetic.writers.cp932 import csv_rows, western

RESIDENTS = "residents.csv"
MOVEMENTS = "movements.csv"

COLUMNS = RESIDENT_REGISTER_COLUMNS
SEX_CODES = {Sex.MALE: "1", Sex.FEMALE: "2"}
INSURANCE_KINDS = {
    InsuranceKind.NATIONAL: "国保",
    InsuranceKind.LATE_ELDERLY: "後期高齢者医療",
    InsuranceKind.EMPLOYEE: "被用者保険",
}
RESIDENT = "住民"
DEAD = "死亡"
MOVE = "転居"

HEADERS = {name: csv_rows([columns]) for name, columns in COLUMNS.items()}


def write_person(region: Region, institution: Institution, person: Person, out: Output) -> None:
    """The person's register row as of the end date (or their death), and each 異動 up to then."""
    view = person.views[institution.code]
    last_day = person.death if person.death is not None else region.as_of
    residence = person.residence_on(last_day)
    address = residence.address
    care = person.care_insurance
    card = view.insurance
    resident = (
        view.patient_id,
        residence.household_id,
        "世帯主" if person.household_head else "世帯員",
        view.name.kanji,
        view.name.kana,
        western(view.birth_date),
        SEX_CODES[view.sex],
        address.postal_code,
        address.text,
        address.district,
        western(person.residences[0].since),
        RESIDENT if person.death is None else DEAD,
        western(person.death) if person.death is not None else "",
        view.phone,
        care.insured_number if care is not None and care.valid_from <= last_day else "",
        *(
            (INSURANCE_KINDS[card.kind], card.insurer_number, card.symbol, card.number, card.branch)
            if card is not None
            else ("", "", "", "", "")
        ),
    )
    out.append_rows(RESIDENTS, HEADERS[RESIDENTS], csv_rows([resident]))
    movements = [
        (
            view.patient_id,
            western(new.since),
            MOVE,
            old.address.text,
            new.address.text,
            old.household_id,
            new.household_id,
        )
        for old, new in pairwise(person.residences)
        if new.since <= last_day
    ]
    if person.death is not None:
        movements.append((view.patient_id, western(person.death), DEAD, address.text, "", residence.household_id, ""))
    if movements:
        out.append_rows(MOVEMENTS, HEADERS[MOVEMENTS], csv_rows(movements))


def write_institution(region: Region, institution: Institution, out: Output) -> None:
    """Start both tables with their header, so movements.csv exists even in a period without any 異動."""
    for name, header in HEADERS.items():
        out.append_rows(name, header, b"")
