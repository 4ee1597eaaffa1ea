"""Local wall-clock arithmetic across DST changes, shared by quiet hours and digest times.

Nothing here reads the clock: every function takes the instant and the zone as arguments.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo


def require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")


def _transition(before: datetime, after: datetime, zone: tzinfo) -> datetime:
    """The first instant in (before, after] with the UTC offset in force at ``after``."""
    new_offset = after.astimezone(zone).utcoffset()
    low, high = int(before.timestamp()) - 1, int(after.timestamp()) + 1
    # Offsets change on whole seconds; bisecting a gap of at most a few hours takes ~14 steps.
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == new_offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def wall_clock_reaches(
    day: date, at: time, zone: tzinfo, *, after: datetime | None = None
) -> datetime:
    """The first instant (later than ``after``, if given) at which the local clock reads ``at``.

    On a fall-back night a wall time happens twice: the earlier one wins unless it is not
    later than ``after``. On a spring-forward night a skipped wall time is reached at the jump
    itself, the first instant the clock reads later than ``at``.
    """
    naive = datetime.combine(day, at.replace(tzinfo=None))
    # fold=0 maps a skipped time with the old offset, i.e. past the jump; fold=1 before it.
    first = naive.replace(tzinfo=zone).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) != naive:
        return _transition(second, first, zone)
    if after is None or first > after:
        return first
    return second


# Every UTC offset in use today is a whole number of quarter hours, so every local top of the
# hour falls on a UTC quarter hour: stepping by 15 minutes finds it in a handful of steps,
# across DST changes and in zones such as Asia/Kolkata (+05:30) or Asia/Kathmandu (+05:45).
_QUARTER = timedelta(minutes=15)
_MAX_QUARTERS = 4 * 24


def _floor_quarter(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def _is_local_hour_start(moment: datetime, zone: tzinfo) -> bool:
    local = moment.astimezone(zone)
    return local.minute == 0 and local.second == 0


def next_local_hour(after: datetime, zone: tzinfo) -> datetime:
    step = _floor_quarter(after)
    for _ in range(_MAX_QUARTERS):
        step += _QUARTER
        if _is_local_hour_start(step, zone):
            return step
    raise ValueError(f"{zone} has no whole-hour local times near {after.isoformat()}")


def current_local_hour(now: datetime, zone: tzinfo) -> datetime:
    step = _floor_quarter(now)
    for _ in range(_MAX_QUARTERS):
        if _is_local_hour_start(step, zone):
            return step
        step -= _QUARTER
    raise ValueError(f"{zone} has no whole-hour local times near {now.isoformat()}")
