"""Retry-After, read one way for every server that sends it (feeds, the outlet): RFC 9110's
delay-seconds (digits only) or an HTTP date, as seconds from now, capped at a day."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# A server asking for more than a day of silence is more likely broken than sincere; a feed
# or the outlet is tried again then anyway.
MAX_RETRY_AFTER = 24 * 3600.0


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from ``now`` (at most a day), or None for a missing or invalid value.

    ``120`` is seconds (ASCII digits only: "1.5", "-5" and "1e12" are not the header's
    grammar); anything else must be an HTTP date, a date already past meaning "now". A date
    without a zone ("-0000" says UTC with no local time) is read as UTC.
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
