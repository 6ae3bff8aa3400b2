"""FHIR dates as the intervals search compares: each precision, each way of giving a zone, and what is not a date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from federation.search.dates import date_interval

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("2026", datetime(2026, 1, 1, tzinfo=TOKYO), datetime(2026, 12, 31, 23, 59, 59, 999999, TOKYO)),
        ("2026-02", datetime(2026, 2, 1, tzinfo=TOKYO), datetime(2026, 2, 28, 23, 59, 59, 999999, TOKYO)),
        ("2024-02-29", datetime(2024, 2, 29, tzinfo=TOKYO), datetime(2024, 2, 29, 23, 59, 59, 999999, TOKYO)),
        ("2026-03-04T05:06Z", datetime(2026, 3, 4, 5, 6, tzinfo=UTC), datetime(2026, 3, 4, 5, 6, 59, 999999, UTC)),
        (
            "2026-03-04T05:06:07+09:00",
            datetime(2026, 3, 4, 5, 6, 7, tzinfo=TOKYO),
            datetime(2026, 3, 4, 5, 6, 7, 999999, TOKYO),
        ),
        (
            "2026-03-04T05:06:07.1-05:30",
            datetime(2026, 3, 4, 5, 6, 7, 100000, timezone(-timedelta(hours=5, minutes=30))),
            datetime(2026, 3, 4, 5, 6, 7, 199999, timezone(-timedelta(hours=5, minutes=30))),
        ),
        (
            "2026-03-04T05:06:07.1234567Z",
            datetime(2026, 3, 4, 5, 6, 7, 123456, UTC),
            datetime(2026, 3, 4, 5, 6, 7, 123456, UTC),
        ),
        (
            "2026-03-04T05:06:07",
            datetime(2026, 3, 4, 5, 6, 7, tzinfo=TOKYO),
            datetime(2026, 3, 4, 5, 6, 7, 999999, TOKYO),
        ),
    ],
)
def test_each_precision_covers_its_interval(settings, text, low, high):
    settings.TIME_ZONE = "Asia/Tokyo"  # a value without a zone is read in it
    assert date_interval(text) == (low, high)


@pytest.mark.parametrize(
    "text", ["2026-02-30", "2026-13", "2026-03-04T24:00", "2026-03-04T05:60:00Z", "03/04/2026", ""]
)
def test_what_is_no_date_gives_none(text):
    assert date_interval(text) is None
