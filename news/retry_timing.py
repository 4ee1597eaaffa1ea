"""How long to wait before trying again: one back-off, one reading of Retry-After.

Every retry in the bot (a feed poll, a push, a comment to the outlet) waits by ``backoff``;
every server that says how long to wait (a feed, the outlet) is read by
``parse_retry_after``. Nothing here reads the clock or draws random numbers: callers pass
the current time and their own draw, so the rules are tested exactly.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# A server asking for more than a day of silence is more likely broken than sincere; a feed
# or the outlet is tried again then anyway.
MAX_RETRY_AFTER = 24 * 3600.0

# Attempts in all, the first send included: with the defaults the last retry comes about two
# minutes after the first failure, long enough to ride out a Bot API restart.
MAX_SEND_ATTEMPTS = 8


def backoff(
    failures: int,
    *,
    first: float,
    cap: float,
    spread: tuple[float, float] = (1.0, 1.0),
    draw: float = 0.0,
) -> float:
    """Seconds to wait after ``failures`` consecutive failures: ``first``, doubling, capped.

    ``spread`` is the range of a jitter factor and ``draw`` (in [0, 1], from the caller's
    ``random.random()``) picks within it: ``(1.0, 0.5)`` shortens by up to half, ``(0.8,
    1.2)`` is ±20 %. Jitter keeps what failed together from retrying together. The result
    never exceeds ``cap``; no failures (zero or fewer) waits ``first``.
    """
    if not 0.0 <= draw <= 1.0:
        raise ValueError("draw must be between 0 and 1")
    # Cap the exponent so a runaway failure count cannot overflow the float.
    delay = min(cap, first * 2.0 ** min(max(failures - 1, 0), 64))
    low, high = spread
    return min(cap, delay * (low + (high - low) * draw))


def next_poll_delay(
    interval: float, failures: int, ceiling: float, retry_after: float | None = None
) -> float:
    """When to poll a feed next: the interval, doubling per failure up to the ceiling (never
    below the interval), and never sooner than a Retry-After the feed sent."""
    delay = backoff(failures + 1, first=interval, cap=max(ceiling, interval))
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from ``now`` (at most a day), or None for a missing or invalid value.

    RFC 9110: ``120`` is seconds (ASCII digits only: "1.5", "-5" and "1e12" are not the
    header's grammar); anything else must be an HTTP date, a date already past meaning "now".
    A date without a zone ("-0000" says UTC with no local time) is read as UTC.
    """
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)
