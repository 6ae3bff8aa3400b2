"""FHIR instants and HTTP dates."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils.http import http_date


def format_instant(moment: datetime) -> str:
    """FHIR instant in UTC with microseconds, so _since compares exactly with what was served."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def format_http_date(moment: datetime) -> str:
    return http_date(moment.timestamp())
