"""Blocking keys: a person's records meet despite source noise, and no key is made of empty parts."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest

from federation.identity.blocking import blocking_keys
from tests.federation.identity.people import NEW_HOME, full_width, person

BORN = "1958-03-07"  # a day that can be swapped with its month
NOISE: dict[str, dict[str, Any]] = {
    "kana typo in the family name": {"kana": ("タカシハ", "マサオ")},
    "kana typo in the given name": {"kana": ("タカハシ", "マスオ")},
    "half-width kana": {"kana": ("ﾀｶﾊｼ", "ﾏｻｵ")},
    "new kanji form": {"kanji": ("高橋", "正雄")},
    "another kanji for the reading": {"kanji": ("髙橋", "政雄")},
    "full-width address": {"address": "静岡県綱木市駅前一丁目" + full_width("15番24号")},
    "missed move": {"address": NEW_HOME, "postal": "428-0051"},
    "no address": {"address": None, "postal": None},
    "no phone": {"phone": None},
    "no insurance card": {"member_id": None},
    "day and month swapped": {"birth": "1958-07-03"},
    "a day off": {"birth": "1958-03-08"},
    "ten days off across a month": {"birth": "1958-02-25"},
    "a digit of the year": {"birth": "1968-03-07"},
    "a digit of the month": {"birth": "1958-08-07"},
    "a digit of the day": {"birth": "1958-03-09"},
}


def _noisy(*kinds: str):
    changes: dict[str, Any] = {"birth": BORN}
    for kind in kinds:
        changes |= NOISE[kind]
    return person(**changes)


def _meet(*kinds: str) -> bool:
    return not blocking_keys(_noisy()).isdisjoint(blocking_keys(_noisy(*kinds)))


@pytest.mark.parametrize("kind", NOISE)
def test_one_kind_of_noise_leaves_a_shared_key(kind):
    assert _meet(kind)


@pytest.mark.parametrize(
    "kinds", list(itertools.combinations([kind for kind in NOISE if kind != "no insurance card"], 2))
)
def test_two_kinds_of_noise_leave_a_shared_key_even_without_an_insurance_card(kinds):
    assert _meet("no insurance card", *kinds)


def test_keys_are_signed_64_bit_and_stable():
    keys = blocking_keys(person())
    assert keys == blocking_keys(person())
    assert all(-(2**63) <= key < 2**63 for key in keys)
    assert any(key < 0 for key in keys | blocking_keys(_noisy()))


def test_no_key_is_built_from_an_empty_part():
    nameless = replace(person(), kana_family="", kana_given="", kanji_family="", kanji_given="")
    assert blocking_keys(replace(nameless, addresses=frozenset(), phones=frozenset(), insured_keys=frozenset())) == (
        frozenset()
    )
    undated = replace(person(), birth_date=None, addresses=frozenset(), phones=frozenset(), insured_keys=frozenset())
    assert blocking_keys(undated) == frozenset()


def test_placeholder_phone_numbers_make_no_key():
    keys = blocking_keys(person(phone="0000000000")) ^ blocking_keys(person(phone=None))
    assert keys == frozenset()
    assert blocking_keys(person(phone="0548-26-5284")) != blocking_keys(person(phone=None))


def test_different_people_share_no_key():
    stranger = person(
        kanji=("中村", "健一"),
        kana=("ナカムラ", "ケンイチ"),
        birth="1962-11-30",
        address=NEW_HOME,
        postal="428-0051",
        phone="090-1111-2222",
        member_id="00229989:つ２６:0000099:00",
    )
    namesake = person(birth="1961-08-02", address=NEW_HOME, postal="428-0051", phone=None, member_id=None)
    assert blocking_keys(person()).isdisjoint(blocking_keys(stranger))
    assert blocking_keys(person()).isdisjoint(blocking_keys(namesake))
