"""FHIR instants and HTTP dates."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from django.utils.http import http_date


def format_instant(moment: datetime) -> str:
    """FHIR instant in UTC with microseconds, so _since compares exactly with what was served."""
    if type(moment) is datetime and moment.tzinfo is UTC:
        return _utc_instant(moment)
    return _instant(moment)


@functools.lru_cache(maxsize=64)
def _utc_instant(moment: datetime) -> str:
    """A write stamps every resource of a batch with the same moment: written once, not once per resource.
    Only exact UTC datetimes come here: the text of a naive one depends on the process's time zone."""
    return _instant(moment)


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def format_http_date(moment: datetime) -> str:
    return http_date(moment.timestamp())
