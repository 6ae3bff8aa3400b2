"""FHIR instants: the text of a UTC moment is remembered (a batch stamps all its resources with one), and
equals what the formatting gives anywhere else."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.instant import format_instant

TOKYO = timezone(timedelta(hours=9))


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05.000000Z"),
        (datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC), "2026-01-02T03:04:05.000678Z"),
        (datetime(2026, 1, 2, 12, 4, 5, tzinfo=TOKYO), "2026-01-02T03:04:05.000000Z"),
    ],
)
def test_instants_are_utc_with_microseconds(moment, text):
    assert format_instant(moment) == text
    assert format_instant(moment) == text  # remembered, the same


def test_a_naive_moment_is_read_in_the_time_zone_of_the_moment_it_is_formatted(monkeypatch):
    moment = datetime(2026, 1, 2, 3, 4, 5)
    try:
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()
        assert format_instant(moment) == "2026-01-02T03:04:05.000000Z"
        monkeypatch.setenv("TZ", "Asia/Tokyo")
        time.tzset()
        assert format_instant(moment) == "2026-01-01T18:04:05.000000Z"
    finally:
        monkeypatch.undo()
        time.tzset()
