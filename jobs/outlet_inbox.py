"""The outlet's events, processed: the inbox the listener (and the comments feed) fills.

``OutletInbox.accept`` is what the listener calls for a verified event: it reads the data
(a malformed one is refused, for a 400), keeps the event in the inbox (a repeated
``webhook-id`` changes nothing) and wakes the processor. Events of a type nobody handles are
acknowledged and ignored, logged once per type.

The processor runs on every instance: rows are claimed under a lease, each by one instance,
so a crash between accepting and processing loses nothing (the row is still pending, or its
lease runs out). Each event is processed in one transaction by the handler of its type
(``HANDLERS``; ``story.published``'s comes from ``jobs.published_stories``, with its
accept-time ``checks`` and the ``prepare`` step that runs before the transaction, such as
polling feeds); readers are told, and the fan-out woken, after commit. An event whose story
is not stored yet waits (retried with back-off) until it is, or is dropped with a log line
after ``give_up_after`` (a day).

Reply notices ("someone answered your comment on the site") are sent by the same loop: once
per reply, after the reader's quiet hours, never when they turned them off in /settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from jobs.waking import run_until_stopped
from news.clock import utcnow
from news.outlet_events import (
    COMMENT_DELETED,
    COMMENT_PUBLISHED,
    COMMENT_REJECTED,
    READERS,
    CommentDeleted,
    CommentPublished,
    CommentRejected,
    MalformedEvent,
)
from news.quiet_hours import quiet_until
from news.retry_timing import backoff
from storage import chats as chat_store
from storage import inbox
from storage import published_comments as site
from storage.comments import CommentView, mark_told
from storage.engine import SessionFactory, writing
from storage.published_comments import ReplyNotice

log = logging.getLogger(__name__)

Accepted = Literal["new", "repeat", "ignored"]


class InboxNotifier(Protocol):
    """The bot side: tells readers what the site did (never raises)."""

    async def comment_changed(
        self, comment: CommentView, *, still_trying: bool = False, paused: bool = False
    ) -> None:
        """The reader's comment is now published or rejected: edit their confirmation."""

    async def reply_received(self, notice: ReplyNotice) -> bool:
        """Tell the reader someone replied on the site; False when they cannot be told."""


@dataclass(frozen=True, slots=True)
class Retry:
    """How an event that waits is tried again, when not as the inbox's settings say."""

    first: float  # seconds before the first retry, doubling after
    cap: float
    give_up_after: timedelta


@dataclass(frozen=True, slots=True)
class Handled:
    """What processing one event came to."""

    wait: str | None = None  # not yet (why): its story is unknown, try again later
    changed: CommentView | None = None  # a reader's comment moved on: tell them
    notices: bool = False  # a reply notice became due
    retry: Retry | None = None  # how a waiting event is retried (default: the settings')
    after: Callable[[], None] | None = None  # run after commit (wake the fan-out)


EventHandler = Callable[[AsyncSession, Any, datetime], Awaitable[Handled]]
# Runs before an event's transaction, outside it (a poll of feeds: never inside a write).
EventPreparation = Callable[[Any], Awaitable[None]]
# Refuses, at accept time, an event well formed but not for this bot (MalformedEvent: 400).
EventCheck = Callable[[Any], None]


async def _published(session: AsyncSession, event: CommentPublished, now: datetime) -> Handled:
    story_id = await site.find_story_id(session, event.story)
    if story_id is None:
        return Handled(wait=f"story unknown ({event.story.link or event.story.guid})")
    outcome = await site.record_published(session, event, story_id, now)
    return Handled(changed=outcome.comment, notices=outcome.new)


async def _rejected(session: AsyncSession, event: CommentRejected, now: datetime) -> Handled:
    return Handled(changed=await site.record_rejected(session, event, now))


async def _deleted(session: AsyncSession, event: CommentDeleted, now: datetime) -> Handled:
    await site.record_deleted(session, event.id, now)
    return Handled()


# One handler per event type; the data is read by news.outlet_events.READERS[type] first.
HANDLERS: dict[str, EventHandler] = {
    COMMENT_PUBLISHED: _published,
    COMMENT_REJECTED: _rejected,
    COMMENT_DELETED: _deleted,
}


