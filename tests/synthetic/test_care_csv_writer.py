"""The care CSV writer: seven CP932 tables per care facility or support center, one header each."""

from __future__ import annotations

from dataclasses import replace

import pytest

from synthetic.model import InstitutionKind, PersonName
from synthetic.writers import care_csv
from tests.synthetic.recording import Recorder

TABLES = sorted(care_csv.COLUMNS)


def tables(region, institution, person) -> dict[str, list[list[str]]]:
    out = Recorder()
    care_csv.write_institution(region, institution, out)
    care_csv.write_person(region, institution, person, out)
    assert out.files == {}  # the care writer writes shared tables only
    parsed = {}
    for name in out.tables:
        text = out.data(name).decode("cp932")
        assert text.count("\n") == text.count("\r\n")
        header, rows = out.rows(name)
        assert header == list(care_csv.COLUMNS[name])
        assert header not in rows
        parsed[name] = rows
    return parsed


@pytest.fixture
def facility(institution_of_kind):
    return institution_of_kind(InstitutionKind.CARE_FACILITY)


@pytest.fixture
def center(institution_of_kind):
    return institution_of_kind(InstitutionKind.SUPPORT_CENTER)


@pytest.mark.parametrize("kind", [InstitutionKind.CARE_FACILITY, InstitutionKind.SUPPORT_CENTER])
def test_every_table_exists_with_its_header(region, institution_of_kind, kind):
    out = Recorder()
    care_csv.write_institution(region, institution_of_kind(kind), out)

    assert sorted(out.tables) == TABLES
    for name in out.tables:
        assert out.data(name).decode("cp932") == ",".join(care_csv.COLUMNS[name]) + "\r\n"
    assert out.files == {}


def test_care_facility_tables(region, facility, person):
    written = tables(region, facility, person)
    view = person.views[facility.code]
    address = view.addresses[-1][1]

    assert written["clients.csv"] == [
        [
            "C00042",
            "高橋 和子",
            "タカハシ カズコ",
            "19410503",
            "2",
            address.postal_code,
            address.text,
            "0548-23-4567",
            "229991",
            "0000123456",
            "20190110",
        ],
    ]
    assert written["certifications.csv"] == [
        ["C00042", "13", "要支援2", "新規", "20241201", "20250110", "20241201", "20251130"],
        ["C00042", "22", "要介護2", "区分変更", "20251110", "20251215", "20251110", "20261130"],
    ]
    assert written["services.csv"] == [
        ["C00042", "20260108", "15", "通所介護", "789"],
        ["C00042", "20260131", "43", "居宅介護支援", "1076"],
    ]
    assert written["adl.csv"] == [["C00042", "20260108", "10", "10", "5", "5", "0", "10", "5", "5", "10", "10", "70"]]
    assert written["incidents.csv"] == [["C00042", "20260203", "転倒", "施設内", "打撲"]]
    assert written["checklists.csv"] == []
    assert written["vitals.csv"] == [["C00042", "202601080930", "138", "82", "72", "36.4", "39.8"]]


def test_support_center_tables(region, center, person):
    written = tables(region, center, person)

    (client,) = written["clients.csv"]
    assert client[0] == "S00042"
    assert client[8:10] == ["", ""]  # its record has no insurance details
    assert len(written["certifications.csv"]) == 2
    assert written["services.csv"] == written["adl.csv"] == written["incidents.csv"] == written["vitals.csv"] == []
    (checklist,) = written["checklists.csv"]
    answers = person.checklists[0].answers
    assert checklist[:2] == ["S00042", "20250520"]
    assert checklist[2:13] == [str(int(answer)) for answer in answers[:11]]
    assert checklist[13] == "1"  # item 12: BMI 39.5 / 1.48² = 18.0 < 18.5
    assert checklist[14:27] == [str(int(answer)) for answer in answers[12:]]
    assert checklist[27:] == ["148.0", "39.5"]


def test_item_12_from_bmi(region, center, person):
    person.checklists = [replace(person.checklists[0], weight_kg=person.checklists[0].weight_kg + 3)]

    assert tables(region, center, person)["checklists.csv"][0][13] == "0"


def test_no_care_insurance_without_certification(region, facility, person):
    person.certifications = []

    assert tables(region, facility, person)["clients.csv"][0][8:10] == ["", ""]


def test_quoting_and_unencodable_characters(region, facility, person):
    view = person.views[facility.code]
    person.views[facility.code] = replace(view, name=PersonName("𠮷田", "和,子", "ヨシダ", 'カズ"コ'))

    client = tables(region, facility, person)["clients.csv"][0]

    assert client[1:3] == ["■田 和,子", 'ヨシダ カズ"コ']


def test_deterministic(region, facility, person):
    first, second = Recorder(), Recorder()
    care_csv.write_person(region, facility, person, first)
    care_csv.write_person(region, facility, person, second)

    assert first.tables == second.tables
    assert [first.data(name) for name in first.tables] == [second.data(name) for name in second.tables]
    assert first.files == second.files == {}
