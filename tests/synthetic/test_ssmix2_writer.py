"""The SS-MIX2 writer: a standardized-storage tree of ISO-2022-JP HL7 v2.5 messages per hospital or clinic."""

from __future__ import annotations

import re
from dataclasses import replace

import hl7
import pytest

from synthetic.catalog.clinical import DRUGS, LAB_TESTS
from synthetic.model import InstitutionKind, PersonName
from synthetic.writers import ssmix2
from synthetic.writers.hl7v2 import encode, escape
from tests.synthetic.recording import Recorder

FILE_NAME = re.compile(
    r"^(\d{3})/(\d{3})/(\d+)/(-|\d{8})/([A-Z]{3}-\d{2})/"
    r"\3_\4_\5_(\d{15})_(\d{17})_(-|\d{2,3})_([012])$"
)
MESSAGE_TYPES = {
    "ADT-00": "ADT^A08^ADT_A01",
    "ADT-12": "ADT^A04^ADT_A01",
    "ADT-22": "ADT^A01^ADT_A01",
    "ADT-52": "ADT^A03^ADT_A03",
    "PPR-01": "PPR^ZD1^PPR_ZD1",
    "OMP-01": "RDE^O11^RDE_O11",
    "OML-11": "OUL^R22^OUL_R22",
}


def raw(region, institution, person) -> dict[str, bytes]:
    out = Recorder()
    ssmix2.write_person(region, institution, person, out)
    ssmix2.write_institution(region, institution, out)
    assert out.tables == []  # the SS-MIX2 writer writes whole files only
    return out.files


def written(region, institution, person) -> dict[str, str]:
    return {name: data.decode("iso2022_jp") for name, data in raw(region, institution, person).items()}


def of_kind(files, kind) -> list[tuple[str, hl7.Message]]:
    return [(name, hl7.parse(text)) for name, text in sorted(files.items()) if f"/{kind}/" in name]


def field(message, name, number) -> str:
    """A whole field of the first `name` segment, as written (escapes kept)."""
    return str(message.segment(name)[number])


def segments(message, name) -> list[hl7.Segment]:
    return [segment for segment in message if str(segment[0]) == name]


@pytest.fixture
def hospital(institution_of_kind):
    return institution_of_kind(InstitutionKind.HOSPITAL)


@pytest.fixture
def clinic(institution_of_kind):
    return institution_of_kind(InstitutionKind.CLINIC)


def test_every_file_is_an_hl7_v25_message_of_its_kind_in_its_place(region, person, hospital, clinic):
    expected_kinds = {
        hospital.code: {"ADT-00", "ADT-12", "ADT-22", "ADT-52", "PPR-01", "OMP-01"},
        clinic.code: {"ADT-00", "ADT-12", "PPR-01", "OMP-01", "OML-11"},
    }
    for institution in (hospital, clinic):
        patient_id = person.views[institution.code].patient_id
        kinds = set()
        for name, data in raw(region, institution, person).items():
            match = FILE_NAME.match(name)
            assert match, name
            first, second, folder_id, day, kind, _order, stamp, department, flag = match.groups()
            assert (first, second, folder_id) == (patient_id[:3], patient_id[3:6], patient_id)
            assert (day == "-") == (kind in {"ADT-00", "PPR-01"})
            assert (department == "-") == (kind in {"ADT-00", "PPR-01"})
            assert flag in "12"
            assert max(data) < 0x80  # ISO-2022-JP is 7-bit
            text = data.decode("iso2022_jp")
            assert text.endswith("\r")
            assert "\n" not in text
            message = hl7.parse(text)
            assert field(message, "MSH", 9) == MESSAGE_TYPES[kind]
            assert field(message, "MSH", 12) == "2.5"
            assert str(message.segment("MSH")[18]) == "~ISO IR87"
            assert str(message.segment("MSH")[20]) == "ISO2022-1994"
            assert str(message["MSH.F21.R1.C1"]) == "SS-MIX2_1.20"
            assert field(message, "MSH", 7).replace(".", "") == stamp
            kinds.add(kind)
        assert kinds == expected_kinds[institution.code]


def test_message_control_ids_are_unique(region, person, hospital, clinic):
    ids = [
        field(hl7.parse(text), "MSH", 10)
        for institution in (hospital, clinic)
        for text in written(region, institution, person).values()
    ]
    assert len(ids) == len(set(ids))


def test_pid_carries_the_views_identity(region, person, hospital):
    view = person.views[hospital.code]
    for text in written(region, hospital, person).values():
        message = hl7.parse(text)
        assert str(message["PID.F3.R1.C1"]) == view.patient_id
        assert str(message["PID.F3.R1.C5"]) == "PI"
        assert [str(message[f"PID.F5.R1.C{n}"]) for n in (1, 2, 7, 8)] == ["高橋", "和子", "L", "I"]
        assert [str(message[f"PID.F5.R2.C{n}"]) for n in (1, 2, 7, 8)] == ["タカハシ", "カズコ", "L", "P"]
        assert field(message, "PID", 7) == "19410503"
        assert field(message, "PID", 8) == "F"


