"""When quiet hours end, in local time across DST changes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from news.quiet_hours import quiet_until
from tests.auxil.local_clock import (
    BAGHDAD,
    BERLIN,
    BERLIN_FALL,
    BERLIN_SPRING,
    KOLKATA,
    NEW_YORK,
    local,
    utc,
)

# --- quiet hours: when they end --------------------------------------------------------------


def test_quiet_hours_across_midnight_in_baghdad() -> None:
    start, end = time(23), time(7)
    # Baghdad is UTC+3 all year.
    assert quiet_until(local(BAGHDAD, 2026, 1, 10, 23, 0), start, end, BAGHDAD) == utc(
        2026, 1, 11, 4, 0
    )
    assert quiet_until(local(BAGHDAD, 2026, 1, 11, 3, 0), start, end, BAGHDAD) == utc(
        2026, 1, 11, 4, 0
    )
    assert quiet_until(local(BAGHDAD, 2026, 1, 11, 7, 0), start, end, BAGHDAD) is None
    assert quiet_until(local(BAGHDAD, 2026, 1, 11, 22, 59), start, end, BAGHDAD) is None
    assert quiet_until(local(BAGHDAD, 2026, 1, 11, 12, 0), start, end, BAGHDAD) is None


def test_quiet_hours_within_one_day() -> None:
    start, end = time(13), time(15, 30)
    assert quiet_until(local(BAGHDAD, 2026, 6, 1, 14, 0), start, end, BAGHDAD) == utc(
        2026, 6, 1, 12, 30
    )
    assert quiet_until(local(BAGHDAD, 2026, 6, 1, 12, 59), start, end, BAGHDAD) is None
    assert quiet_until(local(BAGHDAD, 2026, 6, 1, 15, 30), start, end, BAGHDAD) is None


def test_quiet_until_is_utc_whatever_zone_now_is_in() -> None:
    now = local(ZoneInfo("Asia/Tokyo"), 2026, 1, 11, 9, 0)  # 03:00 in Baghdad
    until = quiet_until(now, time(23), time(7), BAGHDAD)
    assert until == utc(2026, 1, 11, 4, 0)
    assert until is not None and until.tzinfo is UTC


def test_quiet_hours_in_new_york_winter_and_summer() -> None:
    start, end = time(22), time(6)
    assert quiet_until(utc(2026, 1, 15, 4, 0), start, end, NEW_YORK) == utc(2026, 1, 15, 11, 0)
    assert quiet_until(utc(2026, 7, 15, 4, 0), start, end, NEW_YORK) == utc(2026, 7, 15, 10, 0)
    # 2026-03-08: 02:00 EST → 03:00 EDT; a night that starts in EST ends at 06:00 EDT.
    assert quiet_until(utc(2026, 3, 8, 3, 30), start, end, NEW_YORK) == utc(2026, 3, 8, 10, 0)


def test_berlin_spring_forward_night_is_an_hour_shorter() -> None:
    now = local(BERLIN, 2024, 3, 30, 23, 0)  # 22:00 UTC, CET
    until = quiet_until(now, time(23), time(7), BERLIN)
    assert until == utc(2024, 3, 31, 5, 0)  # 07:00 CEST
    assert until - now == timedelta(hours=7)


def test_berlin_fall_back_night_is_an_hour_longer() -> None:
    now = local(BERLIN, 2024, 10, 26, 23, 0)  # 21:00 UTC, CEST
    until = quiet_until(now, time(23), time(7), BERLIN)
    assert until == utc(2024, 10, 27, 6, 0)  # 07:00 CET
    assert until - now == timedelta(hours=9)


def test_an_end_the_clock_skips_is_reached_at_the_jump() -> None:
    # 01:30 CET; the clock never reads 02:30 that night, it reads 03:00 at 01:00 UTC.
    now = utc(2024, 3, 31, 0, 30)
    assert quiet_until(now, time(1), time(2, 30), BERLIN) == BERLIN_SPRING


def test_a_repeated_hour_is_quiet_again_on_its_second_pass() -> None:
    start, end = time(1), time(2, 30)
    first_pass = local(BERLIN, 2024, 10, 27, 2, 15, fold=0)  # 00:15 UTC, CEST
    assert quiet_until(first_pass, start, end, BERLIN) == utc(2024, 10, 27, 0, 30)
    after_end = local(BERLIN, 2024, 10, 27, 2, 45, fold=0)
    assert quiet_until(after_end, start, end, BERLIN) is None
    second_pass = local(BERLIN, 2024, 10, 27, 2, 15, fold=1)  # 01:15 UTC, CET
    assert quiet_until(second_pass, start, end, BERLIN) == utc(2024, 10, 27, 1, 30)


def test_quiet_until_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        quiet_until(datetime(2026, 1, 1, 3, 0), time(23), time(7), BAGHDAD)
    with pytest.raises(ValueError, match="different"):
        quiet_until(utc(2026, 1, 1), time(7), time(7), BAGHDAD)


def _naive_quiet_until(now: datetime, start: time, end: time, zone: ZoneInfo) -> datetime | None:
    """Reference: walk minute by minute until the local clock shows a time outside the range."""

    def quiet(moment: datetime) -> bool:
        wall = moment.astimezone(zone).time()
        return start <= wall < end if start < end else wall >= start or wall < end

    if not quiet(now):
        return None
    moment = now
    while quiet(moment):
        moment += timedelta(minutes=1)
    return moment


def test_quiet_until_agrees_with_a_minute_by_minute_walk() -> None:
    rng = random.Random(20240331)
    zones = [BERLIN, NEW_YORK, BAGHDAD, KOLKATA, ZoneInfo("Australia/Lord_Howe")]
    # Around DST changes (where mistakes hide) and at random moments of the year.
    anchors = [BERLIN_SPRING, BERLIN_FALL, utc(2024, 3, 10, 7), utc(2024, 11, 3, 6)]
    anchors += [utc(2024, 4, 7, 15), utc(2024, 10, 6, 16)]  # Lord Howe's half-hour changes
    for _ in range(120):
        zone = rng.choice(zones)
        base = rng.choice(anchors) if rng.random() < 0.7 else utc(2024, 1, 1)
        now = base + timedelta(minutes=rng.randrange(-36 * 60, 36 * 60))
        start = time(rng.randrange(24), rng.choice([0, 15, 30, 45]))
        end = time(rng.randrange(24), rng.choice([0, 15, 30, 45]))
        if start == end:
            continue
        expected = _naive_quiet_until(now, start, end, zone)
        assert quiet_until(now, start, end, zone) == expected, (zone, now, start, end)
