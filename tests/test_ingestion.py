"""Polling feeds end to end: FeedPoller against the local feed server, on both engines.

Also the pure pieces of ingestion: the poll schedule, sections, and job registration.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from jobs.clients.feeds import create_feed_session
from jobs.feed_polling import SPREAD_JITTER, SPREAD_MAX, FeedPolling, first_poll_delays
from jobs.ingestion import FeedPoller, PollReport, PollSettings
from jobs.parse_process import CHILD_PROCESS_BYTES
from news.feed_parsing import parse_feed
from news.retry_timing import MAX_RETRY_AFTER, next_poll_delay
from news.sections import (
    MAX_SLUG_BYTES,
    category_sections,
    fold_name,
    section_slug,
    sections_for_item,
)
from news.story_draft import StoryDraft
from storage import deliveries as delivery_store
from storage import feeds as feed_store
from storage import stories as story_store
from storage.engine import SessionFactory, writing
from storage.feeds import FeedView
from storage.models import Section, Story, StorySection
from storage.records import IngestOutcome, StoryView
from tests.auxil.feed_server import FeedServer, Reply
from tests.auxil.rss_items import Item, rss

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
INTERVAL = 2.0
LOGGER = "jobs.ingestion"


# --- building blocks --------------------------------------------------------------------------


class Clock:
    """The poller's notion of now, moved by the test."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        self.now = moment


class RunningClock(Clock):
    """A clock that moves a little on every reading, as real time does between two reads."""

    def __init__(self, start: datetime = NOW, step: float = 0.005) -> None:
        super().__init__(start)
        self.step = timedelta(seconds=step)

    def __call__(self) -> datetime:
        moment = self.now
        self.now += self.step
        return moment


class Handoff:
    """Records every hand-off the poller makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[FeedView, IngestOutcome]] = []

    async def __call__(self, feed: FeedView, outcome: IngestOutcome) -> None:
        self.calls.append((feed, outcome))

    @property
    def new_titles(self) -> list[list[str]]:
        return [[s.title for s in outcome.new] for _, outcome in self.calls]


def poll_settings(**overrides: Any) -> PollSettings:
    values: dict[str, Any] = {
        "interval": INTERVAL,
        "max_backoff": 60.0,
        "push_max_age": 6 * 3600.0,
        "fetch_timeout": 2.0,
        "max_bytes": 256 * 1024,
    }
    values.update(overrides)
    return PollSettings(**values)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    session = create_feed_session("newsbot-tests/1.0", concurrency=8)
    try:
        yield session
    finally:
        await session.close()


@dataclass
class Rig:
    """A poller wired to a database, the feed server, a clock and a recording hand-off."""

    sessions: SessionFactory
    server: FeedServer
    http: aiohttp.ClientSession
    clock: Clock
    handoff: Handoff
    poller: FeedPoller

    async def add_feed(self, path: str, section: str | None = None) -> int:
        async with writing(self.sessions) as session:
            [feed] = await feed_store.register_feeds(
                session, [(self.server.url(path), section, "en")], self.clock()
            )
        return feed.id

    async def feed(self, feed_id: int) -> FeedView:
        async with self.sessions() as session:
            feed = await feed_store.get_feed(session, feed_id)
        assert feed is not None
        return feed

    async def stories(self) -> list[Story]:
        async with self.sessions() as session:
            rows = (await session.exec(select(Story).order_by(col(Story.id)))).all()
        return list(rows)

    async def latest(self, section: str | None = None) -> list[StoryView]:
        async with self.sessions() as session:
            return await story_store.latest_stories(session, limit=50, section=section)

    def another_poller(self, **overrides: Any) -> FeedPoller:
        return FeedPoller(
            self.sessions,
            self.http,
            poll_settings(**overrides),
            handoff=self.handoff,
            clock=self.clock,
        )


@pytest.fixture
def make_rig(
    sessions: SessionFactory, feed_server: FeedServer, http: aiohttp.ClientSession
) -> Callable[..., Rig]:
    def build(clock: Clock | None = None, **overrides: Any) -> Rig:
        clock = clock or Clock()
        handoff = Handoff()
        poller = FeedPoller(
            sessions, http, poll_settings(**overrides), handoff=handoff, clock=clock
        )
        return Rig(sessions, feed_server, http, clock, handoff, poller)

    return build


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


class WriteCounter:
    """Counts INSERT/UPDATE/DELETE statements sent to the database while active."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.writes: list[str] = []

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if verb in ("INSERT", "UPDATE", "DELETE"):
            self.writes.append(statement)

    def __enter__(self) -> WriteCounter:
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine.sync_engine, "before_cursor_execute", self._on_execute)


def warnings_from(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING
    ]


def infos_from(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.INFO
    ]


BACKLOG = [Item("1", minutes_ago=90), Item("2", minutes_ago=60), Item("3", minutes_ago=30)]


# --- the happy path ---------------------------------------------------------------------------


async def test_first_poll_is_backlog_and_nothing_is_handed_off(rig: Rig) -> None:
    rig.server.serve("/rss", rss(BACKLOG, title="Rudaw English"))
    feed_id = await rig.add_feed("/rss", "world")

    report = await rig.poller.poll(feed_id)

    assert report.status == "ok"
    assert report.outcome.new == ()
    assert sorted(s.title for s in report.outcome.backlog) == ["Story 1", "Story 2", "Story 3"]
    assert rig.handoff.calls == []
    feed = await rig.feed(feed_id)
    assert feed.initialized
    assert feed.title == "Rudaw English"
    assert feed.etag is not None
    assert feed.last_modified is not None
    assert feed.last_success_at == NOW
    assert {s.push_state for s in await rig.stories()} == {"none"}
    assert [s.title for s in await rig.latest("world")] == ["Story 3", "Story 2", "Story 1"]


async def test_an_empty_first_poll_is_a_baseline_and_the_first_story_is_news(rig: Rig) -> None:
    # A newly launched section: its feed answers empty at first, and its first story,
    # dated a few minutes before it reaches the feed, must reach readers.
    rig.server.serve("/rss", rss([]))
    feed_id = await rig.add_feed("/rss", "world")
    assert (await rig.poller.poll(feed_id)).status == "ok"
    feed = await rig.feed(feed_id)
    assert (feed.initialized, feed.empty_baseline_at) == (True, NOW)

    rig.clock.advance(3 * 3600)
    rig.server.serve("/rss", rss([Item("launch", minutes_ago=-3 * 60 + 5)]))
    report = await rig.poller.poll(feed_id)
    assert [s.title for s in report.outcome.new] == ["Story launch"]
    assert rig.handoff.new_titles == [["Story launch"]]
    assert {s.title: s.push_state for s in await rig.stories()} == {"Story launch": "queued"}


