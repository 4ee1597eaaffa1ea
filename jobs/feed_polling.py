"""Feed polling as one piece of background work: every feed on its own timer.

Each feed ticks every ``interval`` on a grid of its own, so a slow feed never delays another;
the first ticks after a start are spread over a second or two so that a restart does not hit
every feed at once. A tick that comes while the feed's previous poll is still running is
skipped (the next one keeps to the grid). At each tick ``FeedPoller.poll_due`` decides from
the feed's due time (back-off, Retry-After, persisted across restarts) whether to fetch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Sequence

from jobs.ingestion import FeedPoller
from storage.feeds import FeedView

log = logging.getLogger(__name__)

# The first polls after a start: feed n at min(n × SPREAD_STEP, SPREAD_MAX) s, plus up to
# SPREAD_JITTER s.
SPREAD_STEP = 0.2
SPREAD_MAX = 2.0
SPREAD_JITTER = 0.2


def first_poll_delays(count: int) -> list[float]:
    """Seconds from the start to each feed's first tick."""
    return [
        min(index * SPREAD_STEP, SPREAD_MAX) + random.uniform(0, SPREAD_JITTER)
        for index in range(count)
    ]


class FeedPolling:
    """Ticks every feed every ``interval`` seconds from ``start()`` until ``stop()``."""

    def __init__(self, poller: FeedPoller, feeds: Sequence[FeedView], interval: float) -> None:
        self.poller = poller
        self.feeds = tuple(feeds)
        self.interval = interval
        self._timers: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    @property
    def running(self) -> bool:
        """Whether the feeds' timers run."""
        return any(not timer.done() for timer in self._timers)

    async def start(self) -> None:
        """Start each feed's timer (its first tick within about two seconds)."""
        if self.running:
            return
        self._stopping.clear()
        delays = first_poll_delays(len(self.feeds))
        self._timers = [
            asyncio.create_task(self._tick(feed, delay), name=f"poll-feed-{feed.id}")
            for feed, delay in zip(self.feeds, delays, strict=True)
        ]

    async def stop(self) -> None:
        """No new polls; the polls under way end at their next safe point
        (``FeedPoller.stop``), and the poller can poll again afterwards."""
        self._stopping.set()
        timers, self._timers = self._timers, []
        # A poll under way (a big feed takes seconds) ends at its next batch, or drops its
        # fetch or parse, instead of holding up a shutdown or a step-down.
        await self.poller.stop()
        if timers:
            await asyncio.gather(*timers, return_exceptions=True)

    async def _tick(self, feed: FeedView, first: float) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + first
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), max(0.0, next_at - loop.time()))
            if self._stopping.is_set():
                return
            try:
                await self.poller.poll_due(feed.id)
            except Exception:  # one feed's trouble must never stop its timer
                log.exception("feed=%s poll failed", feed.url)
            # Ticks missed while the poll ran are skipped, not made up for.
            next_at += self.interval
            behind = loop.time() - next_at
            if behind > 0:
                next_at += math.ceil(behind / self.interval) * self.interval
