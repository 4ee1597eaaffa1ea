"""When a reader's quiet hours end, in their local time (the range itself is parsed in bot/)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from news.local_time import require_aware, wall_clock_reaches


def quiet_until(now: datetime, start: time, end: time, zone: ZoneInfo) -> datetime | None:
    """When the quiet period ``now`` falls in ends, as an aware UTC datetime; None outside it.

    The range is in local wall-clock time and may cross midnight (23:00–07:00); ``start`` is
    inside, ``end`` is not. Across a DST change the period ends when the local clock reads
    ``end`` (or jumps past it), so a fall-back night is an hour longer and a spring-forward
    night an hour shorter.
    """
    require_aware(now, "now")
    if start == end:
        raise ValueError("quiet hours need different start and end times")
    local = now.astimezone(zone)
    wall = local.time()
    today = local.date()
    if start < end:
        if not start <= wall < end:
            return None
        end_day = today
    elif wall >= start:
        end_day = today + timedelta(days=1)
    elif wall < end:
        end_day = today
    else:
        return None
    return wall_clock_reaches(end_day, end, zone, after=now)