async def test_an_empty_then_full_feed_pushes_only_the_recent_stories(rig: Rig) -> None:
    # A CMS that serves an empty feed for a moment and then the full one must not blast
    # hours of old stories: those published well before the empty baseline are backlog.
    rig.server.serve("/rss", rss([]))
    feed_id = await rig.add_feed("/rss", "world")
    assert (await rig.poller.poll(feed_id)).status == "ok"

    rig.server.serve(
        "/rss",
        rss(
            [
                *BACKLOG,  # 90, 60 and 30 minutes before the baseline
                Item("recent", minutes_ago=5),  # within the grace before the baseline
                Item("undated", dated=False),
            ]
        ),
    )
    rig.clock.advance(INTERVAL)
    report = await rig.poller.poll(feed_id)
    assert sorted(s.title for s in report.outcome.new) == ["Story recent", "Story undated"]
    assert sorted(s.title for s in report.outcome.backlog) == ["Story 1", "Story 2", "Story 3"]
    # Handed on together, so that fan-out groups them for each reader as usual.
    assert [sorted(titles) for titles in rig.handoff.new_titles] == [
        ["Story recent", "Story undated"]
    ]
    states = {r.title: r.push_state for r in await rig.stories()}
    assert states == {
        "Story 1": "none",
        "Story 2": "none",
        "Story 3": "none",
        "Story recent": "queued",
        "Story undated": "queued",
    }


async def test_new_item_on_next_poll_is_handed_off_exactly_once(rig: Rig) -> None:
    rig.server.serve("/rss", rss(BACKLOG))
    feed_id = await rig.add_feed("/rss", "world")
    await rig.poller.poll(feed_id)

    rig.server.serve("/rss", rss([*BACKLOG, Item("4", minutes_ago=1)]))
    rig.clock.advance(INTERVAL)
    report = await rig.poller.poll_due(feed_id)

    assert report is not None
    assert report.status == "ok"
    assert [s.title for s in report.outcome.new] == ["Story 4"]
    assert report.outcome.unchanged == 3
    assert len(rig.handoff.calls) == 1
    feed, outcome = rig.handoff.calls[0]
    assert feed.id == feed_id
    assert [s.title for s in outcome.new] == ["Story 4"]
    assert outcome.new[0].sections == ("world",)
    assert outcome.new[0].link == "https://outlet.example/news/4"
    assert outcome.updated == ()
    # Its broadcast was queued in the same transaction that stored it.
    queued = {s.title for s in await rig.stories() if s.push_state == "queued"}
    assert queued == {"Story 4"}

    # The next poll brings nothing new: no further hand-off.
    rig.server.serve("/rss", rss([*BACKLOG, Item("4", minutes_ago=1)], title="Changed title"))
    rig.clock.advance(INTERVAL)
    report = await rig.poller.poll_due(feed_id)
    assert report is not None and report.status == "ok"
    assert len(rig.handoff.calls) == 1


@pytest.mark.parametrize("validators", ["etag-and-last-modified", "last-modified-only"])
async def test_conditional_get_304_makes_no_database_writes(rig: Rig, validators: str) -> None:
    only_date = validators == "last-modified-only"
    route = rig.server.serve("/rss", rss(BACKLOG), etag=not only_date)
    feed_id = await rig.add_feed("/rss")
    with WriteCounter(rig.sessions.kw["bind"]) as first_poll:
        await rig.poller.poll(feed_id)
    assert first_poll.writes  # the counter sees writes when there are some
    feed_before = await rig.feed(feed_id)
    stories_before = [(s.id, s.title, s.updated_at, s.push_state) for s in await rig.stories()]

    rig.clock.advance(INTERVAL)
    with WriteCounter(rig.sessions.kw["bind"]) as counter:
        report = await rig.poller.poll_due(feed_id)

    assert report is not None
    assert report.status == "not-modified"
    _, headers = rig.server.requests[-1]
    expected_date = format_datetime(route.modified_at, usegmt=True)
    assert headers.get("If-Modified-Since") == expected_date
    if only_date:
        assert "If-None-Match" not in headers
    else:
        assert headers.get("If-None-Match") == feed_before.etag
    assert counter.writes == []
    assert await rig.feed(feed_id) == feed_before
    after = [(s.id, s.title, s.updated_at, s.push_state) for s in await rig.stories()]
    assert after == stories_before
    assert rig.handoff.calls == []


async def test_gzip_feed_is_decompressed(rig: Rig) -> None:
    rig.server.serve("/rss.gz", rss(BACKLOG), gzip=True)
    feed_id = await rig.add_feed("/rss.gz")
    report = await rig.poller.poll(feed_id)
    _, headers = rig.server.requests[-1]
    assert "gzip" in headers.get("Accept-Encoding", "")
    assert report.status == "ok"
    assert len(report.outcome.backlog) == 3


async def test_size_cap_applies_after_decompression(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(max_bytes=64 * 1024)
    padding = Item("pad", description="x" * (200 * 1024))
    body = rss([*BACKLOG, padding])
    rig.server.serve("/bomb", body, gzip=True)
    feed_id = await rig.add_feed("/bomb")
    report = await rig.poller.poll(feed_id)
    assert report.status == "failed"
    assert report.error is not None and "larger than 65536 bytes" in report.error
    assert await rig.stories() == []


# --- failures, back-off and recovery ----------------------------------------------------------

GOOD = rss(BACKLOG)
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Maintenance</title></head>"
    b"<body><p>We will be back soon.</p></body></html>"
)


def failure_replies(kind: str, max_bytes: int) -> tuple[Reply, str]:
    """A scripted reply for each kind of failure, and a phrase its error must contain."""
    return {
        "timeout": (Reply(200, GOOD, delay=0.6), "timed out"),
        "404": (Reply(404, b"gone"), "HTTP 404"),
        "500": (Reply(500, b"oops"), "HTTP 500"),
        "503": (Reply(503, b"busy"), "HTTP 503"),
        "malformed-xml": (
            Reply(200, b"<?xml version='1.0'?>\n<<<>>> not & xml", {"Content-Type": "text/xml"}),
            "not a feed",
        ),
        "html-page": (Reply(200, HTML_PAGE, {"Content-Type": "text/html"}), "not a feed"),
        "empty-body": (Reply(200, b""), "not a feed"),
        "over-size-cap": (Reply(200, b" " * (max_bytes + 1)), f"larger than {max_bytes}"),
    }[kind]


