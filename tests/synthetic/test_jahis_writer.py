"""The JAHIS writer: one CP932 file per dispensing, each pharmacy with its own habits."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest

from synthetic.catalog.clinical import DRUGS
from synthetic.model import InstitutionKind, PersonName
from synthetic.writers import jahis
from tests.synthetic.recording import Recorder


def written(region, pharmacy, person) -> dict[str, list[list[str]]]:
    out = Recorder()
    jahis.write_person(region, pharmacy, person, out)
    assert out.tables == []  # the JAHIS writer writes whole files only
    files = {}
    for name, data in out.files.items():
        text = data.decode("cp932")
        assert re.match(r"^JAHISTC\d{2},[12]\r\n", text)
        assert text.endswith("\r\n")
        assert text.count("\n") == text.count("\r\n")
        files[name] = [line.split(",") for line in text.removesuffix("\r\n").split("\r\n")]
    return files


def at_pharmacy(person, pharmacy, code):
    """The person moved to a pharmacy with another code, so that its style applies."""
    person.views[code] = replace(person.views[pharmacy.code], source=code)
    person.prescriptions = [
        replace(p, dispensing=replace(p.dispensing, pharmacy=code)) if p.dispensing else p for p in person.prescriptions
    ]
    return replace(pharmacy, code=code)


def records(lines, number):
    return [line for line in lines if line[0] == number]


@pytest.fixture
def pharmacy(institution_of_kind):
    return institution_of_kind(InstitutionKind.PHARMACY)


def test_one_file_per_dispensing_named_by_patient_number(region, pharmacy, person):
    files = written(region, pharmacy, person)

    assert sorted(files) == [
        "00004211/00004211_20250602_000000042000101.csv",
        "00004211/00004211_20260217_000000042000103.csv",
    ]


def test_records_of_a_dispensing(region, pharmacy, person, institution_of_kind):
    assert jahis.pharmacy_style(pharmacy) == jahis.PharmacyStyle(False, False, False)
    clinic = institution_of_kind(InstitutionKind.CLINIC)
    lines = written(region, pharmacy, person)["00004211/00004211_20250602_000000042000101.csv"]

    assert lines[0] == ["JAHISTC08", "1"]
    assert [line[0] for line in lines[1:]] == ["1", "2", "5", "11", "15", "51", "55"] + ["201", "301"] * 4
    view = person.views[pharmacy.code]
    home = view.addresses[0][1]
    assert lines[1] == [
        "1",
        "高橋 和子",
        "2",
        "19410503",
        home.postal_code,
        home.text,
        "0548-23-4567",
        "",
        "",
        "",
        "タカハシ カズコ",
    ]
    assert lines[2] == ["2", "1", "ペニシリン", "1"]
    assert lines[3] == ["5", "20250602", "1"]
    assert lines[4] == [
        "11",
        pharmacy.name,
        "22",
        "4",
        pharmacy.organization_number[3:],
        pharmacy.address.postal_code,
        pharmacy.address.text,
        pharmacy.phone,
        "1",
    ]
    assert lines[5] == ["15", pharmacy.staff[0], pharmacy.phone, "1"]
    assert lines[6] == ["51", clinic.name, "22", "1", clinic.organization_number[3:], "1"]
    assert lines[7] == ["55", clinic.staff[0], "内科", "1"]
    amlodipine = DRUGS["amlodipine"]
    assert records(lines, "201")[0] == [
        "201",
        "1",
        amlodipine.name,
        "1",
        "錠",
        "6",
        amlodipine.hot9,
        "1",
        amlodipine.generic_name,
        "2",
        "2171022F2ZZZ",
    ]
    assert [line[3:6] for line in records(lines, "301")] == [
        ["28", "日分", "1"],
        ["28", "日分", "1"],
        ["10", "回分", "3"],
        ["1", "調剤", "5"],
    ]
    assert records(lines, "301")[0] == ["301", "1", amlodipine.usage_text, "28", "日分", "1", "1", "", "1"]
    assert records(lines, "201")[3][3:5] == ["28", "枚"]


def test_drugs_sharing_an_rp_have_one_usage_record(region, pharmacy, person):
    first = person.prescriptions[0]
    drugs = (first.drugs[0], replace(first.drugs[1], rp_number=1))
    person.prescriptions = [replace(first, drugs=drugs)]

    (lines,) = written(region, pharmacy, person).values()

    assert [line[:2] for line in lines if line[0] in ("201", "301")] == [["201", "1"], ["201", "1"], ["301", "1"]]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2019, 5, 1), "R010501"),
        (date(2019, 4, 30), "H310430"),
        (date(2025, 6, 2), "R070602"),
        (date(1989, 1, 8), "H010108"),
        (date(1989, 1, 7), "S640107"),
        (date(1941, 5, 3), "S160503"),
        (date(1926, 12, 25), "S011225"),
        (date(1926, 12, 24), "T151224"),
        (date(1912, 7, 30), "T010730"),
        (date(1900, 1, 1), "M330101"),
        (date(1850, 1, 1), "18500101"),
    ],
)
def test_wareki(day, expected):
    assert jahis.wareki(day) == expected


@pytest.mark.parametrize(
    ("full", "half"),
    [
        ("タカハシ カズコ", "ﾀｶﾊｼ ｶｽﾞｺ"),
        ("ガッコウ", "ｶﾞｯｺｳ"),
        ("パーク・ヴィラ", "ﾊﾟｰｸ･ｳﾞｨﾗ"),
        ("ヤマダ　ジョウ", "ﾔﾏﾀﾞ ｼﾞｮｳ"),
    ],
)
def test_half_width_kana(full, half):
    assert jahis.half_width_kana(full) == half


def test_styles_vary_between_pharmacies(pharmacy):
    styles = [jahis.pharmacy_style(replace(pharmacy, code=f"pharmacy-{n:02d}")) for n in range(1, 13)]

    assert all(any(style[trait] for style in styles) for trait in range(3))
    assert any(not any(style) for style in styles)


def test_era_dates_and_half_width_kana(region, pharmacy, person):
    styled = at_pharmacy(person, pharmacy, "pharmacy-02")
    assert jahis.pharmacy_style(styled) == jahis.PharmacyStyle(True, True, False)

    files = written(region, styled, person)
    lines = files["00004211/00004211_20250602_000000042000101.csv"]

    assert lines[1][3] == "S160503"
    assert lines[1][10] == "ﾀｶﾊｼ ｶｽﾞｺ"
    assert records(lines, "5") == [["5", "R070602", "1"]]


def test_yj_codes(region, pharmacy, person):
    styled = at_pharmacy(person, pharmacy, "pharmacy-03")
    assert jahis.pharmacy_style(styled).yj_codes

    lines = written(region, styled, person)["00004211/00004211_20260217_000000042000103.csv"]

    assert records(lines, "201")[0][5:7] == ["4", DRUGS["lansoprazole"].yj]


def test_unencodable_characters_and_commas(region, pharmacy, person):
    view = person.views[pharmacy.code]
    person.views[pharmacy.code] = replace(view, name=PersonName("𠮷田", "和,子", "ヨシダ", "カズコ"))

    for lines in written(region, pharmacy, person).values():
        assert lines[1][1] == f"■田 和{jahis.FULL_WIDTH_COMMA}子"
        assert len(lines[1]) == 11


def test_only_this_pharmacys_dispensings(region, person):
    other = region.of_kind(InstitutionKind.PHARMACY)[1]
    person.views[other.code] = replace(
        person.views[region.of_kind(InstitutionKind.PHARMACY)[0].code], source=other.code
    )

    assert written(region, other, person) == {}


def test_deterministic(region, pharmacy, person):
    first, second = Recorder(), Recorder()
    jahis.write_person(region, pharmacy, person, first)
    jahis.write_person(region, pharmacy, person, second)
    jahis.write_institution(region, pharmacy, first)

    assert first.files == second.files
    assert first.tables == second.tables == []
