"""How strings are compared by search: width, case, accents and kana folded alike.

NFKC makes full- and half-width forms one (half-width ｶﾞ -> ガ, full-width letters -> ASCII);
case folding ignores case; Latin accents are dropped (é -> e) but the kana voicing marks (゛ ゜)
are kept, since が and か are different sounds, not accents; katakana is folded to hiragana so a
kana name matches either way.
"""

from __future__ import annotations

import unicodedata

KANA_VOICING_MARKS = frozenset({"\u3099", "\u309a"})
KATAKANA_START, KATAKANA_END = 0x30A1, 0x30F6
KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in range(KATAKANA_START, KATAKANA_END + 1)}


def normalize_string(value: str) -> str:
    if value.isascii():
        return value.lower()  # what the steps below come to for ASCII, at a fraction of the cost
    folded = unicodedata.normalize("NFKC", value).casefold()
    decomposed = unicodedata.normalize("NFD", folded)
    kept = "".join(char for char in decomposed if not unicodedata.combining(char) or char in KANA_VOICING_MARKS)
    return unicodedata.normalize("NFC", kept).translate(KATAKANA_TO_HIRAGANA)
