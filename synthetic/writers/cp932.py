"""Shift_JIS (CP932) text as Japanese business systems export it: CSV rows with CRLF, YYYYMMDD dates."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date

SUBSTITUTE = "■"  # what Japanese systems print for a character they cannot encode (外字)


def western(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def encode_cp932(text: str) -> bytes:
    """CP932 bytes; a character CP932 lacks (rare kanji variants) becomes ■ instead of failing the export."""
    try:
        return text.encode("cp932")
    except UnicodeEncodeError:
        return "".join(_cp932_char(char) for char in text).encode("cp932")


def _cp932_char(char: str) -> str:
    try:
        char.encode("cp932")
    except UnicodeEncodeError:
        return SUBSTITUTE
    return char


def csv_rows(rows: Iterable[Sequence[object]]) -> bytes:
    """CSV with csv-module quoting and CRLF, encoded CP932."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return encode_cp932(buffer.getvalue())
