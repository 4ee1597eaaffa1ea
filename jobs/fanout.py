"""Push fan-out: new stories become durable deliveries, sent at Telegram's pace, exactly once.

``Broadcaster`` wires the parts in ``jobs.push`` together and owns their life cycle:

- the *enumerator* (``jobs.push.enumeration``) turns each open broadcast into delivery rows,
  staying only a little ahead of the sender;
- the *claimer* (``jobs.push.claiming``) takes due deliveries, most urgent first, and hands
  them to the workers as messages;
- the *workers* (``jobs.push.sending``) render through one cache (``jobs.push.render_cache``),
  pace every send through one sliding-window limiter, and report outcomes to the *recorder*
  (``jobs.push.recording``), which writes them in small batches every ``flush_interval`` —
  the window in which a crash can cause a duplicate;
- the outlet's channels (``jobs.push.channels``, given at construction) are recipients too.

Nothing here awaits Telegram while a transaction is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from jobs import metrics
from jobs.clients.telegram import BotApiClient
from jobs.push.channels import Channels, ChannelTargets
from jobs.push.claiming import Claimer
from jobs.push.enumeration import Enumerator
from jobs.push.pipeline import Signals, Unit
from jobs.push.recording import Recorder
from jobs.push.render_cache import RenderCache
from jobs.push.sending import Sender
from jobs.push.settings import FanoutSettings, FanoutStats
from jobs.push.wording import PushWording
from news.clock import utcnow
from news.send_rate import SlidingWindowLimiter
from storage import deliveries as queue
from storage import stories as story_store
from storage.deliveries import PUSH
from storage.engine import SessionFactory, writing
from storage.feeds import FeedView
from storage.records import IngestOutcome

__all__ = ["Broadcaster", "ChannelTargets", "FanoutSettings", "FanoutStats"]

log = logging.getLogger(__name__)

# How long stop() lets the sends in flight finish.
STOP_GRACE = 2.0


class Broadcaster:
    """Owns the push pipeline; ``start()`` after the database is ready, ``stop()`` at exit."""

    def __init__(
        self,
        sessions: SessionFactory,
        client: BotApiClient,
        wording: PushWording,
        settings: FanoutSettings,
        *,
        limiter: SlidingWindowLimiter | None = None,
        clock: Callable[[], datetime] = utcnow,
        channels: ChannelTargets | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._limiter = limiter or SlidingWindowLimiter(settings.send_rate)
        metrics.SEND_RATE_LIMIT.set(self._limiter.rate)
        self._clock = clock
        self._signals = Signals()
        self._units: asyncio.Queue[Unit] = asyncio.Queue(maxsize=settings.max_in_flight)
        self.stats = FanoutStats()
        # The outlet's channels (CHANNELS): more recipients of every new story of their edition.
        self.channels = Channels(channels)
        self.recorder = Recorder(sessions, self._signals, clock, settings.flush_interval)
        self.enumerator = Enumerator(sessions, settings, self._signals, clock, self.channels)
        self.claimer = Claimer(
            sessions, self._units, self.recorder, self._signals, self.stats, clock
        )
        self.sender = Sender(
            client,
            self._limiter,
            self._units,
            RenderCache(sessions, wording, settings, self.channels, clock=clock),
            self.recorder,
            self._signals,
            settings,
            self.stats,
            clock,
            self.channels,
        )
        self._loops: list[asyncio.Task[None]] = []
        self._workers: list[asyncio.Task[None]] = []

    # --- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Resume whatever a previous run left: in-flight sends, unqueued stories."""
        # Outcomes a failed stop kept in memory first: a "sent" among them released as in
        # flight below would be sent again.
        await self.recorder.flush()
        await self.recorder.release_stranded()
        now = self._clock()
        async with writing(self._sessions) as session:
            resent = await queue.release_in_flight(session, now)
            pending = await story_store.pending_stories(
                session, since=now - self._settings.push_max_age
            )
            await queue.queue_broadcasts(session, [(s.id, s.breaking) for s in pending], PUSH, now)
        if resent or pending:
            log.info("fan-out resuming: %d in-flight sends, %d stories", resent, len(pending))
        loops = {
            "push-enumerator": self.enumerator.run,
            "push-claimer": self.claimer.run,
            "push-recorder": self.recorder.run,
        }
        self._signals.stopping.clear()
        self._loops = [asyncio.create_task(run(), name=name) for name, run in loops.items()]
        self._workers = [
            asyncio.create_task(self.sender.worker(), name=f"send-worker-{n}")
            for n in range(self._settings.max_in_flight)
        ]
        self._signals.work.set()
        self._signals.due.set()

    async def stop(self) -> None:
        """Stop taking work, let sends in flight finish briefly, record every outcome."""
        # Enumerator, claimer, recorder: no new work from here on. Each ends after the step
        # it is in: a transaction cut in half by a cancel could, on SQLite, keep the write
        # lock from the last flush of outcomes (and a "sent" not recorded is sent again).
        self._signals.stop()
        if self._loops:
            await asyncio.wait(self._loops, timeout=STOP_GRACE)
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        # Claimed messages not yet sent go back to the queue; those in flight get a moment.
        while not self._units.empty():
            self.recorder.report(self._units.get_nowait(), "pending", error="stopped")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.sender.idle.wait(), timeout=STOP_GRACE)
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._loops, self._workers = [], []
        await self.recorder.flush()
        await self.recorder.release_stranded()

    def wake(self) -> None:
        """New broadcasts exist (called after the transaction that created them committed)."""
        self._signals.work.set()

    @property
    def limiter(self) -> SlidingWindowLimiter:
        """The bulk-send limiter (its current rate is shown by /stats)."""
        return self._limiter

    # --- what starts a broadcast ------------------------------------------------------------

    async def handoff(self, feed: FeedView, outcome: IngestOutcome) -> None:
        """Ingestion's hand-off: its broadcasts are committed; start sending them now."""
        log.info(
            "feed=%s hands over %d new stories and %d corrections",
            feed.url,
            len(outcome.new),
            len(outcome.updated),
        )
        self.wake()

    async def push_now(self, story_id: int) -> None:
        """Broadcast one stored story as breaking news (an admin's /breaking)."""
        now = self._clock()
        async with writing(self._sessions) as session:
            await story_store.mark_breaking(session, story_id)
            # A story pushed before keeps its broadcast: enumerate it again, now as breaking
            # news, so that breaking-only chats get it too (the others already have it).
            await queue.reopen_broadcast(session, story_id, now)
        self.wake()
