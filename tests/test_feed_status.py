"""A 304 Not Modified is a success: the stored last success of a healthy feed answering 304 stays
true (refreshed once a minute, not on every poll), for the dead-feed alert, the metrics and
/stats (tests/e2e/test_feed_status.py), on both engines and across a change of leader."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from prometheus_client.core import REGISTRY
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from jobs import metrics
from jobs.admin_alerts import AlertMonitor
from jobs.clients.feeds import create_feed_session
from jobs.ingestion import SUCCESS_REFRESH, FeedPoller, PollSettings
from news.admin_alerts import FEED_FAILING, AdminAlert
from storage import feeds as feed_store
from storage.engine import SessionFactory, writing
from storage.feeds import FeedView
from tests.auxil.feed_server import FeedServer, Reply
from tests.auxil.feeds import rss, rudaw_items

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
INTERVAL = 2.0  # a feed polled every 2 s, as in the issue


class Clock:
    """The pollers' and the alert monitor's now, moved by the test."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Writes:
    """The INSERT/UPDATE/DELETE statements sent to the database while active."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            self.statements.append(" ".join(statement.split()))

    def __enter__(self) -> Writes:
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine.sync_engine, "before_cursor_execute", self._on_execute)


@pytest.fixture
async def feed_http() -> AsyncIterator[aiohttp.ClientSession]:
    """The feeds' HTTP session, as the bot makes it."""
    session = create_feed_session("newsbot-tests/1.0", concurrency=4)
    try:
        yield session
    finally:
        await session.close()


def poller(sessions: SessionFactory, http: aiohttp.ClientSession, clock: Clock) -> FeedPoller:
    """A poller as an instance that just became leader has one: nothing in memory."""
    settings = PollSettings(
        interval=INTERVAL,
        max_backoff=3600.0,
        push_max_age=6 * 3600.0,
        fetch_timeout=5.0,
        max_bytes=1_000_000,
    )
    return FeedPoller(sessions, http, settings, clock=clock)


async def healthy_feed(
    sessions: SessionFactory, server: FeedServer, clock: Clock, poll: FeedPoller
) -> int:
    """A feed polled once successfully (200) at ``clock``; it answers 304 from then on."""
    server.serve("/rss", rss(rudaw_items(3, now=clock.now)))
    async with writing(sessions) as session:
        [feed] = await feed_store.register_feeds(
            session, [(server.url("/rss"), None, "en")], clock.now
        )
    assert (await poll.poll(feed.id)).status == "ok"
    return feed.id


async def state(sessions: SessionFactory, feed_id: int) -> FeedView:
    async with sessions() as session:
        feed = await feed_store.get_feed(session, feed_id)
    assert feed is not None
    return feed


async def test_a_304_refreshes_last_success_once_a_minute_not_on_every_poll(
    sessions: SessionFactory, feed_http: aiohttp.ClientSession, feed_server: FeedServer
) -> None:
    clock = Clock()
    poll = poller(sessions, feed_http, clock)
    feed_id = await healthy_feed(sessions, feed_server, clock, poll)
    engine = sessions.kw["bind"]

    # Within the minute: 304s, and not a single write.
    with Writes(engine) as writes:
        for _ in range(29):
            clock.advance(INTERVAL)
            assert (await poll.poll(feed_id)).status == "not-modified"
    assert writes.statements == []
    assert (await state(sessions, feed_id)).last_success_at == NOW

    # A minute after the last stored success: one UPDATE of the feed's row, nothing else.
    clock.advance(INTERVAL)
    assert clock.now - NOW == SUCCESS_REFRESH
    with Writes(engine) as writes:
        assert (await poll.poll(feed_id)).status == "not-modified"
    assert len(writes.statements) == 1
    assert writes.statements[0].startswith("UPDATE feed SET last_attempt_at=")
    feed = await state(sessions, feed_id)
    assert (feed.last_success_at, feed.last_attempt_at) == (clock.now, clock.now)
    assert (feed.consecutive_failures, feed.last_error) == (0, None)
    assert feed.etag is not None  # the validators stay: the next request is conditional again

    # Ten minutes of 304s every 2 s: ten writes, and the stored last success is never a
    # minute old.
    oldest = timedelta(0)
    with Writes(engine) as writes:
        for _ in range(300):
            clock.advance(INTERVAL)
            await poll.poll(feed_id)
            stored = (await state(sessions, feed_id)).last_success_at
            assert stored is not None
            oldest = max(oldest, clock.now - stored)
    assert oldest < SUCCESS_REFRESH
    assert len(writes.statements) == 10
    assert feed_server.hits("/rss") == 1 + 30 + 300


