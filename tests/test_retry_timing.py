"""Retry-After, one rule for feeds and the outlet: delay-seconds or an HTTP date, capped at a
day, anything else ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from news.retry_timing import MAX_RETRY_AFTER, parse_retry_after

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("Wed, 25 Nov 2026 12:05:00 GMT", 300.0),
        (format_datetime(NOW + timedelta(hours=2), usegmt=True), 7200.0),
        ("Wed, 25 Nov 2026 11:00:00 GMT", 0.0),  # a date already past: now
        # "-0000" is UTC without a local time (RFC 5322): read as UTC, as both users did.
        ("Wed, 25 Nov 2026 12:05:00 -0000", 300.0),
        ("999999999999", MAX_RETRY_AFTER),  # a day at most
        (format_datetime(NOW + timedelta(days=30), usegmt=True), MAX_RETRY_AFTER),
    ],
)
def test_seconds_and_http_dates(value: str, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize("value", [None, "", "  ", "soon", "-5", "1.5", "1e12", "nan", "²"])
def test_anything_else_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None
