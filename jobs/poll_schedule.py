"""When to poll a feed next: pure functions of the interval, the failures and Retry-After."""

from __future__ import annotations

from jobs.retry_after import MAX_RETRY_AFTER


def backoff_delay(interval: float, failures: int, ceiling: float) -> float:
    """Seconds to wait after ``failures`` consecutive failures: doubling from the interval."""
    if failures <= 0:
        return interval
    # Cap the exponent so huge failure counts cannot overflow the float.
    return min(interval * 2.0 ** min(failures, 32), max(ceiling, interval))


def next_poll_delay(
    interval: float, failures: int, ceiling: float, retry_after: float | None = None
) -> float:
    """The back-off delay, never shorter than what the server asked for with Retry-After."""
    delay = backoff_delay(interval, failures, ceiling)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay
