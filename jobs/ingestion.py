"""Polling one feed: fetch, parse off the event loop, store in short batches, hand off.

A poll stores its items in batches of ``PollSettings.batch_size``, each its own short
transaction, oldest first, so that a feed of thousands of items never holds SQLite's write
lock for long; the batch that stores the last items also records the poll (validators,
baseline). Only what storage reports as new is handed on, batch by batch, after each
commit. A crash or a stop between batches loses nothing: the committed batches' stories
are stored (their broadcasts with them), and the next poll, which fetches the whole
document again, finds them stored and stores the rest, baseline rules unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import aiohttp
from sqlalchemy.exc import SQLAlchemyError

from jobs import metrics
from jobs.clients.feeds import FetchError, FetchResult, fetch_feed
from jobs.parse_process import CHILD_PROCESS_BYTES, ParseProcessError, parse_in_child_process
from news.breaking import is_breaking
from news.clock import utcnow
from news.feed_parsing import NotAFeedError, ParsedFeed, parse_feed
from news.freshness import Baseline, is_news
from news.retry_timing import next_poll_delay
from news.sections import sections_for_item
from news.story_draft import StoryDraft
from storage import deliveries as delivery_store
from storage import feeds as feed_store
from storage import stories as story_store
from storage import websub as websub_store
from storage.deliveries import PUSH
from storage.engine import SessionFactory, writing
from storage.feeds import FeedView
from storage.records import IngestOutcome, StoryView

log = logging.getLogger(__name__)
T = TypeVar("T")

# How stale the stored last success of a feed answering 304 may grow before it is written
# again. A 304 is a success, and /stats, the dead-feed alert and the metrics read the stored
# time (on every instance, while only the leader polls); /stats shows it to the minute
# ("just now" under one). So a feed polled every 2 s costs one UPDATE of one row a minute,
# not 30, and one polled every minute or less often writes on each 304.
SUCCESS_REFRESH = timedelta(seconds=60)

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
    # SECTIONS as news.sections.category_sections gives it: folded category → section slugs.
    category_sections: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    max_items: int = 1000  # FEED_MAX_ITEMS: the newest items taken from one document
    # Items per transaction: a few hundred rows are stored in tens of milliseconds, so a
    # reader's write waits at most that long behind a big feed.
    batch_size: int = 500
    # WEBSUB_POLL_INTERVAL: a feed whose hub pushes to us (an active WebSub subscription) is
    # still polled, as a safety net, this often; None polls it every ``interval``.
    pushed_interval: float | None = None


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
        hubs_changed: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = session_factory
        self._http = http
        self._settings = settings
        self._handoff = handoff
        # Told when a feed starts or stops advertising a WebSub hub (the subscriber wakes).
        self._hubs_changed = hubs_changed
        # One poll (or pushed document) of a feed at a time in this process: the timer's,
        # an outlet event's and a hub's may coincide.
        self._feed_locks: dict[int, asyncio.Lock] = {}
        # When each feed last answered (200 or 304): with a healthy WebSub subscription the
        # timer polls it only every ``pushed_interval``.
        self._answered: dict[int, datetime] = {}
        self._fetch_slots = asyncio.Semaphore(concurrency)
        self._clock = clock
        # A healthy feed's 304 writes at most its last success (SUCCESS_REFRESH), never its
        # next due time, which lives here.
        self._due: dict[int, datetime] = {}
        # Invalid UTF-8 bytes replaced in each feed's last document, to warn once per change.
        self._replaced: dict[int, int] = {}
        # Set by `stop`: polls under way end at their next safe point (see PollStopped).
        self._stopping = asyncio.Event()
        self._polls: set[asyncio.Future[None]] = set()  # each resolved when its poll ends

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
        slack = self._tick_slack()
        if due is not None and due > self._clock() + slack:
            return None
        if await self._pushed_recently(feed_id, slack):
            return None
        try:
            return await self.poll(feed_id)
        except PollStopped as stopped:
            log.info("poll of feed %d stopped %s; the next one does the rest", feed_id, stopped)
            return None

    async def _pushed_recently(self, feed_id: int, slack: timedelta) -> bool:
        """Whether a feed whose hub pushes to us answered recently enough to skip this tick:
        polling is the safety net then, every ``pushed_interval``; a lease that lapses or
        fails brings the feed back to every tick."""
        pushed = self._settings.pushed_interval
        answered = self._answered.get(feed_id)
        if pushed is None or answered is None:
            return False
        now = self._clock()
        if now - answered >= timedelta(seconds=pushed) - slack:
            return False
        async with self._sessions() as session:
            return await websub_store.healthy_feed(session, feed_id, now)

    async def stop(self) -> None:
        """End the polls under way and wait for them, so that no ingestion holds up a shutdown
        or a step-down: a fetch or a parse is abandoned, a batch being stored commits first
        (it is short), and the next poll stores what they had not. The poller can poll again
        afterwards."""
        self._stopping.set()
        try:
            await asyncio.gather(*self._polls, return_exceptions=True)
        finally:
            self._stopping.clear()

    async def poll(self, feed_id: int, *, fresh: bool = False) -> PollReport:
        """Poll one feed now, whatever its schedule; never raises for a feed's own failure
        (PollStopped when `stop` ends it). ``fresh`` asks caches on the way to revalidate."""
        started = time.perf_counter()
        report = await self._tracked(feed_id, lambda: self._poll(feed_id, fresh=fresh))
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

    async def ingest_pushed(
        self, feed_id: int, body: bytes, content_type: str | None
    ) -> PollReport:
        """Store a document the feed's WebSub hub pushed (verified by the caller), by the
        same rules and safeguards as a polled one: the size cap, parsing off the loop (a big
        document in a child process), batches, identity, freshness and the hand-off."""
        report = await self._tracked(
            feed_id, lambda: self._ingest_pushed(feed_id, body, content_type)
        )
        outcome = report.outcome
        if outcome.new:
            metrics.STORIES.labels("new").inc(len(outcome.new))
        return report

    async def _tracked(
        self, feed_id: int, work: Callable[[], Awaitable[PollReport]]
    ) -> PollReport:
        """Run one poll (or pushed document) of a feed, one at a time per feed, where
        ``stop`` can wait for it."""
        finished = asyncio.get_running_loop().create_future()
        self._polls.add(finished)
        lock = self._feed_locks.setdefault(feed_id, asyncio.Lock())
        try:
            async with lock:
                return await work()
        finally:
            self._polls.discard(finished)
            finished.set_result(None)

    async def _ingest_pushed(
        self, feed_id: int, body: bytes, content_type: str | None
    ) -> PollReport:
        async with self._sessions() as session:
            feed = await feed_store.get_feed(session, feed_id)
        if feed is None:
            raise LookupError(f"no feed with id {feed_id}")
        now = self._clock()
        if len(body) > self._settings.max_bytes:
            return PollReport(feed, "failed", error="pushed document over FETCH_MAX_BYTES")
        # The validators stay the poll's: a pushed document says nothing about the feed's.
        document = FetchResult(body, feed.etag, feed.last_modified, content_type, feed.url)
        try:
            parsed = await self._unless_stopped(self._parse(document, now))
        except (NotAFeedError, ParseProcessError) as exc:
            log.warning("feed=%s: the hub pushed a document that is no feed: %s", feed.url, exc)
            return PollReport(feed, "failed", error=f"pushed document: {exc}")
        return await self._store(feed, document, parsed, now, pushed=True)

    async def _poll(self, feed_id: int, *, fresh: bool = False) -> PollReport:
        async with self._sessions() as session:
            feed = await feed_store.get_feed(session, feed_id)
        if feed is None:
            raise LookupError(f"no feed with id {feed_id}")
        now = self._clock()
        try:
            async with self._fetch_slots:
                fetched = await self._unless_stopped(
                    fetch_feed(
                        self._http,
                        feed.url,
                        etag=feed.etag,
                        last_modified=feed.last_modified,
                        timeout=self._settings.fetch_timeout,
                        max_bytes=self._settings.max_bytes,
                        now=now,
                        fresh=fresh,
                    )
                )
            if fetched.not_modified:
                return await self._not_modified(feed, fetched, now)
            assert fetched.body is not None
            parsed = await self._unless_stopped(self._parse(fetched, now))
        except FetchError as exc:
            return await self._failed(feed, exc.reason, now, exc.retry_after)
        except NotAFeedError as exc:
            return await self._failed(feed, f"not a feed: {exc}", now, None)
        except ParseProcessError as exc:
            return await self._failed(feed, f"parser process failed: {exc}", now, None)
        return await self._store(feed, fetched, parsed, now)

    async def _not_modified(
        self, feed: FeedView, fetched: FetchResult, now: datetime
    ) -> PollReport:
        """A 304 is a success: a failing feed has recovered, and a healthy one's last success
        is now — written once it is SUCCESS_REFRESH old rather than on every 304."""
        self._due[feed.id] = now + timedelta(seconds=self._settings.interval)
        self._answered[feed.id] = now
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
        elif self._success_is_stale(feed, now):
            async with writing(self._sessions) as session:
                await feed_store.record_not_modified(session, feed.id, now=now)
        return PollReport(feed, "not-modified")

    def _success_is_stale(self, feed: FeedView, now: datetime) -> bool:
        """Say whether the stored last success of a feed that answered 304 needs refreshing."""
        if feed.last_success_at is None:
            return True
        # The same slack as poll_due's: a feed polled every SUCCESS_REFRESH writes every
        # poll, not every other one.
        return now - feed.last_success_at >= SUCCESS_REFRESH - self._tick_slack()

    def _tick_slack(self) -> timedelta:
        """Ticks come exactly one interval apart, while a time compared with them was set a
        few milliseconds after the previous tick; without this slack a healthy feed would be
        polled (or its success written) every other tick."""
        return timedelta(seconds=min(self._settings.interval * 0.1, 1.0))

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
        self,
        feed: FeedView,
        fetched: FetchResult,
        parsed: ParsedFeed,
        now: datetime,
        *,
        pushed: bool = False,
    ) -> PollReport:
        if parsed.item_count > len(parsed.entries):
            log.info(
                "feed=%s holds %d items; taking the newest %d (FEED_MAX_ITEMS)",
                feed.url,
                parsed.item_count,
                self._settings.max_items,
            )
        items: list[tuple[StoryDraft, tuple[str, ...]]] = []
        names: dict[str, str] = {}
        for draft in parsed.entries:
            sections = sections_for_item(draft, feed.section, self._settings.category_sections)
            names.update({k: v for k, v in sections.items() if k not in names})
            items.append((draft, tuple(sections)))
        items = story_store.oldest_first(items)
        size = self._settings.batch_size
        batches = [items[start : start + size] for start in range(0, len(items), size)] or [[]]
        totals = _Totals()
        claimed: set[int] = set()  # the stories this document's items are, across batches
        for number, batch in enumerate(batches, start=1):
            last = number == len(batches)
            if self._stopping.is_set():
                raise PollStopped(f"after {number - 1} of {len(batches)} batches")
            try:
                stored = await _uninterrupted(
                    self._store_batch(
                        feed,
                        batch,
                        names if number == 1 else {},
                        claimed,
                        now,
                        (fetched, parsed) if last else None,
                        pushed=pushed,
                    )
                )
            except SQLAlchemyError as exc:
                # The batches before this one are stored; this one was rolled back. Back off
                # like any failure instead of retrying the same rows every tick; the next
                # poll finds the stored ones and stores the rest.
                log.exception("feed=%s could not be stored", feed.url)
                return await self._failed(feed, f"storage error: {type(exc).__name__}", now, None)
            outcome = stored.stories
            totals.add(outcome)
            if last and stored.hub_changed and self._hubs_changed is not None:
                self._hubs_changed()
            if self._handoff is not None and (outcome.new or outcome.updated):
                try:
                    await self._handoff(feed, outcome)
                except Exception:
                    # The stories are committed with their broadcasts; fan-out sends them.
                    log.exception("feed=%s hand-off of new stories failed", feed.url)
        outcome = totals.outcome()
        self._due[feed.id] = now + timedelta(seconds=self._settings.interval)
        if not pushed:
            self._answered[feed.id] = now
        if feed.consecutive_failures:
            log.info("feed=%s recovered after %d failures", feed.url, feed.consecutive_failures)
        if parsed.bozo:
            log.debug("feed=%s is malformed but usable: %s", feed.url, parsed.bozo_reason)
        self._note_replaced_bytes(feed, parsed.replaced_bytes)
        log.log(
            logging.INFO if outcome.new else logging.DEBUG,
            "feed=%s new=%d updated=%d backlog=%d unchanged=%d",
            feed.url,
            len(outcome.new),
            len(outcome.updated),
            len(outcome.backlog),
            outcome.unchanged,
        )
        return PollReport(feed, "ok", outcome=outcome)

    def _note_replaced_bytes(self, feed: FeedView, replaced: int) -> None:
        """Log a feed's invalid UTF-8 bytes: a warning when their number changes, else debug."""
        if not replaced:
            self._replaced.pop(feed.id, None)
            return
        # The broken item usually stays in the feed for hours; one warning per change
        # tells the operator without repeating it every poll.
        level = logging.DEBUG if self._replaced.get(feed.id) == replaced else logging.WARNING
        self._replaced[feed.id] = replaced
        log.log(
            level,
            "feed=%s has invalid UTF-8: %d byte(s) replaced with U+FFFD, the rest kept",
            feed.url,
            replaced,
        )

    async def _parse(self, fetched: FetchResult, now: datetime) -> ParsedFeed:
        """Parse off the event loop: a big document in a child process, others in a thread."""
        assert fetched.body is not None
        arguments: dict[str, Any] = {
            "url": fetched.url,
            "content_type": fetched.content_type,
            "now": now,
            "max_items": self._settings.max_items,
        }
        if len(fetched.body) >= CHILD_PROCESS_BYTES:
            return await parse_in_child_process(fetched.body, **arguments)
        return await _off_the_loop(parse_feed, fetched.body, **arguments)

    async def _unless_stopped(self, work: Awaitable[T]) -> T:
        """Await a fetch or a parse, abandoning it (it writes nothing) if `stop` is called."""
        task = asyncio.ensure_future(work)
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            abandoned = not task.done()
            if abandoned:
                task.cancel()
        if abandoned:
            await asyncio.wait({task})  # let the fetch close its connection
            if not task.cancelled():
                task.exception()  # finished meanwhile: its outcome no longer matters
            raise PollStopped("while fetching or parsing")
        return task.result()

    async def _store_batch(
        self,
        feed: FeedView,
        batch: Sequence[tuple[StoryDraft, tuple[str, ...]]],
        names: dict[str, str],
        claimed: set[int],
        now: datetime,
        finished: tuple[FetchResult, ParsedFeed] | None,
        *,
        pushed: bool = False,
    ) -> _BatchOutcome:
        """One short transaction: a batch of items, the broadcasts of the new ones, the
        corrections of the edited ones, and with the last batch (``finished``) the poll's
        success (validators, baseline)."""
        baseline = Baseline(taken=feed.initialized, empty_at=feed.empty_baseline_at)
        push_max_age = timedelta(seconds=self._settings.push_max_age)
        markers = self._settings.breaking_markers
        policy = story_store.IngestPolicy(
            now=now,
            news=frozenset(
                d.identity
                for d, _ in batch
                if is_news(d.published_at, baseline=baseline, now=now, push_max_age=push_max_age)
            ),
            breaking=frozenset(
                d.identity for d, _ in batch if is_breaking(d.title, d.categories, markers)
            ),
            edition=feed.edition,
        )
        async with writing(self._sessions) as session:
            await story_store.remember_sections(session, names, now, feed.edition)
            outcome = await story_store.store_feed_items(
                session, feed.id, batch, policy, claimed=claimed
            )
            # The broadcasts are durable with the stories themselves: a crash or a failed
            # hand-off right after this commit cannot lose a push.
            await delivery_store.queue_broadcasts(
                session, [(s.id, s.breaking) for s in outcome.new], PUSH, now
            )
            for story in outcome.updated:
                await delivery_store.requeue_edit(session, story.id, now)
            hub_changed = False
            if finished is not None:
                fetched, parsed = finished
                await feed_store.record_poll_success(
                    session,
                    feed.id,
                    now=now,
                    etag=fetched.etag,
                    last_modified=fetched.last_modified,
                    title=parsed.title,
                    has_items=bool(parsed.entries),
                )
                # What the hub pushes may be a fragment of the feed: only a polled document
                # says which hub the feed advertises.
                if not pushed:
                    hub_changed = await websub_store.record_hub(
                        session, feed.id, parsed.hub, parsed.topic
                    )
        return _BatchOutcome(outcome, hub_changed)


