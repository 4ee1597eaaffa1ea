"""Sliding-window flood control, the shape of Telegram's 429 "retry after N" answers."""

from __future__ import annotations

import math
from collections import deque

__all__ = ["SlidingWindow"]


class SlidingWindow:
    """At most ``limit`` events in any ``window`` seconds; O(1) amortised per check."""

    __slots__ = ("_times", "limit", "window")

    def __init__(self, limit: float, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def _expire(self, now: float) -> None:
        times = self._times
        horizon = now - self.window
        while times and times[0] <= horizon:
            times.popleft()

    def retry_after(self, now: float) -> int:
        """0 when an event may happen now, else whole seconds to wait (at least 1)."""
        self._expire(now)
        if len(self._times) < self.limit:
            return 0
        # The event that has to leave the window before another one fits.
        index = len(self._times) - math.ceil(self.limit)
        oldest = self._times[max(index, 0)]
        return max(1, math.ceil(oldest + self.window - now))

    def record(self, now: float) -> int:
        """Count an event; returns how many events the current window now holds."""
        self._expire(now)
        self._times.append(now)
        return len(self._times)

    def __len__(self) -> int:
        return len(self._times)
