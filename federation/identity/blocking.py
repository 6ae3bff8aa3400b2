"""Which records are worth scoring against each other: those that share a blocking key.

Each key is a tagged combination of features chosen so that two records of one person share at least one
key despite any one kind of source noise, and usually despite two:

- reading or kanji + birth year and month: survive a kana typo (the kanji key) or a kanji variant (the kana
  key), a missed move, no phone, and a birth-date typo in the day (one digit, 1 or 10 days off);
- reading or kanji + birth month and day as an unordered pair: survive a typo in the year, and a day and
  month swapped;
- birth date + one name part (kana family, kana given, kanji family, kanji given): survive a typo in the
  other parts, or in both scripts of one part;
- address + birth date, address + kana given name: survive any name noise, or a birth-date typo, in one
  household;
- each phone number and each insured-person key: survive any name and birth-date noise.

A full name alone, or with the birth year, would make blocks of every 同姓同名 (hundreds in a small name
pool), and a postal area holds thousands of people; every key above carries a birth date nearly whole,
an address or a personal number, so a block holds a few records and the number of pairs to score grows
nearly linearly with the number of records. A key is never built from an empty part ("" + birth date
alone would block everyone born that day).
"""

from __future__ import annotations

from federation.identity.features import PersonFeatures
from federation.search.hashing import hash64

# A phone key needs the whole number (市外局番 included, 10 or 11 digits): a local number alone, or a
# placeholder like 0000000000, would gather many people in one block.
_MIN_PHONE_DIGITS = 10


def blocking_keys(features: PersonFeatures) -> frozenset[int]:
    """The record's blocking keys as signed 64-bit ints (blake2b of the tagged parts), for a B-tree index."""
    birth = features.birth_date
    day = birth.isoformat() if birth else ""
    year_month = day[:7]
    month_and_day = "/".join(sorted((f"{birth:%m}", f"{birth:%d}"))) if birth else ""
    kana, kanji = (features.kana_family, features.kana_given), (features.kanji_family, features.kanji_given)
    tagged: list[tuple[str, ...]] = [
        ("kana+year-month", *kana, year_month),
        ("kanji+year-month", *kanji, year_month),
        ("kana+month-and-day", *kana, month_and_day),
        ("kanji+month-and-day", *kanji, month_and_day),
        ("birth+kana-family", day, features.kana_family),
        ("birth+kana-given", day, features.kana_given),
        ("birth+kanji-family", day, features.kanji_family),
        ("birth+kanji-given", day, features.kanji_given),
        *(("address+birth", address, day) for address in features.addresses),
        *(("address+kana-given", address, features.kana_given) for address in features.addresses),
        *(("phone", phone) for phone in features.phones if _is_personal_number(phone)),
        *(("insured", key) for key in features.insured_keys),
    ]
    return frozenset(hash64(*parts) for parts in tagged if all(parts))


def _is_personal_number(phone: str) -> bool:
    return len(phone) >= _MIN_PHONE_DIGITS and len(set(phone)) > 1