@dataclass(frozen=True, slots=True)
class _BatchOutcome:
    """One stored batch: its stories, and whether the feed's advertised hub changed."""

    stories: IngestOutcome
    hub_changed: bool = False


class PollStopped(Exception):
    """`FeedPoller.stop` ended the poll between two of its steps; what it stored stays."""


async def _uninterrupted(work: Awaitable[T]) -> T:
    """Await a short transaction so that a cancellation of the caller waits for it to commit
    or roll back: cancelled mid-statement, an aiosqlite connection can keep SQLite's write
    lock until it is garbage-collected."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task})
        raise


@dataclass(slots=True)
class _Totals:
    """The outcomes of a poll's batches, added up."""

    new: list[StoryView] = field(default_factory=list)
    updated: list[StoryView] = field(default_factory=list)
    backlog: list[StoryView] = field(default_factory=list)
    unchanged: int = 0

    def add(self, outcome: IngestOutcome) -> None:
        self.new += outcome.new
        self.updated += outcome.updated
        self.backlog += outcome.backlog
        self.unchanged += outcome.unchanged

    def outcome(self) -> IngestOutcome:
        return IngestOutcome(
            tuple(self.new), tuple(self.updated), tuple(self.backlog), self.unchanged
        )


async def _off_the_loop(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``function`` in a daemon thread of its own and await its result.

    Not the default executor: ``asyncio.run`` waits for that one's threads at exit, so a
    parse of a huge feed (seconds of feedparser) would hold a SIGTERM hostage. A cancelled
    call leaves its thread to finish (or to die with the process) and drops its result.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(outcome: tuple[T] | BaseException) -> None:
        if future.done():  # cancelled meanwhile
            return
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome[0])

    def run() -> None:
        outcome: tuple[T] | BaseException
        try:
            outcome = (function(*args, **kwargs),)
        except BaseException as exc:  # handed to the awaiting task, as to_thread would
            outcome = exc
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(deliver, outcome)

    threading.Thread(target=run, name="feed-parse", daemon=True).start()
    return await future
