"""When a chat's digest is due, and which stories it holds: pure, clock-free rules."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from news.local_time import current_local_hour, next_local_hour, require_aware, wall_clock_reaches

T = TypeVar("T")

DIGEST_MODES = ("hourly", "daily")


def next_digest_at(
    mode: str,
    last_sent: datetime | None,
    now: datetime,
    zone: ZoneInfo,
    daily_hour: int = 8,
) -> datetime:
    """When a chat's next digest is due, as an aware UTC datetime (possibly already past).

    Hourly: the first local top of the hour after ``last_sent``; never sent, the top of the
    current hour (so it is due at once). Daily: the first ``daily_hour``:00 local after
    ``last_sent``, at most one per local date; never sent, today's unless it has passed,
    else tomorrow's. Times follow the local clock across DST changes. After an outage the
    result may lie well in the past: the missed digest is due now, whatever the local hour.
    """
    require_aware(now, "now")
    if last_sent is not None:
        require_aware(last_sent, "last_sent")
    if mode == "hourly":
        if last_sent is None:
            return current_local_hour(now, zone)
        return next_local_hour(last_sent, zone)
    if mode != "daily":
        raise ValueError(f"digest mode must be one of {', '.join(DIGEST_MODES)}, not {mode!r}")
    if not 0 <= daily_hour <= 23:
        raise ValueError("daily_hour goes from 0 to 23")
    at = time(daily_hour)
    # One occurrence per local date (the first, on a fall-back night), so a repeated hour never
    # brings a second daily digest.
    if last_sent is None:
        today = now.astimezone(zone).date()
        due = wall_clock_reaches(today, at, zone)
        if due >= now:
            return due
        return wall_clock_reaches(today + timedelta(days=1), at, zone)
    day = last_sent.astimezone(zone).date()
    due = wall_clock_reaches(day, at, zone)
    if due <= last_sent:
        due = wall_clock_reaches(day + timedelta(days=1), at, zone)
    return due


def digest_due(
    mode: str,
    last_sent: datetime | None,
    now: datetime,
    zone: ZoneInfo,
    daily_hour: int = 8,
) -> bool:
    """Whether a chat's digest should go out at ``now``."""
    return now >= next_digest_at(mode, last_sent, now, zone, daily_hour)


def pick_digest_stories(
    stories: Sequence[T],
    *,
    limit: int = 10,
    key_breaking: Callable[[T], bool],
    key_time: Callable[[T], datetime],
) -> list[T]:
    """At most ``limit`` stories for a digest: breaking ones first, then newest first.

    Ties keep the input order. ``key_time`` must return aware datetimes.
    """
    if limit < 0:
        raise ValueError("limit must not be negative")

    def rank(item: tuple[int, T]) -> tuple[bool, float, int]:
        index, story = item
        when = key_time(story)
        require_aware(when, "key_time(story)")
        return (not key_breaking(story), -when.timestamp(), index)

    return [story for _, story in heapq.nsmallest(limit, enumerate(stories), key=rank)]
