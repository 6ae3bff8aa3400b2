"""Matching forms: the spellings sources use for one name, number or address give one key."""

from __future__ import annotations

import pytest

from federation.identity.normalize import (
    KANJI_NEW_FORMS,
    address_key,
    kana_key,
    kanji_key,
    phone_key,
    postal_key,
)
from tests.federation.identity.people import full_width


def test_kana_long_vowel_width_and_script_give_one_key():
    assert {kana_key(text) for text in ("サトウ", "サトー", "さとう", "ｻﾄｳ", "サト-ウ", "サトウ ")} == {"サト"}
    assert {kana_key(text) for text in ("ユウコ", "ユーコ", "ユコ", "ゆうこ")} == {"ユコ"}


def test_kana_lengthening_vowel_is_dropped_only_after_its_row():
    assert kana_key("ケイコ") == kana_key("ケーコ")  # イ after the e-row
    assert kana_key("オオタ") == kana_key("オータ")  # オ after the o-row
    assert kana_key("ダイスケ") == "ダイスケ"  # イ after the a-row is a syllable of its own
    assert kana_key("ユイ") == "ユイ"
    assert kana_key("イトウ") == "イト"  # the first イ lengthens nothing


def test_kana_voicing_confusions_fold():
    assert kana_key("モチヅキ") == kana_key("モチズキ")
    assert kana_key("フヂタ") == kana_key("フジタ")
    assert kana_key("ヲサム") == kana_key("オサム")
    assert kana_key("ワタナベ") == kana_key("ハタナベ")


def test_small_kana_are_written_large():
    assert kana_key("キョウコ") == kana_key("キヨウコ")
    assert kana_key("ジュンコ") == kana_key("ジユンコ")
    assert kana_key("ハットリ") == kana_key("ハツトリ")
    assert kana_key("ｼｭﾝ") == kana_key("シユン")


def test_kana_spaces_and_middle_dots_are_dropped():
    assert kana_key("タカハシ　マサオ") == kana_key("タカハシ・マサオ") == "タカハシマサオ"


def test_kana_key_folds_on_purpose_but_keeps_names_apart():
    assert kana_key("オオノ") == kana_key("オノ")  # lost on purpose: the other fields tell them apart
    assert kana_key("サトウ") != kana_key("カトウ")
    assert kana_key("ケンタ") != kana_key("ケンイチ")


@pytest.mark.parametrize(
    ("written", "registered"),
    [
        ("高橋", "髙橋"),
        ("斎藤", "齋藤"),
        ("斎藤", "齊藤"),
        ("斎藤", "斉藤"),
        ("山崎", "山﨑"),
        ("山崎", "山嵜"),
        ("渡辺", "渡邊"),
        ("渡辺", "渡邉"),
        ("浜田", "濱田"),
        ("沢田", "澤田"),
        ("島田", "嶋田"),
        ("桜井", "櫻井"),
    ],
)
def test_kanji_old_and_variant_forms_fold_to_the_new_form(written, registered):
    assert kanji_key(registered) == kanji_key(written) == written


def test_kanji_variation_selectors_spaces_and_compatibility_ideographs():
    assert kanji_key("葛\U000e0100城") == kanji_key("葛城")  # an IVS names the glyph, not another kanji
    assert kanji_key("辻\ufe00") == "辻"
    assert kanji_key("高橋　正雄") == kanji_key("高橋 正雄") == "高橋正雄"
    assert kanji_key("\ufa10") == "塚"  # a CJK compatibility ideograph: NFKC maps it to the unified one
    assert kanji_key("さくら") == kanji_key("サクラ")  # a kana given name, in either kana


def test_kanji_key_keeps_different_kanji_apart():
    assert kanji_key("埼") != kanji_key("崎")
    assert kanji_key("渡辺") != kanji_key("渡部")


def test_kanji_table_folds_in_one_step_to_forms_it_keeps():
    olds = [old for forms in KANJI_NEW_FORMS.values() for old in forms]
    assert len(olds) >= 100
    assert len(set(olds)) == len(olds)
    for new, forms in KANJI_NEW_FORMS.items():
        assert kanji_key(new) == new, new
        for old in forms:
            assert old != new
            assert kanji_key(old) == new, old


def test_phone_key_keeps_digits_of_any_width():
    assert phone_key(full_width("0548-26-5284")) == phone_key("(0548) 26 5284") == "0548265284"
    assert phone_key("なし") == ""


def test_postal_key_is_seven_digits_or_nothing():
    assert postal_key("〒" + full_width("428-0021")) == postal_key("428-0021") == "4280021"
    assert postal_key("428-002") == ""
    assert postal_key("") == ""


def test_address_key_folds_width_spaces_and_dashes_after_digits():
    assert address_key(full_width("駅前一丁目15番24号")) == address_key("駅前一丁目15番24号")
    assert address_key(full_width("港町3") + "ー" + full_width("7") + "\u3000コーポ緑201") == "港町3-7コーポ緑201"
    minus, hyphen = "\u2212", "\u2010"  # ー in コーポ above is kept: it follows no digit
    assert (
        address_key(f"港町3{minus}7")
        == address_key(f"港町3{hyphen}7")
        == address_key(full_width("港町3-7"))
        == "港町3-7"
    )
    assert address_key("本町一丁目") != address_key("本町1丁目")  # 丁目 numbers stay as written
