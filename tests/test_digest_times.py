"""When digests are due and which stories they hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest

from news.digest_times import digest_due, next_digest_at, pick_digest_stories
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

# --- digests ---------------------------------------------------------------------------------


def test_hourly_digest_never_sent_is_due_at_the_current_hour() -> None:
    now = local(BAGHDAD, 2026, 5, 1, 10, 17)
    assert next_digest_at("hourly", None, now, BAGHDAD) == local(BAGHDAD, 2026, 5, 1, 10, 0)
    assert digest_due("hourly", None, now, BAGHDAD)


def test_hourly_digest_follows_the_local_hour() -> None:
    sent = local(BAGHDAD, 2026, 5, 1, 10, 0)
    now = local(BAGHDAD, 2026, 5, 1, 10, 30)
    assert next_digest_at("hourly", sent, now, BAGHDAD) == local(BAGHDAD, 2026, 5, 1, 11, 0)
    assert not digest_due("hourly", sent, now, BAGHDAD)
    assert digest_due("hourly", sent, local(BAGHDAD, 2026, 5, 1, 11, 0), BAGHDAD)
    late = local(BAGHDAD, 2026, 5, 1, 10, 59, 59)
    assert next_digest_at("hourly", late, now, BAGHDAD) == local(BAGHDAD, 2026, 5, 1, 11, 0)


def test_hourly_digest_in_a_half_hour_zone() -> None:
    sent = utc(2026, 5, 1, 4, 40)  # 10:10 in Kolkata (+05:30)
    due = next_digest_at("hourly", sent, sent, KOLKATA)
    assert due == utc(2026, 5, 1, 5, 30)
    assert due.astimezone(KOLKATA).hour == 11


def test_hourly_digest_across_berlin_spring_forward() -> None:
    sent = local(BERLIN, 2024, 3, 31, 1, 0)  # 00:00 UTC
    # The clock goes from 01:59 CET to 03:00 CEST: the next hour starts at the jump.
    assert next_digest_at("hourly", sent, sent, BERLIN) == BERLIN_SPRING
    assert BERLIN_SPRING.astimezone(BERLIN).hour == 3


def test_hourly_digest_across_berlin_fall_back() -> None:
    sent = local(BERLIN, 2024, 10, 27, 2, 0, fold=0)  # 00:00 UTC, CEST
    # 02:00 CET is another top of the hour, one real hour later.
    assert next_digest_at("hourly", sent, sent, BERLIN) == BERLIN_FALL


def test_daily_digest_never_sent() -> None:
    before = local(BAGHDAD, 2026, 5, 1, 7, 30)
    assert next_digest_at("daily", None, before, BAGHDAD) == local(BAGHDAD, 2026, 5, 1, 8, 0)
    assert not digest_due("daily", None, before, BAGHDAD)
    exactly = local(BAGHDAD, 2026, 5, 1, 8, 0)
    assert next_digest_at("daily", None, exactly, BAGHDAD) == exactly
    assert digest_due("daily", None, exactly, BAGHDAD)
    after = local(BAGHDAD, 2026, 5, 1, 8, 1)
    assert next_digest_at("daily", None, after, BAGHDAD) == local(BAGHDAD, 2026, 5, 2, 8, 0)
    assert not digest_due("daily", None, after, BAGHDAD)


def test_daily_digest_after_the_last_one() -> None:
    sent = local(BAGHDAD, 2026, 5, 1, 8, 0, 3)
    now = local(BAGHDAD, 2026, 5, 1, 20, 0)
    assert next_digest_at("daily", sent, now, BAGHDAD) == local(BAGHDAD, 2026, 5, 2, 8, 0)
    early = local(BAGHDAD, 2026, 5, 1, 6, 0)  # e.g. the chat was on hourly until then
    assert next_digest_at("daily", early, now, BAGHDAD) == local(BAGHDAD, 2026, 5, 1, 8, 0)
    assert digest_due("daily", early, now, BAGHDAD)
    evening = local(BAGHDAD, 2026, 5, 1, 21, 0)
    assert next_digest_at("daily", evening, now, BAGHDAD, daily_hour=20) == local(
        BAGHDAD, 2026, 5, 2, 20, 0
    )


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (utc(2024, 3, 30, 7, 0), utc(2024, 3, 31, 6, 0)),  # 08:00 CET → 08:00 CEST
        (utc(2024, 10, 26, 6, 0), utc(2024, 10, 27, 7, 0)),  # 08:00 CEST → 08:00 CET
    ],
)
def test_daily_digest_stays_at_eight_local_across_berlin_dst(
    sent: datetime, expected: datetime
) -> None:
    due = next_digest_at("daily", sent, sent, BERLIN)
    assert due == expected
    assert due.astimezone(BERLIN).time() == time(8)


def test_daily_digest_stays_at_eight_local_across_new_york_dst() -> None:
    sent = local(NEW_YORK, 2026, 3, 7, 8, 0)
    assert next_digest_at("daily", sent, sent, NEW_YORK) == local(NEW_YORK, 2026, 3, 8, 8, 0)
    assert next_digest_at("daily", sent, sent, NEW_YORK) - sent == timedelta(hours=23)


def test_daily_digest_at_an_hour_the_clock_skips_or_repeats() -> None:
    sent = utc(2024, 3, 30, 1, 0)  # 02:00 CET on the Saturday
    assert next_digest_at("daily", sent, sent, BERLIN, daily_hour=2) == BERLIN_SPRING
    # On the fall-back night only the first 02:00 brings a digest. (Compare in UTC: Python
    # never finds an ambiguous local time equal to a time in another zone.)
    first = local(BERLIN, 2024, 10, 27, 2, 0, fold=0).astimezone(UTC)
    assert next_digest_at("daily", None, utc(2024, 10, 26, 20), BERLIN, daily_hour=2) == first
    assert next_digest_at("daily", first, first, BERLIN, daily_hour=2) == local(
        BERLIN, 2024, 10, 28, 2, 0
    )


def test_digest_arguments_are_checked() -> None:
    now = utc(2026, 1, 1)
    with pytest.raises(ValueError, match="hourly, daily"):
        next_digest_at("weekly", None, now, BAGHDAD)
    with pytest.raises(ValueError, match="daily_hour"):
        next_digest_at("daily", None, now, BAGHDAD, daily_hour=24)
    with pytest.raises(ValueError, match="last_sent"):
        next_digest_at("hourly", datetime(2026, 1, 1), now, BAGHDAD)
    with pytest.raises(ValueError, match="now"):
        digest_due("daily", None, datetime(2026, 1, 1), BAGHDAD)


# --- choosing a digest's stories -------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    name: str
    breaking: bool
    at: datetime


def pick(items: list[Item], limit: int = 10) -> list[str]:
    chosen = pick_digest_stories(
        items, limit=limit, key_breaking=lambda item: item.breaking, key_time=lambda item: item.at
    )
    return [item.name for item in chosen]


def test_digest_stories_breaking_first_then_newest() -> None:
    base = utc(2026, 5, 1, 8)
    items = [
        Item("old", False, base),
        Item("old-breaking", True, base),
        Item("new", False, base + timedelta(hours=2)),
        Item("new-breaking", True, base + timedelta(hours=1)),
        Item("mid", False, base + timedelta(hours=1)),
    ]
    assert pick(items) == ["new-breaking", "old-breaking", "new", "mid", "old"]
    assert pick(items, limit=3) == ["new-breaking", "old-breaking", "new"]
    assert pick(items, limit=0) == []
    assert pick([]) == []


def test_digest_stories_compare_instants_and_keep_input_order_on_ties() -> None:
    same = utc(2026, 5, 1, 8)
    items = [
        Item("a", False, same),
        Item("b", False, same.astimezone(BAGHDAD)),
        Item("c", False, local(BAGHDAD, 2026, 5, 1, 12)),  # 09:00 UTC: newest
    ]
    assert pick(items) == ["c", "a", "b"]


def test_digest_stories_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="negative"):
        pick([], limit=-1)
    with pytest.raises(ValueError, match="aware"):
        pick([Item("naive", False, datetime(2026, 5, 1))])