def test_patient_master_per_learned_address(region, person, hospital, clinic):
    masters = of_kind(written(region, hospital, person), "ADT-00")
    assert [name[-2:] for name, _ in masters] == ["_2", "_1"]  # sorted by 発生日時: the older one is superseded
    (_, old), (_, new) = masters
    addresses = [address for _, address in person.views[hospital.code].addresses]
    assert str(old["PID.F11.R1.C8"]) == addresses[0].text
    assert str(new["PID.F11.R1.C8"]) == addresses[1].text
    assert str(new["PID.F11.R1.C5"]) == addresses[1].postal_code
    assert str(new["PID.F13.R1.C12"]) == "0548-23-4567"
    assert str(new["AL1.F2.R1.C1"]) == "DA"
    assert str(new["AL1.F3.R1.C2"]) == "ペニシリン"
    assert [field(new, "IN1", n) for n in (3, 11, 12)] == ["39229990", "12345678", "20160503"]
    assert str(new["IN1.F2.R1.C1"]) == "39"
    assert field(new, "PV1", 2) == "N"
    assert [name[-2:] for name, _ in of_kind(written(region, clinic, person), "ADT-00")] == ["_1"]


def test_prescription_codes(region, person, clinic):
    ((name, message),) = of_kind(written(region, clinic, person), "OMP-01")
    assert "/20250602/OMP-01/" in name
    assert "_000000042000101_" in name
    assert [str(orc[2]) for orc in segments(message, "ORC")] == ["000000042000101"] * 4
    assert [str(orc[4]) for orc in segments(message, "ORC")] == ["1", "2", "3", "4"]
    amlodipine, _, loxoprofen, tape = segments(message, "RXE")
    assert str(amlodipine[2]) == f"{DRUGS['amlodipine'].hot9}^アムロジピン錠５ｍｇ^HOT9"
    assert [str(amlodipine[n]) for n in (3, 5, 10, 19, 21)] == [
        "1",
        "TAB^錠^MR9P",
        "28",
        "1^TAB&錠&MR9P",
        "OHP^外来処方^MR9P",
    ]
    assert [str(loxoprofen[n]) for n in (3, 10)] == ["1", "10"]
    assert [str(tape[n]) for n in (3, 5, 10, 11)] == ['""', '""', "28", "SHT^枚^MR9P"]
    timing = segments(message, "TQ1")[0]
    assert str(timing[3]) == "1013042400000000&１日１回朝食後&JAMISDP01"
    assert str(timing[6]) == "28^d"
    assert len(segments(message, "RXR")) == 3  # the tape is not oral
    assert field(message, "PV1", 2) == "O"


def test_inpatient_prescription_is_on_the_ward(region, person, hospital):
    files = written(region, hospital, person)
    ((_, order),) = of_kind(files, "OMP-01")
    ((_, admission),) = of_kind(files, "ADT-22")
    assert field(order, "PV1", 2) == "I"
    assert field(order, "PV1", 3) == field(admission, "PV1", 3)
    assert str(order["ORC.F29.R1.C1"]) == "I"
    assert field(order, "RXE", 21) == "IHP^入院処方^MR9P"
    assert field(order, "RXE", 3) == "2"  # 屯服: the dose per use


def test_lab_results(region, person, clinic):
    ((name, message),) = of_kind(written(region, clinic, person), "OML-11")
    assert "/20250602/OML-11/" in name  # the day of collection
    assert [str(spm[4]) for spm in segments(message, "SPM")] == ["019^全血^JC10", "023^血清^JC10"]
    results = {str(obx[3][0][0]): [str(obx[n]) for n in (2, 5, 6, 7, 8, 11, 14)] for obx in segments(message, "OBX")}
    assert results == {
        LAB_TESTS["hba1c"].jlac10: ["NM", "6.4", "%^%^ISO+", "4.9-6.0", "H", "F", "202506020945"],
        LAB_TESTS["cre"].jlac10: ["NM", "0.62", "mg/dL^mg/dL^ISO+", "0.46-1.07", "", "F", "202506020945"],
    }


