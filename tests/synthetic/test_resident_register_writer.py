"""The municipality's register extract: CP932 CSV rows that match the person's residences, household and death."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from synthetic.indicators import household_sizes
from synthetic.model import InstitutionKind, PersonName, Residence
from synthetic.writers import resident_register
from synthetic.writers.resident_register import COLUMNS, HEADERS, MOVEMENTS, RESIDENTS
from tests.synthetic.recording import Recorder


@pytest.fixture
def municipality(institution_of_kind):
    return institution_of_kind(InstitutionKind.MUNICIPALITY)


def recorded(region, municipality, *people):
    out = Recorder()
    resident_register.write_institution(region, municipality, out)
    for person in people:
        resident_register.write_person(region, municipality, person, out)
    assert out.files == {}  # the register writes only shared tables
    for name in out.tables:
        assert tuple(out.rows(name)[0]) == COLUMNS[name]
    return out


def housemate(person, municipality, person_id, patient_id, **changes):
    """Another person with the same residences (the same household) and a register record of their own."""
    view = replace(person.views[municipality.code], patient_id=patient_id)
    return replace(person, person_id=person_id, views={municipality.code: view}, **changes)


def test_tables_are_cp932_crlf_with_the_header_once(region, municipality, person):
    out = recorded(region, municipality, person)

    for name in (RESIDENTS, MOVEMENTS):
        data = out.data(name)
        assert data.endswith(b"\r\n")
        assert data.count(b"\r\n") == data.count(b"\n")
        assert data.count(HEADERS[name]) == 1
        assert not data.startswith(b"\xef\xbb\xbf")
    assert "髙橋".encode("cp932") in out.data(RESIDENTS)


def test_without_people_both_tables_have_their_header(region, municipality):
    out = recorded(region, municipality)

    assert out.table(RESIDENTS) == []
    assert out.table(MOVEMENTS) == []


def test_resident_row_is_the_register_record_at_the_end_date(region, municipality, person):
    view = person.views[municipality.code]
    current = person.residences[-1].address

    (row,) = recorded(region, municipality, person).table(RESIDENTS)

    assert row == {
        "宛名番号": view.patient_id,
        "世帯番号": "H000021",
        "続柄": "世帯主",
        "氏名": "髙橋 和子",  # the register's 旧字体
        "氏名カナ": "タカハシ カズコ",
        "生年月日": "19410503",
        "性別": "2",
        "郵便番号": "428-0031",
        "住所": current.text,
        "地区": "緑が丘",
        "住民となった日": "19700401",
        "状態": "住民",
        "死亡日": "",
        "電話番号": "0548-23-4567",
        "介護保険被保険者番号": "0000123456",
        "医療保険種別": "後期高齢者医療",
        "医療保険者番号": "39229990",
        "被保険者記号": "",
        "被保険者番号": "12345678",
        "被保険者枝番": "",
    }


def test_a_move_is_a_movement_row(region, municipality, person):
    old, new = person.residences

    (row,) = recorded(region, municipality, person).table(MOVEMENTS)

    assert row == {
        "宛名番号": person.views[municipality.code].patient_id,
        "異動日": "20250914",
        "異動事由": "転居",
        "旧住所": old.address.text,
        "新住所": new.address.text,
        "旧世帯番号": "H000021",
        "新世帯番号": "H000021",
    }


def test_a_death_keeps_the_row_with_the_household_and_address_at_death(region, municipality, person):
    first, second = person.residences
    later = Residence(date(2026, 2, 1), replace(first.address, street="1番1号"), "H000077")
    died = replace(person, death=date(2025, 12, 24), residences=[first, second, later])

    out = recorded(region, municipality, died)

    (row,) = out.table(RESIDENTS)
    assert (row["状態"], row["死亡日"], row["世帯番号"], row["住所"]) == (
        "死亡",
        "20251224",
        "H000021",
        second.address.text,
    )
    assert [(m["異動日"], m["異動事由"], m["旧住所"], m["新住所"]) for m in out.table(MOVEMENTS)] == [
        ("20250914", "転居", first.address.text, second.address.text),
        ("20251224", "死亡", second.address.text, ""),  # the household's move after the death is not theirs
    ]


def test_living_alone_follows_from_household_numbers_and_state(region, municipality, person):
    widow = person
    late_husband = housemate(person, municipality, "P0000043", "000000004218", death=date(2025, 8, 2))
    elsewhere = [Residence(date(1995, 4, 1), person.residences[0].address, "H000099")]
    couple = [housemate(person, municipality, f"P000010{n}", f"000000009{n}", residences=elsewhere) for n in range(2)]
    people = [widow, late_husband, *couple]

    rows = recorded(region, municipality, *people).table(RESIDENTS)

    living: dict[str, int] = {}
    for row in rows:
        if row["状態"] == "住民":
            living[row["世帯番号"]] = living.get(row["世帯番号"], 0) + 1
    assert living == household_sizes(people, region.as_of) == {"H000021": 1, "H000099": 2}


def test_without_cards_the_insurance_columns_are_empty(region, municipality, person):
    view = replace(person.views[municipality.code], insurance=None)
    uninsured = replace(person, care_insurance=None, views={municipality.code: view})

    (row,) = recorded(region, municipality, uninsured).table(RESIDENTS)

    assert [row[column] for column in COLUMNS[RESIDENTS][14:]] == [""] * 6


def test_a_character_cp932_lacks_becomes_the_substitute(region, municipality, person):
    view = person.views[municipality.code]
    rare = replace(view, name=PersonName("𠮷田", "和子", "ヨシダ", "カズコ"))

    (row,) = recorded(region, municipality, replace(person, views={municipality.code: rare})).table(RESIDENTS)

    assert row["氏名"] == "■田 和子"


def test_the_same_person_gives_the_same_bytes(region, municipality, person):
    first, second = recorded(region, municipality, person), recorded(region, municipality, person)

    assert first.data(RESIDENTS) == second.data(RESIDENTS)
    assert first.data(MOVEMENTS) == second.data(MOVEMENTS)