@pytest.mark.parametrize(
    "kind",
    [
        "timeout",
        "404",
        "500",
        "503",
        "malformed-xml",
        "html-page",
        "empty-body",
        "over-size-cap",
    ],
)
async def test_failure_backs_off_logs_once_and_recovers(
    make_rig: Callable[..., Rig], caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    rig = make_rig(fetch_timeout=0.3, max_bytes=16 * 1024)
    rig.server.serve("/rss", GOOD)
    feed_id = await rig.add_feed("/rss")
    assert (await rig.poller.poll(feed_id)).status == "ok"
    reply, phrase = failure_replies(kind, 16 * 1024)
    rig.server.script("/rss", reply, reply)

    # First failure: recorded, next try after twice the interval.
    rig.clock.advance(INTERVAL)
    first = await rig.poller.poll_due(feed_id)
    assert first is not None and first.status == "failed"
    assert first.error is not None and phrase in first.error
    feed = await rig.feed(feed_id)
    assert feed.consecutive_failures == 1
    assert feed.last_error == first.error
    assert feed.next_poll_at == rig.clock() + timedelta(seconds=2 * INTERVAL)
    assert feed.last_attempt_at == rig.clock()
    assert feed.last_success_at == NOW

    # Not due yet (a quarter of the way there): no request at all.
    hits = rig.server.hits("/rss")
    rig.clock.advance(0.5 * INTERVAL)
    assert await rig.poller.poll_due(feed_id) is None
    assert rig.server.hits("/rss") == hits

    # Due: fails the same way, the delay doubles.
    rig.clock.advance(1.5 * INTERVAL)
    second = await rig.poller.poll_due(feed_id)
    assert second is not None and second.status == "failed"
    assert second.error == first.error
    feed = await rig.feed(feed_id)
    assert feed.consecutive_failures == 2
    assert feed.next_poll_at == rig.clock() + timedelta(seconds=4 * INTERVAL)
    rig.clock.advance(INTERVAL)
    assert await rig.poller.poll_due(feed_id) is None
    assert rig.server.hits("/rss") == hits + 1

    # One warning for the change of state, not one per failure.
    warnings = warnings_from(caplog)
    assert len(warnings) == 1, warnings
    assert phrase in warnings[0]
    assert rig.server.url("/rss") in warnings[0]

    # The feed is healthy again (and unchanged, so it answers 304): back to normal.
    rig.clock.advance(3 * INTERVAL)
    recovered = await rig.poller.poll_due(feed_id)
    assert recovered is not None and recovered.status in ("ok", "not-modified")
    feed = await rig.feed(feed_id)
    assert feed.consecutive_failures == 0
    assert feed.last_error is None
    assert feed.next_poll_at is None
    assert feed.last_success_at == rig.clock()
    assert [m for m in infos_from(caplog) if "recovered" in m] == [
        f"feed={rig.server.url('/rss')} recovered after 2 failures"
    ]
    assert len(warnings_from(caplog)) == 1
    assert rig.handoff.calls == []
    assert len(await rig.stories()) == 3


async def test_feed_failing_from_its_first_poll_recovers_with_backlog(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    rig.server.serve("/rss", GOOD)
    rig.server.script("/rss", Reply(500, b"down"))
    feed_id = await rig.add_feed("/rss")
    assert (await rig.poller.poll_due(feed_id)).status == "failed"  # type: ignore[union-attr]
    assert not (await rig.feed(feed_id)).initialized

    rig.clock.advance(2 * INTERVAL)
    report = await rig.poller.poll_due(feed_id)
    assert report is not None and report.status == "ok"
    assert len(report.outcome.backlog) == 3
    assert report.outcome.new == ()
    assert rig.handoff.calls == []
    assert any("recovered after 1 failures" in m for m in infos_from(caplog))


async def test_a_different_failure_is_a_new_warning(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    rig.server.serve("/rss", GOOD)
    rig.server.script("/rss", Reply(500), Reply(500), Reply(404), Reply(404))
    feed_id = await rig.add_feed("/rss")
    errors = []
    for _ in range(4):
        report = await rig.poller.poll(feed_id)
        errors.append(report.error)
    assert errors == [
        "HTTP 500 Internal Server Error",
        "HTTP 500 Internal Server Error",
        "HTTP 404 Not Found",
        "HTTP 404 Not Found",
    ]
    warnings = warnings_from(caplog)
    assert len(warnings) == 2
    assert "HTTP 500" in warnings[0] and "HTTP 404" in warnings[1]
    assert (await rig.feed(feed_id)).consecutive_failures == 4


async def test_backoff_stops_at_the_ceiling(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(max_backoff=10.0)
    rig.server.serve("/rss", GOOD)
    rig.server.script("/rss", *[Reply(500)] * 5)
    feed_id = await rig.add_feed("/rss")
    delays = []
    for _ in range(5):
        report = await rig.poller.poll_due(feed_id)
        assert report is not None and report.status == "failed"
        feed = await rig.feed(feed_id)
        assert feed.next_poll_at is not None
        delays.append((feed.next_poll_at - rig.clock()).total_seconds())
        rig.clock.set(feed.next_poll_at)
    assert delays == [4.0, 8.0, 10.0, 10.0, 10.0]


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_retry_after_is_honoured(rig: Rig, form: str) -> None:
    rig.server.serve("/rss", GOOD)
    retry_at = NOW + timedelta(seconds=120)
    value = "120" if form == "seconds" else format_datetime(retry_at, usegmt=True)
    rig.server.script("/rss", Reply(503, b"busy", {"Retry-After": value}))
    feed_id = await rig.add_feed("/rss")

    report = await rig.poller.poll_due(feed_id)
    assert report is not None and report.status == "failed"
    assert report.error == "HTTP 503 Service Unavailable"
    assert (await rig.feed(feed_id)).next_poll_at == retry_at

    # The ordinary back-off (4 s) would have allowed a retry long before.
    for seconds in (4, 60, 100):
        rig.clock.set(NOW + timedelta(seconds=seconds))
        assert await rig.poller.poll_due(feed_id) is None
    assert rig.server.hits("/rss") == 1
    rig.clock.set(retry_at)
    report = await rig.poller.poll_due(feed_id)
    assert report is not None and report.status == "ok"


async def test_retry_after_beyond_a_day_is_capped(rig: Rig) -> None:
    rig.server.serve("/rss", GOOD)
    rig.server.script("/rss", Reply(429, b"slow down", {"Retry-After": str(7 * 86400)}))
    feed_id = await rig.add_feed("/rss")
    await rig.poller.poll(feed_id)
    assert (await rig.feed(feed_id)).next_poll_at == NOW + timedelta(seconds=MAX_RETRY_AFTER)


async def test_non_ascii_digit_retry_after_is_ignored_not_raised(rig: Rig) -> None:
    rig.server.serve("/rss", GOOD)
    rig.server.script("/rss", Reply(503, b"busy", {"Retry-After": "²"}))
    feed_id = await rig.add_feed("/rss")
    report = await rig.poller.poll(feed_id)
    assert report.status == "failed"
    assert (await rig.feed(feed_id)).next_poll_at == NOW + timedelta(seconds=2 * INTERVAL)


async def test_persisted_backoff_survives_a_restart(rig: Rig) -> None:
    rig.server.serve("/rss", GOOD)
    rig.server.script("/rss", Reply(503, b"busy", {"Retry-After": "600"}))
    feed_id = await rig.add_feed("/rss")
    await rig.poller.poll_due(feed_id)
    assert (await rig.feed(feed_id)).next_poll_at == NOW + timedelta(seconds=600)

    rig.clock.advance(10)
    restarted = rig.another_poller()
    assert await restarted.poll_due(feed_id) is None
    assert rig.server.hits("/rss") == 1


async def test_healthy_feed_is_polled_on_every_scheduler_tick(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(clock=RunningClock())
    rig.server.serve("/rss", GOOD)
    feed_id = await rig.add_feed("/rss")
    reports = []
    for tick in range(4):
        rig.clock.set(NOW + timedelta(seconds=tick * INTERVAL))  # IntervalTrigger's grid
        reports.append(await rig.poller.poll_due(feed_id))
    assert rig.server.hits("/rss") == 4
    assert all(r is not None for r in reports)


# --- concurrency ------------------------------------------------------------------------------


async def test_a_slow_failing_feed_does_not_hold_up_a_fast_one(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(fetch_timeout=0.4)
    rig.server.serve("/slow", GOOD)
    rig.server.script("/slow", Reply(200, GOOD, delay=0.8))
    rig.server.serve("/fast", rss([Item("f1"), Item("f2")]))
    slow_id = await rig.add_feed("/slow", "slow")
    fast_id = await rig.add_feed("/fast", "fast")
    finished: list[str] = []

    async def poll(name: str, feed_id: int) -> PollReport:
        report = await rig.poller.poll(feed_id)
        finished.append(name)
        return report

    slow, fast = await asyncio.gather(poll("slow", slow_id), poll("fast", fast_id))
    assert finished == ["fast", "slow"]
    assert fast.status == "ok" and len(fast.outcome.backlog) == 2
    assert slow.status == "failed" and slow.error == "timed out after 0.4 s"


async def test_same_story_in_two_feeds_is_stored_and_handed_off_once(rig: Rig) -> None:
    shared = Item("shared", link="https://outlet.example/news/shared", guid="world-1")
    rig.server.serve("/world", rss([Item("w1"), shared], title="World"))
    copy = Item("shared", link="https://outlet.example/news/shared", guid="ku-99")
    rig.server.serve("/kurdistan", rss([Item("k1"), copy], title="Kurdistan"))
    world = await rig.add_feed("/world", "world")
    kurdistan = await rig.add_feed("/kurdistan", "kurdistan")
    await asyncio.gather(rig.poller.poll(world), rig.poller.poll(kurdistan))
    assert len(await rig.stories()) == 3

    breaking = Item("breaking", minutes_ago=1, link="https://outlet.example/news/breaking")
    rig.server.serve("/world", rss([Item("w1"), shared, breaking], title="World"))
    rig.server.serve(
        "/kurdistan",
        rss([Item("k1"), copy, Item("breaking", minutes_ago=1, guid="ku-100")], title="Kurdistan"),
    )
    rig.clock.advance(INTERVAL)
    reports = await asyncio.gather(rig.poller.poll(world), rig.poller.poll(kurdistan))

    assert sorted(len(r.outcome.new) for r in reports) == [0, 1]
    assert rig.handoff.new_titles == [["Story breaking"]]
    rows = await rig.stories()
    assert len(rows) == 4
    assert sum(1 for r in rows if r.link == "https://outlet.example/news/breaking") == 1
    by_title = {s.title: s for s in await rig.latest()}
    assert by_title["Story shared"].sections == ("kurdistan", "world")
    assert by_title["Story breaking"].sections == ("kurdistan", "world")


async def test_guid_change_with_same_link_is_not_new(rig: Rig) -> None:
    rig.server.serve("/rss", rss([Item("a", guid="old-guid")]))
    feed_id = await rig.add_feed("/rss")
    await rig.poller.poll(feed_id)

    rig.server.serve("/rss", rss([Item("a", guid="new-guid")]))
    rig.clock.advance(INTERVAL)
    report = await rig.poller.poll(feed_id)
    assert report.status == "ok"
    assert report.outcome.new == ()
    assert report.outcome.unchanged == 1
    assert rig.handoff.calls == []
    assert len(await rig.stories()) == 1


async def test_edited_item_is_updated_not_new(rig: Rig) -> None:
    rig.server.serve("/rss", rss([Item("e", title="Dam level falls")]))
    feed_id = await rig.add_feed("/rss")
    await rig.poller.poll(feed_id)

    rig.server.serve("/rss", rss([Item("e", title="Dam level falls to record low")]))
    rig.clock.advance(INTERVAL)
    report = await rig.poller.poll(feed_id)
    assert report.outcome.new == ()
    assert [s.title for s in report.outcome.updated] == ["Dam level falls to record low"]
    assert all(outcome.new == () for _, outcome in rig.handoff.calls)
    [row] = await rig.stories()
    assert row.title == "Dam level falls to record low"
    assert row.push_state == "none"
    assert row.updated_at == rig.clock()


# --- text -------------------------------------------------------------------------------------

ARABIC_TITLE = "انتخابات مجلس النواب العراقي: النتائج الأولية"
ARABIC_SUMMARY = "أعلنت المفوضية العليا المستقلة للانتخابات النتائج في بغداد"
LATIN1_TITLE = "Ça va? Café, Zürich, Ærøskøbing, naïve"


@pytest.mark.parametrize(
    ("encoding", "content_type", "title", "summary"),
    [
        ("windows-1256", "application/rss+xml", ARABIC_TITLE, ARABIC_SUMMARY),
        ("windows-1256", "text/xml; charset=windows-1256", ARABIC_TITLE, ARABIC_SUMMARY),
        ("windows-1256", "text/xml", ARABIC_TITLE, ARABIC_SUMMARY),
        ("iso-8859-1", "application/rss+xml", LATIN1_TITLE, "Größe, façade, señor"),
        ("iso-8859-1", "application/xml; charset=ISO-8859-1", LATIN1_TITLE, "déjà vu"),
    ],
    ids=[
        "cp1256-prolog-only",
        "cp1256-header-and-prolog",
        "cp1256-text-xml-without-charset",
        "latin1-prolog-only",
        "latin1-header-and-prolog",
    ],
)
async def test_non_utf8_feeds_are_decoded(
    rig: Rig, encoding: str, content_type: str, title: str, summary: str
) -> None:
    body = rss([Item("x", title=title, description=summary)], encoding=encoding)
    assert title.encode("utf-8") not in body  # really not UTF-8
    rig.server.serve("/legacy", body, content_type=content_type)
    feed_id = await rig.add_feed("/legacy")
    report = await rig.poller.poll(feed_id)
    assert report.status == "ok"
    [row] = await rig.stories()
    assert row.title == title
    assert row.summary == summary


async def test_right_to_left_text_is_stored_intact(rig: Rig) -> None:
    sorani = "هەواڵی کوردستان: سەرۆکی هەرێم سەردانی بەغدا دەکات"
    persian_style = "می\u200cخواهم"  # a zero-width non-joiner is part of the spelling
    summary = f"{persian_style} — ئەنجومەنی وەزیران کۆبوونەوەی ئەنجامدا"
    rig.server.serve(
        "/ckb",
        rss(
            [
                Item("s", title=sorani, description=summary, categories=["سیاسەت"]),
                Item("a", title=ARABIC_TITLE, description=ARABIC_SUMMARY),
            ],
            title="ڕووداو",
        ),
    )
    feed_id = await rig.add_feed("/ckb")
    await rig.poller.poll(feed_id)
    rows = {r.title: r for r in await rig.stories()}
    assert set(rows) == {sorani, ARABIC_TITLE}
    assert rows[sorani].summary == summary
    assert "\u200c" in rows[sorani].summary
    assert rows[sorani].categories == "سیاسەت"
    assert rows[ARABIC_TITLE].summary == ARABIC_SUMMARY
    assert (await rig.feed(feed_id)).title == "ڕووداو"
    async with rig.sessions() as session:
        found = await story_store.search_stories(session, "سەرۆکی")
    assert [s.title for s in found] == [sorani]


async def test_stray_bytes_in_a_utf8_feed_cost_one_character_each_and_warn_once(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    airport = "فڕۆکەخانەی هەولێر دەکرێتەوە"
    summary = "گەشتەکان لە هەولێرەوە دەست پێدەکەنەوە"
    # One cut-off Sorani character (its first byte only) in a title, one windows-1256 alef
    # in a category; both are U+FFFD where the byte was, and nowhere else.
    items = [
        Item(
            "s",
            title="فڕۆکەخانەی هەول\ue000ر دەکرێتەوە",
            description=summary,
            categories=["هەولێر"],
        ),
        Item("a", title=ARABIC_TITLE, description=ARABIC_SUMMARY, categories=["\ue001قتصاد"]),
    ]
    body = rss(items, title="ڕووداو").replace(b"\xee\x80\x80", b"\xdb")
    body = body.replace(b"\xee\x80\x81", b"\xc7")
    rig.server.serve("/ckb", body, etag=False, last_modified=False)
    feed_id = await rig.add_feed("/ckb")

    report = await rig.poller.poll(feed_id)

    assert report.status == "ok"
    feed = await rig.feed(feed_id)
    assert (feed.title, feed.consecutive_failures, feed.last_error) == ("ڕووداو", 0, None)
    rows = {r.title: r for r in await rig.stories()}
    broken_airport = airport.replace("ێ", "\ufffd", 1)
    assert set(rows) == {broken_airport, ARABIC_TITLE}
    assert (rows[broken_airport].summary, rows[broken_airport].categories) == (summary, "هەولێر")
    assert (rows[ARABIC_TITLE].summary, rows[ARABIC_TITLE].categories) == (
        ARABIC_SUMMARY,
        "\ufffdقتصاد",
    )
    url = rig.server.url("/ckb")
    warning = "feed={} has invalid UTF-8: {} byte(s) replaced with U+FFFD, the rest kept"
    assert warnings_from(caplog) == [warning.format(url, 2)]

    # The same broken document again: no second warning. Another count is news again.
    await rig.poller.poll(feed_id)
    assert len(warnings_from(caplog)) == 1
    rig.server.serve("/ckb", body.replace(b"\xc7", "ا".encode()), etag=False, last_modified=False)
    await rig.poller.poll(feed_id)
    assert warnings_from(caplog) == [warning.format(url, 2), warning.format(url, 1)]


async def _section_rows(sessions: SessionFactory) -> tuple[set[str], set[str]]:
    """The slugs of the section table and those any story is listed under."""
    async with sessions() as session:
        known = set((await session.exec(select(Section.slug))).all())
        listed = set((await session.exec(select(StorySection.section))).all())
    return known, listed


CATEGORY_RICH = [
    Item("1", categories=["Internal open access from NL", "Politics", "World"]),
    Item("2", categories=["Agriculture, Uruguay", "international"]),
    Item("3"),
]


async def test_a_bare_url_feeds_categories_are_searchable_but_no_sections(rig: Rig) -> None:
    rig.server.serve("/all", rss(CATEGORY_RICH, title="Everything"))
    feed_id = await rig.add_feed("/all")
    report = await rig.poller.poll(feed_id)
    assert len(report.outcome.backlog) == 3
    assert all(s.sections == () for s in report.outcome.backlog)
    assert await _section_rows(rig.sessions) == (set(), set())
    async with rig.sessions() as session:
        assert await story_store.list_sections(session) == []
        # Still all news, and a category is found by search like a word of the title.
        assert len(await story_store.latest_stories(session, limit=10)) == 3
        found = await story_store.search_stories(session, "open access")
    assert [s.title for s in found] == ["Story 1"]


async def test_only_the_categories_sections_maps_become_sections(
    make_rig: Callable[..., Rig],
) -> None:
    mapping = category_sections({"world": ("World", "International")})
    rig = make_rig(category_sections=mapping)
    rig.server.serve("/all", rss(CATEGORY_RICH, title="Everything"))
    rig.server.serve("/ku", rss([Item("k", categories=["World"])], title="Kurdistan"))
    everything, kurdistan = await rig.add_feed("/all"), await rig.add_feed("/ku", "kurdistan")
    await rig.poller.poll(everything)
    await rig.poller.poll(kurdistan)

    assert await _section_rows(rig.sessions) == ({"world", "kurdistan"},) * 2
    by_title = {s.title: s.sections for s in await rig.latest()}
    assert by_title == {
        "Story 1": ("world",),
        "Story 2": ("world",),
        "Story 3": (),
        "Story k": ("kurdistan", "world"),
    }
    assert sorted(s.title for s in await rig.latest("world")) == ["Story 1", "Story 2", "Story k"]
    async with rig.sessions() as session:
        offered = await story_store.list_sections(session, ["en"], ["kurdistan", "world"])
        # Rows an older version stored for categories are never offered.
        await story_store.remember_sections(session, {"politics": "Politics"}, NOW, "en")
        assert await story_store.list_sections(session, ["en"], ["kurdistan", "world"]) == offered
    assert {slug for slug, _ in offered} == {"kurdistan", "world"}


async def test_hostile_titles_are_stored_as_literal_text(rig: Rig) -> None:
    hostile = [
        'Robert\'); DROP TABLE story;-- "quoted" 100% {0} %s %(x)s',
        "1 OR 1=1; DELETE FROM feed WHERE 'a'='a",
        "back\\slash \\x00 ${HOME} `id` $(reboot)",
    ]
    rig.server.serve(
        "/evil", rss([Item(str(n), title=t) for n, t in enumerate(hostile)], title=hostile[0])
    )
    feed_id = await rig.add_feed("/evil")
    report = await rig.poller.poll(feed_id)
    assert report.status == "ok"
    assert sorted(r.title for r in await rig.stories()) == sorted(hostile)
    assert (await rig.feed(feed_id)).title == hostile[0]
    async with rig.sessions() as session:
        assert len(await feed_store.list_feeds(session)) == 1


async def test_malformed_but_usable_feed_is_used(rig: Rig) -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Loose</title>'
        b"<item><title>One &nbsp; two</title><link>https://outlet.example/b1</link></item>"
        b"<item><title>Three</title><link>https://outlet.example/b2</link></item>"
        b"</channel>"
    )
    parsed = parse_feed(body, url="https://outlet.example/rss", now=NOW)
    assert parsed.bozo and len(parsed.entries) == 2  # the premise: malformed, yet has entries
    rig.server.serve("/bozo", body)
    feed_id = await rig.add_feed("/bozo")
    report = await rig.poller.poll(feed_id)
    assert report.status == "ok"
    assert len(report.outcome.backlog) == 2
    feed = await rig.feed(feed_id)
    assert feed.consecutive_failures == 0 and feed.last_error is None


async def test_push_max_age_keeps_old_items_from_being_pushed(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(push_max_age=3600.0)
    rig.server.serve("/rss", rss([Item("seed", minutes_ago=300)]))
    feed_id = await rig.add_feed("/rss")
    await rig.poller.poll(feed_id)

    rig.server.serve(
        "/rss",
        rss(
            [
                Item("seed", minutes_ago=300),
                Item("late", minutes_ago=120),  # new to us, but published two hours ago
                Item("fresh", minutes_ago=10),
            ]
        ),
    )
    rig.clock.advance(INTERVAL)
    report = await rig.poller.poll(feed_id)
    assert [s.title for s in report.outcome.new] == ["Story fresh"]
    assert [s.title for s in report.outcome.backlog] == ["Story late"]
    assert rig.handoff.new_titles == [["Story fresh"]]
    states = {r.title: r.push_state for r in await rig.stories()}
    assert states == {"Story seed": "none", "Story late": "none", "Story fresh": "queued"}


async def test_handoff_failure_does_not_fail_the_poll(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(feed: FeedView, outcome: IngestOutcome) -> None:
        raise RuntimeError("fan-out is down")

    poller = FeedPoller(rig.sessions, rig.http, poll_settings(), handoff=broken, clock=rig.clock)
    rig.server.serve("/rss", rss([Item("1")]))
    feed_id = await rig.add_feed("/rss")
    await poller.poll(feed_id)
    rig.server.serve("/rss", rss([Item("1"), Item("2", minutes_ago=1)]))
    report = await poller.poll(feed_id)
    assert report.status == "ok"
    assert [s.title for s in report.outcome.new] == ["Story 2"]
    # Its broadcast was committed with it, so fan-out sends it whatever the hand-off did.
    async with rig.sessions() as session:
        broadcasts = await delivery_store.open_broadcasts(session)
        stories = await story_store.get_stories(session, [b.story_id for b in broadcasts])
    assert [s.title for s in stories.values()] == ["Story 2"]
    assert any("hand-off" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


# --- big feeds: the cap, batches, failures and stops between batches -------------------------

STORY_INSERT = "INSERT INTO story ("


class StoryInserts:
    """Counts bulk INSERTs into the story table; ``on`` runs a callback at the n-th one."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.count = 0
        self.actions: dict[int, Callable[[], None]] = {}

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().startswith(STORY_INSERT):
            self.count += 1
            action = self.actions.get(self.count)
            if action is not None:
                action()

    def __enter__(self) -> StoryInserts:
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine.sync_engine, "before_cursor_execute", self._on_execute)


def disk_error() -> None:
    raise OperationalError(STORY_INSERT, {}, Exception("disk I/O error"))


SIX = [Item(str(n), minutes_ago=60 - n) for n in range(1, 7)]  # "6" is the newest


async def test_feed_max_items_takes_the_newest_and_says_so(
    make_rig: Callable[..., Rig], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    rig = make_rig(max_items=4)
    rig.server.serve("/rss", rss(list(reversed(SIX))))
    feed_id = await rig.add_feed("/rss")
    report = await rig.poller.poll(feed_id)
    assert sorted(s.title for s in report.outcome.backlog) == [f"Story {n}" for n in (3, 4, 5, 6)]
    assert any(
        "holds 6 items; taking the newest 4 (FEED_MAX_ITEMS)" in m for m in infos_from(caplog)
    )


async def test_a_poll_stores_in_bulk_batches(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(batch_size=2)
    rig.server.serve("/rss", rss(SIX[:5]))
    feed_id = await rig.add_feed("/rss")
    with StoryInserts(rig.sessions.kw["bind"]) as inserts:
        report = await rig.poller.poll(feed_id)
    assert inserts.count == 3  # one statement per batch of two, not one per item
    assert len(report.outcome.backlog) == 5
    # Oldest first, so that ids grow with publication time.
    assert [r.title for r in await rig.stories()] == [f"Story {n}" for n in range(1, 6)]
    assert (await rig.feed(feed_id)).initialized


async def test_a_first_poll_failing_between_batches_stays_backlog(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(batch_size=2)
    rig.server.serve("/rss", rss(SIX))
    feed_id = await rig.add_feed("/rss")
    with StoryInserts(rig.sessions.kw["bind"]) as inserts:
        inserts.actions[2] = disk_error
        report = await rig.poller.poll(feed_id)
    assert report.status == "failed"
    # The first batch is kept; the feed has no baseline yet, so the rest is backlog too.
    assert [r.title for r in await rig.stories()] == ["Story 1", "Story 2"]
    assert not (await rig.feed(feed_id)).initialized

    rig.clock.advance(10 * INTERVAL)
    report = await rig.poller.poll(feed_id)
    assert report.status == "ok"
    assert (report.outcome.new, report.outcome.unchanged) == ((), 2)
    assert len(report.outcome.backlog) == 4
    assert rig.handoff.calls == []
    assert {r.push_state for r in await rig.stories()} == {"none"}
    assert (await rig.feed(feed_id)).initialized


async def test_new_stories_split_by_a_failure_are_each_handed_off_once(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(batch_size=2)
    rig.server.serve("/rss", rss([Item("seed", minutes_ago=120)]))
    feed_id = await rig.add_feed("/rss")
    await rig.poller.poll(feed_id)

    rig.server.serve("/rss", rss([Item("seed", minutes_ago=120), *SIX]))
    rig.clock.advance(INTERVAL)
    with StoryInserts(rig.sessions.kw["bind"]) as inserts:
        inserts.actions[2] = disk_error
        assert (await rig.poller.poll(feed_id)).status == "failed"
    assert rig.handoff.new_titles == [["Story 1"]]  # the seed and Story 1 made the first batch

    rig.clock.advance(10 * INTERVAL)
    report = await rig.poller.poll(feed_id)
    assert [s.title for s in report.outcome.new] == [f"Story {n}" for n in range(2, 7)]
    handed = [title for titles in rig.handoff.new_titles for title in titles]
    assert sorted(handed) == [f"Story {n}" for n in range(1, 7)]
    async with rig.sessions() as session:
        broadcasts = await delivery_store.open_broadcasts(session, limit=100)
    assert len(broadcasts) == 6 == len({b.story_id for b in broadcasts})


async def test_stop_ends_a_poll_between_batches_and_the_next_one_finishes(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(batch_size=2)
    rig.server.serve("/rss", rss(SIX))
    feed_id = await rig.add_feed("/rss")
    stopping: list[asyncio.Task[None]] = []

    def stop() -> None:
        stopping.append(asyncio.get_running_loop().create_task(rig.poller.stop()))

    with StoryInserts(rig.sessions.kw["bind"]) as inserts:
        inserts.actions[2] = stop  # while the second batch is being stored
        assert await rig.poller.poll_due(feed_id) is None  # stopped: nothing to report
    await asyncio.gather(*stopping)
    # The batch under way committed; the third was never started.
    assert [r.title for r in await rig.stories()] == [f"Story {n}" for n in range(1, 5)]
    assert not (await rig.feed(feed_id)).initialized

    report = await rig.poller.poll(feed_id)
    assert report.status == "ok" and report.outcome.new == ()
    assert [r.title for r in await rig.stories()] == [f"Story {n}" for n in range(1, 7)]
    assert rig.handoff.calls == []


async def test_a_megabyte_document_is_parsed_in_a_child_process_and_stored(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(max_items=3000, max_bytes=4 * 1024 * 1024)
    body = rss([Item(str(n), minutes_ago=n / 10) for n in range(5000)])
    assert len(body) >= CHILD_PROCESS_BYTES
    rig.server.serve("/rss", body)
    feed_id = await rig.add_feed("/rss")
    report = await rig.poller.poll(feed_id)
    assert report.status == "ok"
    assert len(report.outcome.backlog) == 3000
    assert {s.title for s in report.outcome.backlog} == {f"Story {n}" for n in range(3000)}


async def test_stop_abandons_a_slow_fetch(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(fetch_timeout=30.0)
    rig.server.serve("/rss", rss(SIX))
    rig.server.script("/rss", Reply(200, rss(SIX), delay=3))
    feed_id = await rig.add_feed("/rss")
    polling = asyncio.create_task(rig.poller.poll_due(feed_id))
    while True:  # until the fetch is under way
        await asyncio.sleep(0.01)
        if rig.server.hits("/rss"):
            break
    await rig.poller.stop()
    assert await polling is None
    assert await rig.stories() == []
    # The poller polls again afterwards.
    assert (await rig.poller.poll(feed_id)).status == "ok"


async def test_unknown_feed_id_is_a_lookup_error(rig: Rig) -> None:
    with pytest.raises(LookupError):
        await rig.poller.poll(999_999)


# --- news/retry_timing.py: when a feed is polled next ----------------------------------


def test_backoff_doubles_from_the_interval() -> None:
    assert [next_poll_delay(60, n, 10_000) for n in range(5)] == [60, 120, 240, 480, 960]


def test_backoff_stops_at_ceiling_and_never_overflows() -> None:
    assert next_poll_delay(60, 10, 3600) == 3600
    assert next_poll_delay(60, 10**9, 3600) == 3600
    assert next_poll_delay(60, -3, 3600) == 60
    # A ceiling below the interval cannot make polling faster than the interval.
    assert next_poll_delay(600, 3, 60) == 600


def test_retry_after_is_a_floor_with_a_cap() -> None:
    assert next_poll_delay(60, 1, 3600) == 120
    assert next_poll_delay(60, 1, 3600, retry_after=900) == 900
    assert next_poll_delay(60, 1, 3600, retry_after=30) == 120  # never shorter than back-off
    assert next_poll_delay(60, 1, 3600, retry_after=10**9) == MAX_RETRY_AFTER
    assert next_poll_delay(60, 1, 3600, retry_after=0) == 120
    assert next_poll_delay(60, 1, 3600, retry_after=-5) == 120
    assert next_poll_delay(60, 1, 3600, retry_after=None) == 120


# --- news/sections.py -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Middle East", "middle-east"),
        ("  World  ", "world"),
        ("Arts & Culture", "arts-culture"),
        ("sci_tech", "sci-tech"),
        ("--News--", "news"),
        ("ＷＯＲＬＤ", "world"),  # full-width letters fold (NFKC)
        ("هەواڵی جیهان", "هەواڵی-جیهان"),
        ("کوردستان", "کوردستان"),
        ("اقتصاد/أعمال", "اقتصاد-أعمال"),
    ],
)
def test_section_slug(name: str, slug: str) -> None:
    assert section_slug(name) == slug


@pytest.mark.parametrize(
    "name", ["هەواڵەکانی ناوچەی کوردستان و جیهان", "né" * 30, "a-" + "ڵ" * 40]
)
def test_long_slug_is_capped_in_bytes_on_a_character_boundary(name: str) -> None:
    slug = section_slug(name)
    assert 0 < len(slug.encode()) <= MAX_SLUG_BYTES
    head, digest = slug.rsplit("-", 1)
    assert re.fullmatch(r"[0-9a-f]{6}", digest)  # a shortened slug carries a digest
    assert name.lower().replace(" ", "-").startswith(head)  # cut, never mangled
    assert not head.endswith("-")
    assert "\ufffd" not in slug
    # Two long names sharing their beginning stay two sections.
    assert section_slug(name + " one") != section_slug(name + " two")


def _draft(*categories: str) -> StoryDraft:
    return StoryDraft(identity="guid:x", title="x", link=None, categories=categories)


MAPPED = category_sections(
    {
        "world": ("World", "International"),
        "middle-east": ("Middle East",),
        "kurdistan": ("کوردستان",),
    }
)


def test_a_bare_url_feeds_unmapped_categories_are_no_section() -> None:
    assert sections_for_item(_draft("Politics", "Internal open access from NL"), None, {}) == {}
    assert sections_for_item(_draft("Politics", "سیاسەت"), None, MAPPED) == {}
    assert sections_for_item(_draft(), None, MAPPED) == {}


def test_mapped_categories_are_sections_case_accents_and_punctuation_aside() -> None:
    item = _draft("MIDDLE-EAST", "international", "Politics", "world")
    assert sections_for_item(item, None, MAPPED) == {
        "middle-east": "MIDDLE-EAST",
        "world": "international",
    }
    # كوردستان typed with an Arabic kaf is the Sorani category کوردستان.
    assert sections_for_item(_draft("كوردستان"), None, MAPPED) == {"kurdistan": "كوردستان"}


def test_the_feeds_own_section_and_mapped_categories() -> None:
    assert sections_for_item(_draft("Politics"), "world", {}) == {"world": "world"}
    assert sections_for_item(_draft("Middle East", "Politics"), "kurdistan", MAPPED) == {
        "kurdistan": "kurdistan",
        "middle-east": "Middle East",
    }


def test_one_category_may_file_into_several_sections() -> None:
    mapping = category_sections({"iraq": ("Iraq",), "region": ("Iraq", "Syria")})
    assert mapping == {"iraq": ("iraq", "region"), "syria": ("region",)}
    assert sections_for_item(_draft("iraq"), None, mapping) == {"iraq": "iraq", "region": "iraq"}


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Middle East", "middle-east"),
        ("Middle  East ", "MIDDLE_EAST"),
        ("Kürdistan", "kurdistan"),
        ("هەرێمی کوردستان", "هەریمی كوردستان"),
    ],
)
def test_fold_name_makes_spellings_of_one_name_equal(one: str, other: str) -> None:
    assert fold_name(one) == fold_name(other) != ""


# --- jobs/registry.py -------------------------------------------------------------------------


def feed_view(feed_id: int, url: str) -> FeedView:
    return FeedView(
        id=feed_id,
        url=url,
        section=None,
        title=None,
        etag=None,
        last_modified=None,
        initialized=False,
        consecutive_failures=0,
        last_error=None,
        last_attempt_at=None,
        last_success_at=None,
        next_poll_at=None,
    )


async def test_feed_polling_ticks_each_feed_promptly_then_every_interval() -> None:
    polled: asyncio.Queue[int] = asyncio.Queue()
    stopped: list[bool] = []

    class RecordingPoller:
        async def poll_due(self, feed_id: int) -> None:
            await polled.put(feed_id)

        async def stop(self) -> None:
            stopped.append(True)

    feeds = [feed_view(3, "https://a.example/rss"), feed_view(11, "https://b.example/rss")]
    assert all(0 <= d <= SPREAD_MAX + SPREAD_JITTER for d in first_poll_delays(50))
    polling = FeedPolling(RecordingPoller(), feeds, 0.3)  # type: ignore[arg-type]
    await polling.start()
    try:
        await polling.start()  # starting again does not double the timers
        # The first ticks come promptly and poll each feed by id, then every interval.
        # (Under load one feed's timer may fire twice before the other's third tick.)
        seen: list[int] = []
        while min(seen.count(3), seen.count(11)) < 3 and len(seen) < 12:
            seen.append(await asyncio.wait_for(polled.get(), timeout=5))
        assert sorted(set(seen)) == [3, 11]
        assert seen.count(3) >= 3 and seen.count(11) >= 3
    finally:
        await polling.stop()
    assert stopped == [True] and not polling.running
    while not polled.empty():
        polled.get_nowait()
    await asyncio.sleep(0.4)
    assert polled.empty()  # stopped: no more ticks


async def test_a_feed_whose_poll_outlasts_its_interval_skips_the_ticks_it_missed() -> None:
    started: list[float] = []

    class SlowPoller:
        async def poll_due(self, feed_id: int) -> None:
            started.append(asyncio.get_running_loop().time())
            await asyncio.sleep(0.25)

        async def stop(self) -> None:
            pass

    polling = FeedPolling(SlowPoller(), [feed_view(1, "https://a.example/rss")], 0.1)  # type: ignore[arg-type]
    await polling.start()
    await asyncio.sleep(1.0)
    await polling.stop()
    # One poll at a time, each starting on the 0.1 s grid after the previous one ended.
    gaps = [b - a for a, b in itertools.pairwise(started)]
    assert gaps and all(0.25 <= gap < 0.45 for gap in gaps)
