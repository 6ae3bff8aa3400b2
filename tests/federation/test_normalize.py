"""Search's string folding: ASCII text takes a short cut that must fold exactly as the Unicode steps do."""

from __future__ import annotations

import itertools

from federation.search.normalize import normalize_string

ASCII = [chr(code) for code in range(128)]


def test_ascii_folds_as_the_unicode_steps_do():
    # A trailing あ sends the text down the full NFKC / casefold / NFD / NFC path, and it folds to
    # itself without touching what comes before it.
    for text in ASCII + ["".join(pair) for pair in itertools.product(ASCII, repeat=2)] + ["Mary-Ann O'Neil 42"]:
        assert normalize_string(text + "あ") == normalize_string(text) + "あ", repr(text)


def test_non_ascii_folds_width_case_accents_and_kana():
    assert normalize_string("ﾔﾏﾀﾞ Ｔａｒō") == "やまだ taro"
    assert normalize_string("ガ") == "が"