@dataclass(frozen=True, slots=True)
class InboxSettings:
    """The processor's knobs."""

    default_timezone: str = "UTC"
    batch: int = 20
    lease: timedelta = timedelta(seconds=60)
    first_retry: float = 30.0  # seconds before an event waiting for its story is tried again
    max_retry: float = 600.0
    give_up_after: timedelta = timedelta(days=1)
    idle_wait: float = 20.0  # rows other instances wrote are seen within this time


@dataclass(slots=True)
class InboxStats:
    """What this instance processed since it started (for tests and logs)."""

    accepted: int = 0
    repeats: int = 0
    ignored: int = 0
    processed: int = 0
    waiting: int = 0
    dropped: int = 0
    notices: int = 0


class OutletInbox:
    """Accepts verified events into the inbox and processes them; ``start()`` / ``stop()``."""

    def __init__(
        self,
        sessions: SessionFactory,
        settings: InboxSettings,
        notifier: InboxNotifier | None = None,
        *,
        handlers: Mapping[str, EventHandler] = HANDLERS,
        prepare: Mapping[str, EventPreparation] | None = None,
        checks: Mapping[str, EventCheck] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.notifier = notifier
        self.stats = InboxStats()
        self._handlers = dict(handlers)
        self._prepare = dict(prepare or {})
        self._checks = dict(checks or {})
        self._clock = clock
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._ignored_types: set[str] = set()

    def handles(self, kind: str) -> bool:
        """Whether events of this type are kept and processed."""
        return kind in self._handlers and kind in READERS

    def wake(self) -> None:
        """New work: process it now rather than at the next timer."""
        self._wake.set()

    # --- accepting ---

    async def accept(self, webhook_id: str, kind: str, data: Mapping[str, Any]) -> Accepted:
        """Keep a verified event; MalformedEvent when its data cannot be read.

        Returns ``new``, ``repeat`` (this webhook-id was kept before) or ``ignored`` (a type
        nobody handles: acknowledged, logged once per type).
        """
        if not self.handles(kind):
            self.stats.ignored += 1
            if kind not in self._ignored_types and len(self._ignored_types) < 100:
                self._ignored_types.add(kind)
                log.info("outlet inbox: ignoring events of type %r (no handler)", kind[:100])
            return "ignored"
        event = READERS[kind](data)  # MalformedEvent, which the listener answers with 400
        check = self._checks.get(kind)
        if check is not None:
            check(event)
        async with writing(self.sessions) as session:
            added = await inbox.add_event(session, webhook_id, kind, dict(data), self._clock())
        if added:
            self.stats.accepted += 1
            self.wake()
            return "new"
        self.stats.repeats += 1
        return "repeat"

    # --- processing ---

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Process in the background until ``stop()``."""
        if self.running:
            return
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outlet-inbox")

    async def stop(self) -> None:
        """Finish the event in hand; what is left waits in the inbox (its lease runs out)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        await run_until_stopped(
            self.process_due,
            self._wake,
            lambda: self._stopping,
            failed="outlet inbox: processing failed",
            wait_after_failure=5.0,
        )

    async def process_due(self) -> float:
        """One pass: process the due events, send the due reply notices; returns how long
        to sleep before the next pass."""
        settings = self.settings
        while not self._stopping:
            async with writing(self.sessions) as session:
                claimed = await inbox.claim_events(
                    session, self._clock(), limit=settings.batch, lease=settings.lease
                )
            for item in claimed:
                await self._process(item)
            if len(claimed) < settings.batch:
                break
        await self._send_notices()
        async with self.sessions() as session:
            due = [await inbox.next_due(session), await site.next_notice_due(session)]
        soonest = min((d for d in due if d is not None), default=None)
        if soonest is None:
            return settings.idle_wait
        return max(0.05, min(settings.idle_wait, (soonest - self._clock()).total_seconds()))

    async def _process(self, item: inbox.InboxItem) -> None:
        now = self._clock()
        handled: Handled | None = None
        error: str | None = None
        try:
            event = READERS[item.type](item.data)
            check = self._checks.get(item.type)
            if check is not None:  # the configuration may have changed since it was kept
                check(event)
            preparation = self._prepare.get(item.type)
            if preparation is not None:
                await preparation(event)
                now = self._clock()
            async with writing(self.sessions) as session:
                handled = await self._handlers[item.type](session, event, now)
                if handled.wait is None:
                    await inbox.finish_event(session, item.id, now)
        except (MalformedEvent, KeyError) as exc:  # kept by an older version, or no handler
            async with writing(self.sessions) as session:
                await inbox.finish_event(session, item.id, now, dropped=f"unreadable: {exc}")
            log.warning("outlet inbox: event %s dropped: unreadable (%s)", item.webhook_id, exc)
            return
        except Exception as exc:
            log.exception("outlet inbox: event %s (%s) failed", item.webhook_id, item.type)
            error = f"failed: {type(exc).__name__}"
        why = error or (handled.wait if handled is not None else None)
        if why is not None:
            await self._later(item, why, now, handled.retry if handled is not None else None)
            return
        assert handled is not None
        if handled.after is not None:
            handled.after()
        self.stats.processed += 1
        log.info("outlet inbox: event %s (%s) processed", item.webhook_id, item.type)
        if handled.changed is not None:
            await self._tell(handled.changed)

    async def _later(
        self, item: inbox.InboxItem, why: str, now: datetime, retry: Retry | None = None
    ) -> None:
        """Try again with back-off, or give up once the event is a day old."""
        retry = retry or Retry(
            self.settings.first_retry, self.settings.max_retry, self.settings.give_up_after
        )
        async with writing(self.sessions) as session:
            if now - item.received_at >= retry.give_up_after:
                await inbox.finish_event(session, item.id, now, dropped=why)
                self.stats.dropped += 1
                log.warning(
                    "outlet inbox: event %s (%s) dropped after %s: %s",
                    item.webhook_id,
                    item.type,
                    retry.give_up_after,
                    why,
                )
                return
            delay = backoff(
                item.attempts + 1,
                first=retry.first,
                cap=retry.cap,
                spread=(0.8, 1.2),
                draw=random.random(),
            )
            await inbox.retry_event(
                session, item.id, now, at=now + timedelta(seconds=delay), why=why
            )
        self.stats.waiting += 1
        log.info("outlet inbox: event %s waits: %s", item.webhook_id, why)

    async def _tell(self, comment: CommentView) -> None:
        if self.notifier is None:
            return
        try:
            await self.notifier.comment_changed(comment)
            async with writing(self.sessions) as session:
                await mark_told(session, comment.id, comment.status)
        except Exception:  # told later by the relay's sweep, which reads the same state
            log.exception("outlet inbox: telling the reader of comment %d failed", comment.id)

    # --- reply notices ---

    async def _send_notices(self) -> None:
        if self.notifier is None:
            return
        now = self._clock()
        async with writing(self.sessions) as session:
            notices = await site.claim_notices(
                session, now, limit=self.settings.batch, lease=self.settings.lease
            )
        for notice in notices:
            try:
                await self._send_notice(notice, now)
            except Exception:
                log.exception("outlet inbox: reply notice %d failed", notice.reply.id)

    async def _send_notice(self, notice: ReplyNotice, now: datetime) -> None:
        assert self.notifier is not None
        async with self.sessions() as session:
            chat = await chat_store.get_chat(session, notice.user_id)
            prefs = await chat_store.delivery_prefs(session, notice.user_id)
        if chat is None or not chat.active or not chat.comment_replies:
            async with writing(self.sessions) as session:
                await site.notice_finished(session, notice.reply.id, sent=False, now=now)
            return
        if prefs is not None and prefs.quiet_start and prefs.quiet_end:
            zone = ZoneInfo(chat.timezone or self.settings.default_timezone)
            until = quiet_until(
                now,
                time.fromisoformat(prefs.quiet_start),
                time.fromisoformat(prefs.quiet_end),
                zone,
            )
            if until is not None:
                async with writing(self.sessions) as session:
                    await site.notice_later(session, notice.reply.id, until)
                return
        sent = await self.notifier.reply_received(notice)
        async with writing(self.sessions) as session:
            await site.notice_finished(session, notice.reply.id, sent=sent, now=self._clock())
        if sent:
            self.stats.notices += 1
            log.info("outlet inbox: reader=%s told of reply %d", notice.user_id, notice.reply.id)
