"""Polling one feed: fetch, parse off the event loop, store in one transaction, hand off.

Only what storage reports as new is handed on, and only after the transaction commits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy.exc import SQLAlchemyError

from jobs import metrics
from jobs.delivery_policy import is_breaking
from jobs.feed_parsing import NotAFeedError, ParsedFeed, parse_feed
from jobs.fetching import FetchError, FetchResult, fetch_feed
from jobs.news_rule import Baseline, is_news
from jobs.poll_schedule import next_poll_delay
from jobs.sections import sections_for_item
from storage import deliveries as delivery_store
from storage import feeds as feed_store
from storage import stories as story_store
from storage.clock import utcnow
from storage.deliveries import PUSH
from storage.engine import SessionFactory, writing
from storage.feeds import FeedView
from storage.records import IngestOutcome

log = logging.getLogger(__name__)

StoryHandoff = Callable[[FeedView, IngestOutcome], Awaitable[None]]
"""Gets each feed's outcome right after its transaction commits (push fan-out plugs in here)."""


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one poll of one feed did."""

    feed: FeedView
    status: str  # "ok", "not-modified", "failed" or "skipped"
    outcome: IngestOutcome = field(default_factory=IngestOutcome)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PollSettings:
    """The ingestion knobs, as plain values from the settings."""

    interval: float
    max_backoff: float
    push_max_age: float
    fetch_timeout: float
    max_bytes: int
    breaking_markers: tuple[str, ...] = ()


class FeedPoller:
    """Polls feeds one at a time each, any number concurrently, bounded by a semaphore."""

    def __init__(
        self,
        session_factory: SessionFactory,
        http: aiohttp.ClientSession,
        settings: PollSettings,
        *,
        handoff: StoryHandoff | None = None,
        concurrency: int = 8,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = session_factory
        self._http = http
        self._settings = settings
        self._handoff = handoff
        self._fetch_slots = asyncio.Semaphore(concurrency)
        self._clock = clock
        # Healthy feeds are not written on a 304, so their next due time lives here.
        self._due: dict[int, datetime] = {}

    async def poll_due(self, feed_id: int) -> PollReport | None:
        """Poll the feed if its back-off allows it now (the scheduled job's entry point)."""
        if feed_id not in self._due:
            # First tick since start: a back-off (or Retry-After) persisted before a restart
            # still holds.
            async with self._sessions() as session:
                feed = await feed_store.get_feed(session, feed_id)
            if feed is not None and feed.next_poll_at is not None:
                self._due[feed_id] = feed.next_poll_at
        due = self._due.get(feed_id)
        # Ticks come exactly one interval apart, while `due` was set a few milliseconds after
        # the previous tick; without this slack a healthy feed would be polled every other tick.
        slack = timedelta(seconds=min(self._settings.interval * 0.1, 1.0))
        if due is not None and due > self._clock() + slack:
            return None
        return await self.poll(feed_id)

    async def poll(self, feed_id: int) -> PollReport:
        """Poll one feed now, whatever its schedule; never raises for a feed's own failure."""
        started = time.perf_counter()
        report = await self._poll(feed_id)
        metrics.FEED_POLL_SECONDS.observe(time.perf_counter() - started)
        metrics.FEED_POLLS.labels(report.status).inc()
        outcome = report.outcome
        for kind, stories in (
            ("new", outcome.new),
            ("updated", outcome.updated),
            ("backlog", outcome.backlog),
        ):
            if stories:
                metrics.STORIES.labels(kind).inc(len(stories))
        return report

    async def _poll(self, feed_id: int) -> PollReport:
        async with self._sessions() as session:
            feed = await feed_store.get_feed(session, feed_id)
        if feed is None:
            raise LookupError(f"no feed with id {feed_id}")
        now = self._clock()
        try:
            async with self._fetch_slots:
                fetched = await fetch_feed(
                    self._http,
                    feed.url,
                    etag=feed.etag,
                    last_modified=feed.last_modified,
                    timeout=self._settings.fetch_timeout,
                    max_bytes=self._settings.max_bytes,
                    now=now,
                )
            if fetched.not_modified:
                return await self._not_modified(feed, fetched, now)
            assert fetched.body is not None
            parsed = await asyncio.to_thread(
                parse_feed,
                fetched.body,
                url=fetched.url,
                content_type=fetched.content_type,
                now=now,
            )
        except FetchError as exc:
            return await self._failed(feed, exc.reason, now, exc.retry_after)
        except NotAFeedError as exc:
            return await self._failed(feed, f"not a feed: {exc}", now, None)
        return await self._store(feed, fetched, parsed, now)

    async def _not_modified(
        self, feed: FeedView, fetched: FetchResult, now: datetime
    ) -> PollReport:
        self._due[feed.id] = now + timedelta(seconds=self._settings.interval)
        if feed.consecutive_failures:
            async with writing(self._sessions) as session:
                await feed_store.record_poll_success(
                    session,
                    feed.id,
                    now=now,
                    etag=fetched.etag,
                    last_modified=fetched.last_modified,
                    title=None,
                )
            log.info("feed=%s recovered after %d failures", feed.url, feed.consecutive_failures)
        return PollReport(feed, "not-modified")

    async def _failed(
        self, feed: FeedView, error: str, now: datetime, retry_after: float | None
    ) -> PollReport:
        delay = next_poll_delay(
            self._settings.interval,
            feed.consecutive_failures + 1,
            self._settings.max_backoff,
            retry_after,
        )
        next_at = now + timedelta(seconds=delay)
        self._due[feed.id] = next_at
        async with writing(self._sessions) as session:
            await feed_store.record_poll_failure(
                session, feed.id, now=now, error=error, next_poll_at=next_at
            )
        # Once per state change: a feed failing the same way every minute logs once.
        if feed.consecutive_failures == 0 or feed.last_error != error:
            log.warning("feed=%s failing: %s; next try in %.0f s", feed.url, error, delay)
        else:
            log.debug("feed=%s still failing: %s; next try in %.0f s", feed.url, error, delay)
        return PollReport(feed, "failed", error=error)

    async def _store(
        self, feed: FeedView, fetched: FetchResult, parsed: ParsedFeed, now: datetime
    ) -> PollReport:
        items = []
        names: dict[str, str] = {}
        for draft in parsed.entries:
            sections = sections_for_item(draft, feed.section, parsed.title)
            names.update({k: v for k, v in sections.items() if k not in names})
            items.append((draft, tuple(sections)))
        markers = self._settings.breaking_markers
        baseline = Baseline(taken=feed.initialized, empty_at=feed.empty_baseline_at)
        push_max_age = timedelta(seconds=self._settings.push_max_age)
        policy = story_store.IngestPolicy(
            now=now,
            news=frozenset(
                d.identity
                for d in parsed.entries
                if is_news(d.published_at, baseline=baseline, now=now, push_max_age=push_max_age)
            ),
            breaking=frozenset(
                d.identity for d in parsed.entries if is_breaking(d.title, d.categories, markers)
            ),
            edition=feed.edition,
        )
        try:
            async with writing(self._sessions) as session:
                await story_store.remember_sections(session, names, now, feed.edition)
                outcome = await story_store.store_feed_items(session, feed.id, items, policy)
                # The broadcasts are durable with the stories themselves: a crash or a failed
                # hand-off right after this commit cannot lose a push.
                await delivery_store.queue_broadcasts(
                    session, [(s.id, s.breaking) for s in outcome.new], PUSH, now
                )
                for story in outcome.updated:
                    await delivery_store.requeue_edit(session, story.id, now)
                await feed_store.record_poll_success(
                    session,
                    feed.id,
                    now=now,
                    etag=fetched.etag,
                    last_modified=fetched.last_modified,
                    title=parsed.title,
                    has_items=bool(parsed.entries),
                )
        except SQLAlchemyError as exc:
            # Nothing of this poll was kept; back off like any failure instead of retrying
            # the same rows every tick.
            log.exception("feed=%s could not be stored", feed.url)
            return await self._failed(feed, f"storage error: {type(exc).__name__}", now, None)
        self._due[feed.id] = now + timedelta(seconds=self._settings.interval)
        if feed.consecutive_failures:
            log.info("feed=%s recovered after %d failures", feed.url, feed.consecutive_failures)
        if parsed.bozo:
            log.debug("feed=%s is malformed but usable: %s", feed.url, parsed.bozo_reason)
        log.log(
            logging.INFO if outcome.new else logging.DEBUG,
            "feed=%s new=%d updated=%d backlog=%d unchanged=%d",
            feed.url,
            len(outcome.new),
            len(outcome.updated),
            len(outcome.backlog),
            outcome.unchanged,
        )
        if self._handoff is not None and (outcome.new or outcome.updated):
            try:
                await self._handoff(feed, outcome)
            except Exception:
                # The stories are committed as pending; fan-out can pick them up again.
                log.exception("feed=%s hand-off of new stories failed", feed.url)
        return PollReport(feed, "ok", outcome=outcome)
