"""FHIR JSON text: decimals stay exact (1.50 stays 1.50), NaN and Infinity are refused.

FHIR says a decimal's precision is significant, so numbers with a fraction are read as Decimal
and written back digit for digit (simplejson can write Decimal as a JSON number; json cannot).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import simplejson


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in FHIR JSON")


def loads(raw: str | bytes) -> Any:
    return json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)


def dumps(value: Any, *, pretty: bool = False, sort_keys: bool = False) -> str:
    return simplejson.dumps(
        value,
        use_decimal=True,
        ensure_ascii=False,
        sort_keys=sort_keys,
        indent=2 if pretty else None,
        separators=None if pretty else (",", ":"),
    )


class FhirJsonDecoder(json.JSONDecoder):
    """For JSONField(decoder=...): stored resources come back with exact decimals."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("parse_float", Decimal)
        super().__init__(**kwargs)
