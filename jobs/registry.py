"""Every piece of background work, listed in one place, and the one runner that starts it.

``background_work`` lists each piece with an id, its schedule (an APScheduler trigger for a
job, or a long-running loop), and whether only the leader runs it. ``BackgroundRunner``
starts the work every instance does at start, competes for the leadership, starts the
leader's work when elected and stops it (in reverse) when it steps down or exits. Nothing
else in the project starts background work; a component started here may run its own
internal tasks (the broadcaster's send workers, the relay's POSTs).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from jobs.admin_alerts import AlertMonitor
from jobs.comment_relay import CommentRelay
from jobs.digests import DigestSender
from jobs.fanout import Broadcaster
from jobs.feed_polling import FeedPolling
from jobs.leadership import Leadership
from jobs.maintenance import compact_deliveries, housekeeping
from jobs.retired_sections import RetiredSectionNotices
from news.clock import utcnow
from storage.engine import SessionFactory

log = logging.getLogger(__name__)

# How often the moderators' cards a crash left unsent are looked for (and first after start).
MODERATION_CARDS_INTERVAL = 60.0
# How often every instance checks the outlet's channels (a failed post checks them at once).
CHANNEL_CHECK_INTERVAL = 300.0


class Loop(Protocol):
    """Long-running work: runs from ``start()`` (which returns promptly) until ``stop()``."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    """A job the scheduler runs on ``trigger``: one instance at a time, missed runs
    coalesced."""

    id: str
    what: str
    leader_only: bool
    run: Callable[[], Awaitable[object]]
    trigger: BaseTrigger
    # The first run this long after the job is added (else the trigger's first time).
    first_run_in: timedelta | None = None


@dataclass(frozen=True, slots=True)
class LongRunning:
    """A loop or server the runner starts and stops."""

    id: str
    what: str
    leader_only: bool
    loop: Loop


Work = ScheduledJob | LongRunning


class Once:
    """Work done once each time it is started (the leader's, at each election)."""

    def __init__(self, run: Callable[[], Awaitable[object]]) -> None:
        self._run = run

    async def start(self) -> None:
        await self._run()

    async def stop(self) -> None:
        return None


class PushFanout:
    """The broadcaster, as the leader starts it."""

    def __init__(self, broadcaster: Broadcaster) -> None:
        self._broadcaster = broadcaster

    async def start(self) -> None:
        limiter = self._broadcaster.limiter
        # Telegram meters the bot, not the instance: a leader that just died may have used
        # up the current window, so the new one waits one window before its first send.
        limiter.pause(limiter.window)
        await self._broadcaster.start()

    async def stop(self) -> None:
        await self._broadcaster.stop()


@dataclass(frozen=True, slots=True)
class BackgroundParts:
    """What the background work is made of, as the composition root built it."""

    sessions: SessionFactory
    feed_polling: FeedPolling
    comment_window: timedelta
    retention: timedelta
    broadcaster: Broadcaster | None = None  # None without pushes: no fan-out, digests, alerts
    digests: DigestSender | None = None
    alerts: AlertMonitor | None = None
    notices: RetiredSectionNotices | None = None
    relay: CommentRelay | None = None  # None without COMMENTS_URL
    # The outlet's events (HOOKS_PORT or COMMENTS_FEED_URL): the inbox that processes them,
    # the comments feed's poller, and the listener that accepts them.
    outlet_inbox: Loop | None = None
    comments_feed: Loop | None = None
    hooks_server: Loop | None = None
    # WebSub (PUBLIC_URL): subscribing, renewing and unsubscribing at the feeds' hubs.
    websub: Loop | None = None
    # The moderators' cards a crash left unsent (with comments on and a moderation chat).
    moderation_cards: Callable[[], Awaitable[object]] | None = None
    ops_server: Loop | None = None  # METRICS_PORT
    # Check the outlet's channels (CHANNELS): may the bot post, which discussion groups.
    channel_check: Callable[[], Awaitable[object]] | None = None
    telegram_webhook: Loop | None = None  # WEBHOOK_URL
    telegram_polling: Loop | None = None  # long polling (without WEBHOOK_URL)


async def _prune(
    sessions: SessionFactory, comment_window: timedelta, retention: timedelta
) -> None:
    await housekeeping(sessions, comment_window=comment_window, retention_period=retention)


def background_work(parts: BackgroundParts) -> list[Work]:
    """Every piece of background work, in start order (stopped in reverse)."""
    work: list[Work] = []
    # Every instance: the operators' endpoint, Telegram's webhook (behind a load balancer
    # every instance takes updates), and the comment relay (the outbox is claimed row by row).
    if parts.ops_server is not None:
        work.append(LongRunning("ops-server", "/healthz and /metrics", False, parts.ops_server))
    if parts.telegram_webhook is not None:
        work.append(
            LongRunning(
                "telegram-webhook",
                "take Telegram's updates as webhook POSTs",
                False,
                parts.telegram_webhook,
            )
        )
    # Every instance checks the channels, first before anything posts (the fan-out posts only
    # to channels found fine), and learns their discussion groups (any may take their updates).
    if parts.channel_check is not None:
        work.append(
            LongRunning(
                "check-channels-at-start",
                "check the outlet's channels before the first post",
                False,
                Once(parts.channel_check),
            )
        )
        work.append(
            ScheduledJob(
                "check-channels",
                f"check the outlet's channels every {CHANNEL_CHECK_INTERVAL:g} s",
                False,
                parts.channel_check,
                IntervalTrigger(seconds=CHANNEL_CHECK_INTERVAL),
                first_run_in=timedelta(seconds=CHANNEL_CHECK_INTERVAL),
            )
        )
    if parts.relay is not None:
        work.append(
            LongRunning(
                "comment-relay", "relay readers' comments to the outlet", False, parts.relay
            )
        )
    # Every instance takes the outlet's events: the inbox is in the database and its rows are
    # claimed, and instances take turns polling the comments feed. Processing starts first so
    # that what is accepted is processed at once.
    if parts.outlet_inbox is not None:
        work.append(
            LongRunning(
                "outlet-inbox",
                "process the outlet's events from the inbox",
                False,
                parts.outlet_inbox,
            )
        )
    if parts.comments_feed is not None:
        work.append(
            LongRunning(
                "comments-feed",
                "poll the outlet's feed of published comments",
                False,
                parts.comments_feed,
            )
        )
    if parts.hooks_server is not None:
        work.append(
            LongRunning(
                "outlet-hooks", "accept the outlet's signed events", False, parts.hooks_server
            )
        )
    # The leader only, or every instance would do it again. The fan-out first, so that it
    # stops last: polls and digests hand it stories until they stop.
    if parts.broadcaster is not None:
        work.append(LongRunning("push-fanout", "send pushes", True, PushFanout(parts.broadcaster)))
    work.append(
        LongRunning(
            "poll-feeds",
            f"poll every feed every {parts.feed_polling.interval:g} s",
            True,
            parts.feed_polling,
        )
    )
    # After polling: the first polls tell which hubs the feeds advertise.
    if parts.websub is not None:
        work.append(
            LongRunning(
                "websub-subscriptions",
                "subscribe at the hubs feeds advertise, renew before leases end, unsubscribe",
                True,
                parts.websub,
            )
        )
    if parts.notices is not None:
        work.append(
            ScheduledJob(
                "retired-section-notices",
                "tell chats once that sections they follow are no longer offered",
                True,
                parts.notices.send_due,
                IntervalTrigger(hours=1),
                # Not at once: an operator who upgraded without SECTIONS has a few minutes to
                # notice the warning and restart with it before any reader is told.
                first_run_in=timedelta(minutes=5),
            )
        )
    if parts.digests is not None:
        work.append(
            ScheduledJob(
                "send-digests",
                "send due digests (each reader's own hour decides)",
                True,
                parts.digests.send_due,
                IntervalTrigger(minutes=5),
                first_run_in=timedelta(seconds=30),
            )
        )
    if parts.broadcaster is not None:
        sessions, window, retention = parts.sessions, parts.comment_window, parts.retention
        work.append(
            ScheduledJob(
                "housekeeping",
                "prune delivery records past the comment window, old channel threads and "
                "data past retention",
                True,
                lambda: _prune(sessions, window, retention),
                CronTrigger(hour=3, minute=30, timezone="UTC"),
            )
        )
        work.append(
            ScheduledJob(
                "compact-deliveries",
                "compact finished deliveries into their narrow records and daily tallies",
                True,
                lambda: compact_deliveries(sessions),
                IntervalTrigger(minutes=5),
                first_run_in=timedelta(minutes=1),
            )
        )
    if parts.alerts is not None:
        work.append(
            ScheduledJob(
                "admin-alerts",
                "tell the admins about trouble, once per change",
                True,
                parts.alerts.check,
                IntervalTrigger(minutes=1),
                first_run_in=timedelta(seconds=20),
            )
        )
    if parts.moderation_cards is not None:
        work.append(
            ScheduledJob(
                "resend-moderation-cards",
                "send the moderators' cards a crash left unsent",
                True,
                parts.moderation_cards,
                IntervalTrigger(seconds=MODERATION_CARDS_INTERVAL),
                first_run_in=timedelta(seconds=MODERATION_CARDS_INTERVAL),
            )
        )
    if parts.notices is not None:
        work.append(
            LongRunning(
                "warn-retired-sections",
                "warn the operator about sections no longer offered",
                True,
                Once(parts.notices.warn_operator),
            )
        )
    # Telegram allows one getUpdates caller per token; the others would only fight with 409.
    if parts.telegram_polling is not None:
        work.append(
            LongRunning(
                "telegram-polling", "fetch Telegram's updates", True, parts.telegram_polling
            )
        )
    return work


async def _run_job(run: Callable[[], Awaitable[object]]) -> None:
    # A coroutine function of our own, so the scheduler awaits it whatever ``run`` is.
    await run()


class BackgroundRunner:
    """Starts and stops the listed work: the every-instance work at ``start()``, the
    leader's work when this instance is elected, and everything in reverse order when it
    steps down or at ``stop()``."""

    def __init__(
        self, work: Sequence[Work], scheduler: BaseScheduler, leadership: Leadership
    ) -> None:
        ids = [item.id for item in work]
        if len(ids) != len(set(ids)):
            raise ValueError(f"background work ids must be unique: {ids}")
        self.work = tuple(work)
        self._scheduler = scheduler
        self._leadership = leadership
        self._everywhere: list[Work] = []  # started, in order
        self._leading: list[Work] = []

    def running_ids(self) -> list[str]:
        """The ids of the work running now, in start order."""
        return [item.id for item in (*self._everywhere, *self._leading)]

    async def start(self) -> None:
        """Start every instance's work, then compete for the leadership (in the background)."""
        await self._start([w for w in self.work if not w.leader_only], self._everywhere)
        await self._leadership.start(on_elected=self._lead, on_lost=self._step_down)

    async def stop(self) -> None:
        """Step down (stopping the leader's work), free the lock, stop the rest."""
        await self._leadership.stop()
        await self._stop(self._everywhere)

    async def _lead(self) -> None:
        await self._start([w for w in self.work if w.leader_only], self._leading)

    async def _step_down(self) -> None:
        await self._stop(self._leading)

    async def _start(self, work: list[Work], started: list[Work]) -> None:
        for item in work:
            if isinstance(item, ScheduledJob):
                self._add_job(item)
            else:
                await item.loop.start()
            started.append(item)

    async def _stop(self, started: list[Work]) -> None:
        while started:
            item = started.pop()
            try:
                if isinstance(item, ScheduledJob):
                    if self._scheduler.get_job(item.id) is not None:
                        self._scheduler.remove_job(item.id)
                else:
                    await item.loop.stop()
            except Exception:  # one piece failing to stop must not keep the others running
                log.exception("background work %s did not stop cleanly", item.id)

    def _add_job(self, job: ScheduledJob) -> None:
        options: dict[str, object] = {}
        if job.first_run_in is not None:
            options["next_run_time"] = utcnow() + job.first_run_in
        self._scheduler.add_job(
            _run_job,
            trigger=job.trigger,
            args=[job.run],
            id=job.id,
            name=job.what,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            **options,
        )
