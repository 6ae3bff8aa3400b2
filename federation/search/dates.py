"""FHIR dates as intervals: a value covers [low, high] by its precision.

`2026-03` covers 2026-03-01T00:00 .. 2026-03-31T23:59:59.999999. Values without a time zone are
read in the server's zone (settings.TIME_ZONE, Asia/Tokyo by default).
"""

from __future__ import annotations

import functools
import re
from calendar import monthrange
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from django.conf import settings

DATE_PATTERN = re.compile(
    r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?P<fraction>\.\d+)?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
ONE_MICROSECOND = timedelta(microseconds=1)
ONE_SECOND, ONE_MINUTE, ONE_DAY = timedelta(seconds=1), timedelta(minutes=1), timedelta(days=1)
INTERVALS_KEPT = 8192  # bounded in count and in text length: well under a few MB
CACHED_TEXT_LENGTH = 64
ZONES_KEPT = 256


def server_zone() -> ZoneInfo:
    return ZoneInfo(str(settings.TIME_ZONE))


def date_interval(value: str) -> tuple[datetime, datetime] | None:
    """The [low, high] instants a FHIR date/dateTime/instant covers, or None if it is not one.

    Kept per process for short texts (in the server's zone of the moment): the same dates come back in
    many resources (an encounter's start in each of its observations), and reading one is most of indexing
    a date."""
    if len(value) <= CACHED_TEXT_LENGTH:
        return _cached_interval(value, str(settings.TIME_ZONE))
    return _interval(value, str(settings.TIME_ZONE))


def _interval(value: str, server_zone_name: str) -> tuple[datetime, datetime] | None:
    match = DATE_PATTERN.match(value.strip())
    if match is None:
        return None
    year_text, month_text, day_text, hour, minute, second, fraction, zone_text = match.groups()
    zone = _zone(zone_text, server_zone_name)
    year = int(year_text)
    try:
        if month_text is None:
            return _span(datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone))
        month = int(month_text)
        if day_text is None:
            start = datetime(year, month, 1, tzinfo=zone)
            return _span(start, start + timedelta(days=monthrange(year, month)[1]))
        day = int(day_text)
        # Each instant made in one datetime() call: a date's and its time's fields at once.
        if hour is None:
            moment = datetime(year, month, day, tzinfo=zone)
            return _span(moment, moment + ONE_DAY)
        if second is None:
            moment = datetime(year, month, day, int(hour), int(minute), tzinfo=zone)
            return _span(moment, moment + ONE_MINUTE)
        if fraction is None:
            moment = datetime(year, month, day, int(hour), int(minute), int(second), tzinfo=zone)
            return _span(moment, moment + ONE_SECOND)
        digits = fraction[1:7]
        moment = datetime(year, month, day, int(hour), int(minute), int(second), int(digits.ljust(6, "0")), zone)
        return _span(moment, moment + timedelta(microseconds=10 ** (6 - len(digits))))
    except ValueError:
        return None


def _span(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    return start, end - ONE_MICROSECOND


_cached_interval = functools.lru_cache(maxsize=INTERVALS_KEPT)(_interval)


@functools.lru_cache(maxsize=ZONES_KEPT)  # a handful in practice (Z, +09:00, the server's)
def _zone(text: str | None, server_zone_name: str) -> tzinfo:
    if text is None:
        return ZoneInfo(server_zone_name)
    if text == "Z":
        return UTC
    sign = 1 if text[0] == "+" else -1
    hours, minutes = int(text[1:3]), int(text[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))
