"""The matching keys tolerate exactly the noise the synthetic generator writes into source records."""

from __future__ import annotations

from federation.identity.compare import kana_close
from federation.identity.normalize import kana_key, kanji_key
from synthetic.catalog.names import FAMILY_NAMES, FEMALE_GIVEN_NAMES, KANJI_VARIANTS, MALE_GIVEN_NAMES
from synthetic.views import KANA_SWAPS

READINGS = sorted(
    {kana for _, kana in FAMILY_NAMES}
    | {kana for table in (MALE_GIVEN_NAMES, FEMALE_GIVEN_NAMES) for names in table.values() for _, kana in names}
    | {"オウギ", "オーノ"}  # fictional readings with オウ / オー, which no catalog reading has
)


def test_generator_noise_keeps_keys_equal_or_close():
    for plain, variants in KANJI_VARIANTS.items():
        for variant in variants:
            assert kanji_key(variant) == kanji_key(plain), variant
            for family, _ in FAMILY_NAMES:
                assert kanji_key(family.replace(plain, variant)) == kanji_key(family)
    applied, transposed = set(), 0
    for reading in READINGS:
        typos = []
        for swap in KANA_SWAPS:
            for wrong, right in (swap, swap[::-1]):
                if wrong in reading:
                    typos.append(reading.replace(wrong, right, 1))
                    applied.add(swap)
        if not typos and len(reading) > 2:  # with no swap to make, the generator transposes two neighbours
            typos = [reading[:at] + reading[at + 1] + reading[at] + reading[at + 2 :] for at in range(len(reading) - 1)]
            transposed += 1
        for typo in typos:
            assert kana_key(typo) == kana_key(reading) or kana_close(kana_key(typo), kana_key(reading)), typo
    assert applied == set(KANA_SWAPS)
    assert transposed > 0