def test_diagnoses(region, person, hospital, clinic):
    problems = {field(m, "PRB", 4): m for _, m in of_kind(written(region, clinic, person), "PPR-01")}
    hypertension, dementia = problems["000000042000001"], problems["000000042000002"]
    assert field(hypertension, "PRB", 3) == "20089213^本態性高血圧症^MDCDX2"
    assert field(hypertension, "PRB", 10) == "I10^^I10"
    assert field(hypertension, "PRB", 16) == "20120601"
    assert field(hypertension, "ZPR", 5) == "PAKS^本態性高血圧症^MDCDX2"
    assert field(hypertension, "PRB", 13) == ""  # not suspected
    assert len(hypertension.segment("PRB")) == 17  # ends at PRB-16 onset: not abated, no PRB-25 sensitivity
    assert field(dementia, "PRB", 10) == "F019^^I10"
    assert field(dementia, "PRB", 13) == "1^疑いあり^JHSD0005"
    assert field(dementia, "PRB", 25) == "V^非常に限定^HL70177"
    ((_, fracture),) = of_kind(written(region, hospital, person), "PPR-01")
    assert [field(fracture, "PRB", n) for n in (9, 14, 15)] == ["20260120", "R^治癒^HL70241", "20260120"]


def test_stays_and_visits(region, person, hospital):
    files = written(region, hospital, person)
    ((visit_name, visit),) = of_kind(files, "ADT-12")
    assert "/20251003/ADT-12/" in visit_name
    assert visit_name.endswith("_90_1")
    assert [field(visit, "PV1", n) for n in (2, 3, 4, 10, 44)] == ["O", "90^^^^^C", "E", "90", "202510031405"]
    assert str(visit["PV1.F7.R1.C2"]) == "増田"
    ((_, admission),) = of_kind(files, "ADT-22")
    ((discharge_name, discharge),) = of_kind(files, "ADT-52")
    assert "/20251107/ADT-52/" in discharge_name
    assert re.fullmatch(r"\d{2}\^\d{3}\^\d\^\^\^N", field(admission, "PV1", 3))
    assert [field(discharge, "PV1", n) for n in (2, 36, 44, 45)] == [
        "I",
        "01^自宅^HL70112",
        "202510031540",
        "202511071000",
    ]


def test_death_in_hospital(region, person, hospital):
    person.encounters = [replace(e, died=True) if e.encounter_class == "inpatient" else e for e in person.encounters]
    files = written(region, hospital, person)
    ((_, discharge),) = of_kind(files, "ADT-52")
    assert str(discharge["PV1.F36.R1.C1"]) == "20"
    assert [field(discharge, "PID", n) for n in (29, 30)] == ["202511071000", "Y"]
    old, new = (message for _, message in of_kind(files, "ADT-00"))
    assert field(new, "PID", 30) == "Y"
    assert len(old.segment("PID")) < 30


def test_variant_kanji_become_gaiji_marks_and_half_width_kana_widen(region, person, hospital):
    name = PersonName("山﨑", "髙子", "ﾔﾏｻﾞｷ", "タカコ")
    person.views[hospital.code] = replace(person.views[hospital.code], name=name)
    for text in written(region, hospital, person).values():
        message = hl7.parse(text)
        assert [str(message[f"PID.F5.R1.C{n}"]) for n in (1, 2)] == ["山■", "■子"]
        assert str(message["PID.F5.R2.C1"]) == "ヤマザキ"


def test_delimiters_in_text_are_escaped(region, person, hospital):
    view = person.views[hospital.code]
    since, address = view.addresses[-1]
    moved = replace(address, building="A&B|C^D~E\\F")
    person.views[hospital.code] = replace(view, addresses=(*view.addresses[:-1], (since, moved)))
    _, (_, newest) = of_kind(written(region, hospital, person), "ADT-00")
    assert field(newest, "PID", 11).endswith("A\\T\\B\\F\\C\\S\\D\\R\\E\\E\\F")
    assert str(newest["PID.F11.R1.C8"]).endswith(moved.building)  # a parser unescapes it
    assert str(newest["PID.F13.R1.C12"]) == "0548-23-4567"  # the fields after the address stay in place
    assert escape("a\rb") == "a\\X0D\\b"


def test_encoding_stays_within_ascii_and_jis_x_0208():
    assert encode("¥100 ｶﾅ 髙") == "■100 カナ ■".encode("iso2022_jp")
    assert encode("高橋") == "高橋".encode("iso2022_jp")


def test_deterministic(region, person, hospital, clinic):
    for institution in (hospital, clinic):
        assert raw(region, institution, person) == raw(region, institution, person)


def test_no_immunizations_and_nothing_per_institution(region, person, institution_of_kind):
    fhir_clinic = institution_of_kind(InstitutionKind.FHIR_CLINIC)
    hospital = institution_of_kind(InstitutionKind.HOSPITAL)
    person.immunizations = [replace(i, institution=hospital.code) for i in person.immunizations]
    assert not any("/OMP-02/" in name or "/OMP-12/" in name for name in written(region, hospital, person))
    out = Recorder()
    ssmix2.write_institution(region, fhir_clinic, out)
    assert out.files == {}
    assert out.tables == []
