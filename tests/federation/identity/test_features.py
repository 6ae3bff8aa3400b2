"""Reading a Patient's demographics into matching form, whatever shape the source gave them."""

from __future__ import annotations

import json
from datetime import date

import pytest

from federation.identity.features import PersonFeatures, patient_features
from tests.federation.identity.people import LTC, MEMBER_ID, REPRESENTATION, full_width, patient, person


def _name(text: str, code: str | None = None, **parts):
    name = {"use": "usual", "text": text, **parts}
    if code:
        name["extension"] = [{"url": REPRESENTATION, "valueCode": code}]
    return name


def test_a_jp_core_patient_gives_its_matching_features():
    address = "静岡県綱木市駅前一丁目" + full_width("15番24号")
    stored = patient(kana=("ﾀｶﾊｼ", "まさお"), address=address, phone=full_width("0548") + "-26-5284")
    stored["identifier"].append({"system": LTC, "value": "0000001818"})
    assert patient_features(stored) == PersonFeatures(
        kana_family="タカハシ",
        kana_given="マサオ",
        kanji_family="高橋",
        kanji_given="正雄",
        birth_date=date(1958, 3, 27),
        sex="male",
        postal_codes=frozenset({"4280021"}),
        addresses=frozenset({"静岡県綱木市駅前一丁目15番24号"}),
        phones=frozenset({"0548265284"}),
        insured_keys=frozenset({f"{MEMBER_ID}|00229989:つ２６:0000075:00", f"{LTC}|0000001818"}),
    )


@pytest.mark.parametrize("space", [" ", "\u3000"])
def test_a_name_with_text_only_splits_on_the_first_space(space):
    features = patient_features(
        {"name": [_name(f"高橋{space}正雄", "IDE"), _name(f"タカハシ{space}マサオ{space}ジュニア", "SYL")]}
    )
    assert (features.kanji_family, features.kanji_given) == ("高橋", "正雄")
    assert (features.kana_family, features.kana_given) == ("タカハシ", "マサオジユニア")


def test_a_name_without_a_space_is_not_guessed_apart():
    features = patient_features({"name": [_name("高橋正雄", "IDE")]})
    assert (features.kanji_family, features.kanji_given) == ("", "")


@pytest.mark.parametrize("kana", ["タカハシ マサオ", "たかはし まさお", "ﾀｶﾊｼ ﾏｻｵ"])
def test_a_name_without_representation_is_kana_when_written_in_kana_only(kana):
    features = patient_features({"name": [_name("高橋 正雄"), _name(kana)]})
    assert (features.kanji_family, features.kana_family, features.kana_given) == ("高橋", "タカハシ", "マサオ")


def test_past_names_are_not_compared():
    features = patient_features(
        {"name": [_name("山田 花子", "IDE", use="maiden"), _name("高橋 花子", "IDE", family="高橋", given=["花子"])]}
    )
    assert features.kanji_family == "高橋"


@pytest.mark.parametrize("birth", ["1958", "1958-03", "1958-02-30", "1958-03-27T10:00:00+09:00", 19580327])
def test_a_birth_date_that_is_not_a_whole_day_is_missing(birth):
    assert patient_features({"birthDate": birth}).birth_date is None


@pytest.mark.parametrize(("gender", "sex"), [("female", "female"), ("other", "other"), ("unknown", ""), (None, "")])
def test_unknown_gender_is_no_gender(gender, sex):
    assert patient_features({"gender": gender}).sex == sex


def test_an_address_without_text_is_read_from_its_parts_in_japanese_order():
    parts = {"state": "静岡県", "city": "綱木市", "line": ["駅前一丁目", "15番24号"], "postalCode": "4280021"}
    assert patient_features({"address": [parts]}).addresses == person().addresses


def test_only_phones_and_insured_person_identifiers_are_kept():
    features = patient_features(
        {
            "telecom": [{"system": "email", "value": "0548265284@example.jp"}, {"system": "phone", "value": "090-1"}],
            "identifier": [{"system": "urn:oid:1.2.392.100495.20.3.51.11234567890", "value": "12345"}],
        }
    )
    assert features.phones == frozenset({"0901"})
    assert features.insured_keys == frozenset()


def test_odd_elements_are_skipped_not_raised_on():
    features = patient_features(
        {
            "resourceType": "Patient",
            "name": [
                "高橋",
                {"family": 7, "given": "正雄"},
                {"extension": "IDE", "text": None},
                {"extension": [{"url": REPRESENTATION}], "given": [None, "マサオ"]},
            ],
            "telecom": [{"system": "phone"}, None],
            "address": {"text": "not a list"},
            "identifier": [{"value": "1"}, {"system": MEMBER_ID}, {"system": MEMBER_ID, "value": ""}],
            "birthDate": None,
            "gender": ["male"],
        }
    )
    assert features == patient_features({"name": [_name("", "SYL", given=["マサオ"])]})
    assert features.kana_given == "マサオ"


def test_features_round_trip_through_json_in_one_form():
    features = person()
    same = patient_features(patient() | {"identifier": list(reversed(patient()["identifier"]))})
    assert json.dumps(features.to_json()) == json.dumps(same.to_json())
    assert PersonFeatures.from_json(json.loads(json.dumps(features.to_json()))) == features
    empty = patient_features({})
    assert PersonFeatures.from_json(empty.to_json()) == empty
    assert empty.to_json()["birth_date"] is None
