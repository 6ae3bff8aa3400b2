"""Fellegi-Sunter scoring: each field's level, the thresholds on the cases that matter, the insured-key rule."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.identity.compare import (
    AUTO_LINK_SCORE,
    M_U,
    POSSIBLE_SCORE,
    PRIOR_LOG2_ODDS,
    REVIEW_SCORE,
    kana_close,
    match_grade,
    match_probability,
    pair_score,
)
from federation.identity.compare import deterministic_rule as rule
from federation.identity.features import PersonFeatures
from tests.federation.identity.people import NEW_HOME, full_width, person

TWIN = {"kanji": ("髙橋", "正樹"), "kana": ("タカハシ", "マサキ"), "member_id": "00229989:つ２６:0000075:01"}
MOVED = {"address": NEW_HOME, "postal": "428-0051"}


def levels(a: PersonFeatures, b: PersonFeatures) -> dict[str, str]:
    return {comparison.field: comparison.level for comparison in pair_score(a, b).comparisons}


def test_agreement_weighs_for_and_disagreement_against():
    for field, table in M_U.items():
        for level, (m, u) in table.items():
            assert 0 < m < 1, (field, level)
            assert 0 < u < 1, (field, level)
            positive = level in ("agree", "partial", "exact", "typo", "shared", "shared-at-same-address")
            assert (math.log2(m / u) > 0) == positive, (field, level)


@pytest.mark.parametrize(
    ("other", "family", "given"),
    [
        ({}, "agree", "agree"),
        ({"kanji": ("高橋", "正雄")}, "agree", "agree"),  # 新字体 for the registered 髙
        ({"kana": ("タカハシ", "マスオ")}, "agree", "partial"),  # a kana typo, the kanji intact
        ({"kanji": ("高橋", "政雄")}, "agree", "partial"),  # another kanji for the reading
        ({"kanji": None, "kana": ("タカシハ", "マサオ")}, "kana-close", "agree"),  # a typo with no kanji
        ({"kanji": None, "kana": ("ナカムラ", "マサオ")}, "disagree", "agree"),
        ({"kanji": ("中村", "正雄"), "kana": ("タカハシ", "マサオ")}, "partial", "agree"),
        ({"kanji": ("中村", "正雄"), "kana": ("ナカムラ", "マサオ")}, "disagree", "agree"),
        ({"kanji": ("高橋", "正樹"), "kana": ("タカハシ", "マサキ")}, "agree", "disagree"),  # close kana, other kanji
        ({"kanji": None, "kana": None}, "missing", "missing"),
    ],
)
def test_name_levels(other, family, given):
    found = levels(person(), person(**other))
    assert (found["family_name"], found["given_name"]) == (family, given)


@pytest.mark.parametrize(
    ("written", "level"),
    [
        ("1958-03-27", "exact"),
        ("1958-03-28", "typo"),  # a day off
        ("1958-03-17", "typo"),  # ten days off, and one digit
        ("1958-04-06", "typo"),  # ten days off across a month
        ("1968-03-27", "typo"),  # one digit of the year
        ("1958-08-27", "typo"),  # one digit of the month
        ("1958-03-29", "typo"),  # one digit of the day
        ("1958-03-25", "typo"),
        ("1958-03-30", "disagree"),
        ("1985-03-27", "disagree"),  # two digits of the year
        ("1959-04-27", "disagree"),
    ],
)
def test_birth_date_typo_levels(written, level):
    assert levels(person(), person(birth=written))["birth_date"] == level


def test_day_and_month_swapped_is_a_typo():
    assert levels(person(birth="1958-03-07"), person(birth="1958-07-03"))["birth_date"] == "typo"
    assert levels(person(birth="1958-03-07"), person(birth="1959-07-03"))["birth_date"] == "disagree"


def test_sex_and_household_levels():
    assert levels(person(), person(gender="female"))["sex"] == "disagree"
    assert levels(person(), person(gender=None))["sex"] == "missing"
    moved = levels(person(), person(**MOVED))
    assert (moved["postal_code"], moved["address"], moved["phone"]) == ("none", "none", "shared")
    at_home = levels(person(), person(address="静岡県綱木市駅前一丁目" + full_width("15番24号")))
    assert (at_home["postal_code"], at_home["address"], at_home["phone"]) == (
        "shared",
        "shared",
        "shared-at-same-address",
    )
    other_phone = levels(person(), person(phone="090-1234-5678", postal=None, address=None))
    assert (other_phone["postal_code"], other_phone["address"], other_phone["phone"]) == ("missing", "missing", "none")


def test_twins_never_reach_review():
    twins = pair_score(person(), person(**TWIN))
    assert twins.score < POSSIBLE_SCORE
    assert match_grade(twins.score) == "certainly-not"
    # Nor would they with the best level of every field but the given name.
    best_of_the_rest = sum(
        max(math.log2(m / u) for m, u in M_U[field].values()) for field in M_U if field != "given_name"
    )
    given_disagree = math.log2(M_U["given_name"]["disagree"][0] / M_U["given_name"]["disagree"][1])
    assert best_of_the_rest + given_disagree < REVIEW_SCORE


def test_twins_with_no_kanji_to_compare_are_reviewed_at_most():
    score = pair_score(person(), person(kanji=None, kana=("タカハシ", "マサキ"))).score
    assert score < AUTO_LINK_SCORE


def test_namesakes_born_on_other_days_are_not_reviewed():
    namesake = person(birth="1961-08-02", phone="090-1111-2222", member_id=None, **MOVED)
    assert pair_score(person(), namesake).score < REVIEW_SCORE
    in_one_home = person(birth="1931-08-02", member_id=None)  # a father and son of one name
    assert pair_score(person(), in_one_home).score < REVIEW_SCORE


def test_namesakes_born_the_same_day_are_reviewed_not_linked():
    namesake = person(phone="090-1111-2222", member_id=None, **MOVED)
    assert match_grade(pair_score(person(), namesake).score) == "probable"
    assert match_grade(pair_score(person(), replace(namesake, phones=frozenset())).score) == "probable"


def test_a_kana_typo_a_new_kanji_form_and_an_old_address_still_link():
    source = person(kanji=("高橋", "正雄"), kana=("タカシハ", "マサオ"), member_id=None, **MOVED)
    assert levels(person(), source)["family_name"] == "partial"
    assert pair_score(person(), source).score >= AUTO_LINK_SCORE


def test_a_birth_date_typo_links_at_home_and_is_reviewed_after_a_missed_move():
    assert pair_score(person(), person(birth="1958-03-28")).score >= AUTO_LINK_SCORE
    moved = pair_score(person(), person(birth="1958-03-28", **MOVED)).score
    assert match_grade(moved) == "probable"


def test_explanation_lists_every_field_rounded():
    explanation = pair_score(person(), person(phone=None)).explanation()
    assert [entry["field"] for entry in explanation] == list(M_U)
    assert explanation[-1] == {"field": "phone", "level": "missing", "weight": 0.0}
    assert explanation[2] == {"field": "birth_date", "level": "exact", "weight": 14.82}


def test_a_shared_insured_key_links_unless_birth_date_and_sex_both_disagree():
    assert rule(person(), person(kanji=("中村", "正雄"), kana=None)) == "insured-person-key"
    assert rule(person(), person(birth="1931-08-02")) == "insured-person-key"
    assert rule(person(), person(birth="1931-08-02", gender="female")) is None
    assert rule(person(), person(birth="1958-03-28", gender="female")) == "insured-person-key"  # a typo
    assert rule(person(), person(member_id="00229989:つ２６:0000075:01")) is None
    assert rule(person(member_id=None), person(member_id=None)) is None


def test_match_grades_and_probabilities_follow_the_thresholds():
    assert [match_grade(score) for score in (AUTO_LINK_SCORE, REVIEW_SCORE, POSSIBLE_SCORE, POSSIBLE_SCORE - 0.01)] == [
        "certain",
        "probable",
        "possible",
        "certainly-not",
    ]
    assert match_probability(-PRIOR_LOG2_ODDS) == 0.5
    assert match_probability(AUTO_LINK_SCORE) > 0.9998 > match_probability(REVIEW_SCORE) > 0.99
    assert match_probability(POSSIBLE_SCORE) == 0.5
    assert 0.0 <= match_probability(-5000) < match_probability(0) < match_probability(5000) <= 1.0


@pytest.mark.parametrize(
    ("a", "b", "close"),
    [
        ("タカハシ", "タカハシ", True),
        ("タカハシ", "タカシハ", True),  # transposed
        ("イト", "ト", True),  # deleted
        ("マサオ", "マスオ", True),  # replaced
        ("ケンタ", "ケンタロ", True),  # inserted
        ("アイウエオカキク", "アイウエオカクケ", True),  # two edits apart, but Jaro-Winkler 0.95
        ("サト", "スズキ", False),
        ("ユタ", "カナ", False),
    ],
)
def test_kana_close(a, b, close):
    assert kana_close(a, b) is close
    assert kana_close(b, a) is close


KANA = st.text(alphabet="アイウカキサシタナハマヤラワンーッ", max_size=6)
FEATURES = st.builds(
    PersonFeatures,
    kana_family=KANA,
    kana_given=KANA,
    kanji_family=st.sampled_from(["", "高橋", "中村"]),
    kanji_given=st.sampled_from(["", "正雄", "正樹"]),
    birth_date=st.none() | st.dates(min_value=date(1920, 1, 1), max_value=date(2025, 12, 31)),
    sex=st.sampled_from(["", "male", "female"]),
    postal_codes=st.frozensets(st.sampled_from(["4280021", "4280051"])),
    addresses=st.frozensets(st.sampled_from(["港町3番7号", "駅前一丁目15番24号"])),
    phones=st.frozensets(st.sampled_from(["0548265284", "09011112222"])),
    insured_keys=st.just(frozenset()),
)


@given(FEATURES, FEATURES)
def test_scores_are_symmetric_and_a_named_dated_record_links_to_itself(a, b):
    assert pair_score(a, b) == pair_score(b, a)
    named = replace(
        a, kana_family=a.kana_family or "タカ", kana_given=a.kana_given or "マサ", birth_date=date(1958, 3, 27)
    )
    assert pair_score(named, named).score >= AUTO_LINK_SCORE
