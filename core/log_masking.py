"""Application logs carry no health data or identifiers: a logging filter that masks what could name a person
before any handler writes the record (house rule: nothing personal in logs).

What is masked, whatever the message: URL query strings (search parameters name people: `?name=山田`),
e-mail addresses, phone-like numbers, runs of six or more digits (insurance, patient and card numbers), and
runs of Japanese script (names and addresses are written in it; log messages themselves are English).
"""

from __future__ import annotations

import logging
import re

MASK = "[masked]"
_PATTERNS = (
    re.compile(r"(?<=\?)[^\s\"']+"),  # a query string, up to the next space or quote
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),  # an e-mail address
    re.compile(r"\+?\d{2,4}[-\u2010\uff0d]\d{2,4}[-\u2010\uff0d]\d{3,4}"),  # a phone number, any hyphen
    re.compile(r"\d{6,}"),  # identifiers: 保険者番号, card and patient numbers, 医療機関コード
    re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+"),  # Japanese script
)


def masked(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    return text


class MaskPersonalData(logging.Filter):
    """Replaces a record's message by its masked form (arguments merged first, so none escapes unmasked)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = masked(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:  # formatted here, so the traceback's values are masked too
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = masked(record.exc_text)
        return True
