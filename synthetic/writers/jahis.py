"""JAHIS 電子版お薬手帳 CSV (JAHISTC08, 出力区分 1): one file per dispensing, as a pharmacy hands it out.

JAHIS records carry no patient number, so the pharmacy's export names every file by its own 患者番号:
``<患者番号>/<患者番号>_<調剤日 YYYYMMDD>_<処方箋の order number>.csv``. The JAHIS connector reads the
patient number from the file name (folder and prefix agree); the name's date is always Western, whatever
the content uses.

Files are CP932 with CRLF, as real exports are. Pharmacies differ in habits the identity linking must cope
with, each fixed per pharmacy by `pharmacy_style`: 和暦 dates (``GYYMMDD``), the kana name in half-width
katakana, and YJ instead of HOT codes.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal
from operator import attrgetter
from typing import NamedTuple

from synthetic.model import DosageForm, Institution, Person, Prescription, Region, Sex, SourceView
from synthetic.output import Output
from synthetic.writers.cp932 import encode_cp932, western

HEADER = "JAHISTC08,1"  # version 2.5/2.6, 出力区分 1: pharmacy -> patient
# Eras from their first day: the year within the era counts from 1 (元年) at that day's year.
ERAS = (
    ("R", date(2019, 5, 1)),
    ("H", date(1989, 1, 8)),
    ("S", date(1926, 12, 25)),
    ("T", date(1912, 7, 30)),
    ("M", date(1868, 10, 23)),
)
SEX_CODES = {Sex.MALE: "1", Sex.FEMALE: "2"}
# 調剤数量の単位: days for 内服, uses for 屯服; 外用 and 注射 are dispensed as one 調剤.
QUANTITY_UNITS = {DosageForm.ORAL: "日分", DosageForm.AS_NEEDED: "回分"}
CODE_TYPE_YJ = "4"
CODE_TYPE_HOT = "6"
FULL_WIDTH_COMMA = "\uff0c"
_VALUE = str.maketrans({",": FULL_WIDTH_COMMA, "\r": None, "\n": None})  # JAHIS has no quoting or commas


class PharmacyStyle(NamedTuple):
    era_dates: bool
    half_width_kana: bool
    yj_codes: bool


def pharmacy_style(institution: Institution) -> PharmacyStyle:
    """The pharmacy system's habits, from the number in its code: pharmacy-01 writes the plain form;
    和暦 at 02, 05, 08, …; half-width kana at 02, 06, 10, …; YJ codes at 03, 07, 11, …"""
    number = int("0" + "".join(char for char in institution.code if char.isdigit()))
    return PharmacyStyle(era_dates=number % 3 == 2, half_width_kana=number % 4 == 2, yj_codes=number % 4 == 3)


def write_person(region: Region, institution: Institution, person: Person, out: Output) -> None:
    """One JAHIS file per prescription this pharmacy filled for the person."""
    view = person.views[institution.code]
    style = pharmacy_style(institution)
    pharmacy = (
        f"11,{_value(institution.name)},{institution.prefecture_number},4,{institution.organization_number[3:]},"
        f"{institution.address.postal_code},{_value(institution.address.text)},{institution.phone},1"
    )
    patient_id = view.patient_id
    for prescription in person.prescriptions:
        dispensing = prescription.dispensing
        if dispensing is None or dispensing.pharmacy != institution.code:
            continue
        day = dispensing.dispensed_on
        lines = [
            HEADER,
            _patient_record(view, day, style),
            *(f"2,1,{_value(allergy.substance)},1" for allergy in person.allergies if allergy.recorded_on <= day),
            f"5,{_date(day, style)},1",
            pharmacy,
            f"15,{_value(dispensing.pharmacist)},{institution.phone},1",
            *_prescription_records(region, prescription, style),
        ]
        name = f"{patient_id}/{patient_id}_{western(day)}_{prescription.order_number}.csv"
        out.write_file(name, encode_cp932("\r\n".join(lines) + "\r\n"))


def write_institution(region: Region, institution: Institution, out: Output) -> None:
    """A pharmacy writes nothing beyond its patients' files."""


def wareki(day: date) -> str:
    """和暦 ``GYYMMDD`` (R010501 = 2019-05-01); a date before Meiji keeps the Western form."""
    for letter, first_day in ERAS:
        if day >= first_day:
            return f"{letter}{day.year - first_day.year + 1:02d}{day.month:02d}{day.day:02d}"
    return western(day)


def _half_width_table() -> dict[int, str]:
    """Full-width katakana to half-width, voiced ones split (ガ -> ｶﾞ), built from the half-width block."""
    table: dict[int, str] = {ord("　"): " "}
    for code in range(0xFF65, 0xFF9E):  # ･ ... ﾝ
        half = chr(code)
        table[ord(unicodedata.normalize("NFKC", half))] = half
        for mark in "ﾞﾟ":
            voiced = unicodedata.normalize("NFKC", half + mark)
            if len(voiced) == 1:
                table[ord(voiced)] = half + mark
    return table


_HALF_WIDTH = _half_width_table()


def half_width_kana(text: str) -> str:
    return text.translate(_HALF_WIDTH)


def _value(text: str) -> str:
    return text.translate(_VALUE)


def _date(day: date, style: PharmacyStyle) -> str:
    return wareki(day) if style.era_dates else western(day)


def _amount(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _patient_record(view: SourceView, day: date, style: PharmacyStyle) -> str:
    """Record 1 as the pharmacy's record had it on the dispensing day (緊急連絡先, 血液型, 体重 left empty)."""
    address = view.address_on(day)
    name = view.name
    kana = half_width_kana(name.kana) if style.half_width_kana else name.kana
    return (
        f"1,{_value(name.kanji)},{SEX_CODES[view.sex]},{_date(view.birth_date, style)},{address.postal_code},"
        f"{_value(address.text)},{view.phone},,,,{_value(kana)}"
    )


def _prescription_records(region: Region, prescription: Prescription, style: PharmacyStyle) -> list[str]:
    """Records 51 and 55 (who prescribed), then per RP its 201 drugs followed by one 301 usage."""
    prescriber = region.institution(prescription.institution)
    number = prescriber.organization_number
    lines = [
        f"51,{_value(prescriber.name)},{number[:2]},{number[2]},{number[3:]},1",
        f"55,{_value(prescription.doctor)},{prescription.department.name},1",
    ]
    drugs = sorted(prescription.drugs, key=attrgetter("rp_number"))
    for index, item in enumerate(drugs):
        drug = item.drug
        code_type, code = (CODE_TYPE_YJ, drug.yj) if style.yj_codes else (CODE_TYPE_HOT, drug.hot9)
        lines.append(
            f"201,{item.rp_number},{_value(drug.name)},{_amount(item.daily_dose)},{drug.unit},{code_type},{code},1,"
            f"{_value(drug.generic_name)},2,{drug.yj[:9]}ZZZ"
        )
        if index + 1 == len(drugs) or drugs[index + 1].rp_number != item.rp_number:
            unit = QUANTITY_UNITS.get(drug.form, "調剤")
            lines.append(f"301,{item.rp_number},{_value(drug.usage_text)},{item.days},{unit},{drug.form.value},1,,1")
    return lines
