"""Instants for the local-time rules' tests: zones with and without DST, and Berlin's 2024
changes of clock, so quiet hours and digest times are tested on the same nights."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

BAGHDAD = ZoneInfo("Asia/Baghdad")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
# Europe/Berlin 2024: clocks jump 02:00 CET → 03:00 CEST at 01:00 UTC on 31 March, and fall
# back 03:00 CEST → 02:00 CET at 01:00 UTC on 27 October (02:00–03:00 happens twice).
BERLIN_SPRING = datetime(2024, 3, 31, 1, 0, tzinfo=UTC)
BERLIN_FALL = datetime(2024, 10, 27, 1, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An instant in UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(
    zone: ZoneInfo,
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    *,
    fold: int = 0,
) -> datetime:
    """An instant as a local wall-clock time (``fold=1``: the second of a repeated hour)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=zone, fold=fold)