async def test_a_new_leader_keeps_last_success_true_without_anything_in_memory(
    sessions: SessionFactory, feed_http: aiohttp.ClientSession, feed_server: FeedServer
) -> None:
    clock = Clock()
    old_leader = poller(sessions, feed_http, clock)
    feed_id = await healthy_feed(sessions, feed_server, clock, old_leader)
    clock.advance(3 * 60)  # the old leader died; the new one polls its first 304
    new_leader = poller(sessions, feed_http, clock)
    assert (await new_leader.poll(feed_id)).status == "not-modified"
    assert (await state(sessions, feed_id)).last_success_at == clock.now


async def test_a_feed_healthy_on_304s_for_hours_is_not_reported_dead_at_its_first_failure(
    sessions: SessionFactory, feed_http: aiohttp.ClientSession, feed_server: FeedServer
) -> None:
    clock = Clock()
    poll = poller(sessions, feed_http, clock)
    feed_id = await healthy_feed(sessions, feed_server, clock, poll)
    alerts: list[AdminAlert] = []

    async def send(alert: AdminAlert) -> None:
        alerts.append(alert)

    monitor = AlertMonitor(sessions, send, clock=clock)
    clock.advance(3 * 3600)  # three hours of 304s (the last of them now)
    assert (await poll.poll(feed_id)).status == "not-modified"
    assert await monitor.check() == []

    feed_server.script("/rss", *[Reply(503, b"down")] * 100)
    clock.advance(60)
    assert (await poll.poll(feed_id)).status == "failed"
    # Failing for a minute, not "for three hours": no alert yet.
    assert await monitor.check() == []
    clock.advance(3600)
    assert (await poll.poll(feed_id)).status == "failed"
    [alert] = await monitor.check()
    assert alert.code == FEED_FAILING
    assert alert.params["minutes"] == 61
    assert alerts == [alert]


async def test_metrics_count_a_304_as_a_success(
    sessions: SessionFactory, feed_http: aiohttp.ClientSession, feed_server: FeedServer
) -> None:
    # Scrapes read the real clock: the feed's last 200 was ten minutes before it.
    clock = Clock()
    clock.now = datetime.now(UTC) - timedelta(minutes=10)
    poll = poller(sessions, feed_http, clock)
    feed_id = await healthy_feed(sessions, feed_server, clock, poll)
    await metrics.refresh(sessions, metrics.ScrapeState())
    stale = REGISTRY.get_sample_value("newsbot_feed_oldest_success_seconds")
    assert stale is not None and stale >= 10 * 60
    assert REGISTRY.get_sample_value("newsbot_feeds_failing") == 0

    clock.now = datetime.now(UTC)
    assert (await poll.poll(feed_id)).status == "not-modified"
    await metrics.refresh(sessions, metrics.ScrapeState())
    fresh = REGISTRY.get_sample_value("newsbot_feed_oldest_success_seconds")
    assert fresh is not None and fresh < SUCCESS_REFRESH.total_seconds()

    feed_server.script("/rss", Reply(500, b"oops"))
    assert (await poll.poll(feed_id)).status == "failed"
    await metrics.refresh(sessions, metrics.ScrapeState())
    assert REGISTRY.get_sample_value("newsbot_feeds_failing") == 1
