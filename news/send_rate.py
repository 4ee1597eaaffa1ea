"""Pacing bulk sends the way Telegram counts them: a sliding window per bot, limits per chat."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

__all__ = ["PerChatLimiter", "SlidingWindowLimiter"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
V = TypeVar("V")

# Telegram counts a message when it arrives, not when we decide to send it: network jitter can
# bring two sends closer together than we spaced them. Granting a little after the window has
# passed keeps the count at arrival within the limit for jitter up to this margin.
DEFAULT_MARGIN = 0.010


class SlidingWindowLimiter:
    """At most ``rate`` grants in any interval of ``window`` seconds, first come first served.

    Unlike a token bucket (aiolimiter's, for one) this never lets more than ``rate`` through in
    the first window, so sending at exactly Telegram's limit draws no 429.

    Two ways to take a turn. ``await acquire()`` counts the send from its grant until ``margin``
    later: safe while the delays on the way to Telegram vary by less than the margin. ``async
    with slot():`` around the request counts it from its grant until its answer is back:
    Telegram has counted a request by the time it answers, so no jitter, stall or queue on
    either side can squeeze more than ``rate`` sends into one of its windows. Against the fake
    Bot API at 1,000/s, its 20-50 ms garbage-collection stalls drew 429s with acquire() and a
    10 ms margin, none with slot(). The price of slot() is each request's round trip added to
    its window: nothing on loopback, about 5% at 50 ms from Telegram.
    """

    def __init__(
        self,
        rate: int,
        window: float = 1.0,
        *,
        margin: float = DEFAULT_MARGIN,
        burst: int | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate < 1:
            raise ValueError(f"rate must be at least 1, not {rate}")
        if window <= 0 or margin < 0:
            raise ValueError("window must be positive and margin not negative")
        self.rate = rate
        self.window = window
        self.margin = margin
        self._clock = clock
        self._sleep = sleep
        # The last `rate` grant times, for current_rate().
        self._grants: deque[float] = deque(maxlen=rate)
        self._paused_until = float("-inf")
        # When each recent send stops counting against the window, ascending; plus the slots
        # granted and not yet answered, which count until they are.
        self._counted: deque[float] = deque()
        self._open = 0
        self._slot_closed = asyncio.Event()
        # Grants are also spread evenly (one every window/rate), with at most `burst` of them
        # back to back to catch up after a late wake-up. A whole window's worth at once would
        # be legal, but every message sent and not yet recorded is one a crash would repeat.
        # The default, a twentieth of a window, is one message at 30/s (no burst at all) and
        # 50 ms worth at 1,000/s, where a busy event loop wakes late often enough that a
        # smaller allowance cost 13% of the rate (measured with benchmarks/fanout.py).
        self._gap = window / rate
        self._burst = burst if burst is not None else max(1, rate // 20)
        self._next = float("-inf")
        # asyncio.Lock hands over in FIFO order and a newcomer never overtakes a woken waiter,
        # so holding it while waiting for the window makes the limiter fair.
        self._turn = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one more send fits in the window (and any pause is over), then count it."""
        async with self._turn:
            granted = await self._wait_for_turn()
            self._count_until(granted + self.margin)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Like acquire(), and the send counts until the block ends: put the request inside."""
        async with self._turn:
            await self._wait_for_turn()
            self._open += 1
        try:
            yield
        finally:
            # Counted until now even when the block failed: the request may have gone out.
            self._open -= 1
            self._count_until(self._clock())
            self._slot_closed.set()

    async def _wait_for_turn(self) -> float:
        """With the turn held: wait until a send fits, note its grant and return its time."""
        while True:
            now = self._clock()
            counted = self._counted
            while counted and counted[0] + self.window <= now:
                counted.popleft()
            ready = max(self._paused_until, self._next)
            # How many counted sends must leave the window before one more fits.
            excess = self._open + len(counted) - self.rate + 1
            if excess > len(counted):
                # Every place is held by a request still waiting for its answer.
                self._slot_closed.clear()
                await self._slot_closed.wait()
                continue
            if excess > 0:
                ready = max(ready, counted[excess - 1] + self.window)
            if ready <= now:
                break
            # Re-check after waking: a 429 may have extended the pause meanwhile.
            await self._sleep(ready - now)
        self._grants.append(now)
        self._next = max(self._next, now - self._gap * (self._burst - 1)) + self._gap
        return now

    def _count_until(self, until: float) -> None:
        counted = self._counted
        if not counted or until >= counted[-1]:
            counted.append(until)
        else:
            bisect.insort(counted, until)

    def pause_until(self, deadline: float) -> None:
        """Hold every acquisition until ``deadline`` (on this limiter's clock); never shortens."""
        # Telegram meters per token, so a retry_after from any chat holds the whole bot.
        self._paused_until = max(self._paused_until, deadline)

    def pause(self, seconds: float) -> None:
        """Hold every acquisition for ``seconds`` from now."""
        self.pause_until(self._clock() + seconds)

    @property
    def paused_until(self) -> float | None:
        """When the current pause ends, or None when not paused."""
        return self._paused_until if self._paused_until > self._clock() else None

    @property
    def pause_remaining(self) -> float:
        """Seconds left in the current pause (0 when not paused)."""
        return max(0.0, self._paused_until - self._clock())

    def current_rate(self) -> int:
        """Grants in the last window (for /stats)."""
        horizon = self._clock() - self.window
        count = 0
        for granted in reversed(self._grants):
            if granted <= horizon:
                break
            count += 1
        return count


class PerChatLimiter:
    """Telegram's per-chat limits, as pure bookkeeping: the caller decides when to send.

    A private chat takes at most one message per second, a group at most 20 per rolling minute.
    Chats idle for longer than their window are forgotten, so memory follows the send rate,
    not the audience.
    """

    def __init__(
        self,
        *,
        private_interval: float = 1.0,
        group_limit: int = 20,
        group_window: float = 60.0,
        margin: float = DEFAULT_MARGIN,
    ) -> None:
        if group_limit < 1 or private_interval < 0 or group_window <= 0 or margin < 0:
            raise ValueError("limits must be positive")
        self.private_interval = private_interval
        self.group_limit = group_limit
        self.group_window = group_window
        self.margin = margin
        # chat id -> last send; ordered by last send, so the stale ones are at the front.
        self._private: OrderedDict[int, float] = OrderedDict()
        # chat id -> the group's last `group_limit` sends, ordered by the latest of them.
        self._groups: OrderedDict[int, deque[float]] = OrderedDict()

    def ready_at(self, chat_id: int, is_group: bool, now: float) -> float:
        """The earliest time a message to this chat keeps within its limit (``now`` if free)."""
        if is_group:
            sends = self._groups.get(chat_id)
            if sends is None or len(sends) < self.group_limit:
                return now
            return max(now, sends[0] + self.group_window + self.margin)
        last = self._private.get(chat_id)
        if last is None:
            return now
        return max(now, last + self.private_interval + self.margin)

    def record(self, chat_id: int, is_group: bool, now: float) -> None:
        """Count a message sent to this chat at ``now``."""
        if is_group:
            sends = self._groups.get(chat_id)
            if sends is None:
                sends = self._groups[chat_id] = deque(maxlen=self.group_limit)
            else:
                self._groups.move_to_end(chat_id)
            sends.append(now)
            horizon = now - self.group_window - self.margin
            _forget_before(self._groups, horizon, lambda sends: sends[-1])
        else:
            self._private[chat_id] = now
            self._private.move_to_end(chat_id)
            horizon = now - self.private_interval - self.margin
            _forget_before(self._private, horizon, lambda last: last)

    def __len__(self) -> int:
        """Chats currently remembered."""
        return len(self._private) + len(self._groups)


def _forget_before(chats: OrderedDict[int, V], horizon: float, last: Callable[[V], float]) -> None:
    """Drop chats whose last send is older than ``horizon`` (they no longer limit anything)."""
    while chats:
        chat_id, value = next(iter(chats.items()))
        if last(value) > horizon:
            return
        del chats[chat_id]
