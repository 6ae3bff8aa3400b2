"""HL7 v2 text building blocks: escaped field text, segments from numbered fields, ISO-2022-JP bytes.

Japanese HL7 v2 (SS-MIX2) allows only ASCII and JIS X 0208 (MSH-18 ``~ISO IR87``). Half-width katakana
are not allowed, so they are widened; any other character outside the two sets (外字 such as 﨑 or 髙, the
yen sign of JIS X 0201) becomes ``■``, as SS-MIX2 gateways do, so that every file still decodes.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

GAIJI = "■"
ENCODING = "iso2022_jp"
_ESCAPES = str.maketrans(
    {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\", "\r": "\\X0D\\", "\n": "\\X0A\\"}
)
_HALF_WIDTH_KANA = re.compile("[\uff61-\uff9f]+")
_JIS_ROMAN = b"\x1b(J"  # JIS X 0201 Roman: not ISO-IR 6, so not allowed either


def escape(text: str) -> str:
    """Text for a field or component: the delimiters become HL7 escape sequences."""
    return text.translate(_ESCAPES)


def segment(name: str, fields: dict[int, str]) -> str:
    """A segment from its fields by number (HL7 numbering, from 1); missing and trailing empty fields are left out."""
    values = [""] * (max(fields) + 1)
    values[0] = name
    for number, value in fields.items():
        values[number] = value
    return "|".join(values).rstrip("|")


def encode(message: str) -> bytes:
    """ISO-2022-JP bytes; the slow path (a character outside ASCII and JIS X 0208) runs only when needed."""
    try:
        data = message.encode(ENCODING)
    except UnicodeEncodeError:
        pass
    else:
        if _JIS_ROMAN not in data:
            return data
    widened = _HALF_WIDTH_KANA.sub(lambda run: unicodedata.normalize("NFKC", run.group()), message)
    return "".join(char if char < "\x80" or _encodable(char) else GAIJI for char in widened).encode(ENCODING)


@cache
def _encodable(char: str) -> bool:
    try:
        return not char.encode(ENCODING).startswith(_JIS_ROMAN)
    except UnicodeEncodeError:
        return False
