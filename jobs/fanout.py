"""Push fan-out: new stories become durable deliveries, sent at Telegram's pace, exactly once.

Three cooperating loops, all in one ``Broadcaster``:

- the *enumerator* turns each open broadcast into delivery rows, one keyset batch of
  subscribers at a time, staying only a little ahead of the sender (so the first message of
  a million-reader broadcast does not wait for a million rows);
- the *claimer* takes due deliveries, most urgent first, and hands them to workers;
- *workers* pace every send through one sliding-window limiter (Telegram meters per bot, so
  a 429 pauses all of them) and report outcomes to the *recorder*, which writes them in
  small batches every ``flush_interval`` — the window in which a crash can cause a duplicate.

Nothing here awaits Telegram while a transaction is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from jobs import metrics
from jobs.clients.telegram import (
    BotApiClient,
    SendKind,
    SendMessageTemplate,
    SendResult,
    encode_edit_message_text,
    encode_send_message,
)
from news.clock import utcnow
from news.keywords import KeywordMatcher
from news.quiet_hours import quiet_until
from news.retry_timing import MAX_SEND_ATTEMPTS, backoff
from news.search_words import search_document
from news.send_rate import PerChatLimiter, SlidingWindowLimiter
from storage import channels as channel_store
from storage import chats as chat_store
from storage import deliveries as queue
from storage import stories as story_store
from storage.deliveries import EDIT, PUSH, DeliveryJob, Outcome, Recipient
from storage.engine import SessionFactory, writing
from storage.feeds import FeedView
from storage.models import PRIORITY_BREAKING
from storage.records import IngestOutcome, StoryView

log = logging.getLogger(__name__)

MAX_GROUP = 8  # stories in one grouped message


@dataclass(frozen=True, slots=True)
class PushMessage:
    """A rendered push: HTML text, a plain-text fallback, buttons and the preview link."""

    text: str
    plain: str
    reply_markup: dict[str, object] | None = None
    preview_url: str | None = None


class PushRenderer(Protocol):
    """Renders one story, or several for a grouped push, in a reader's time zone and language
    (``locale``: the chat's chosen language or Telegram's code for it; None: the default)."""

    def __call__(
        self,
        stories: Sequence[StoryView],
        zone: str,
        *,
        locale: str | None = None,
        keywords: Sequence[str] = (),
    ) -> PushMessage: ...

    def language(self, locale: str | None) -> str:
        """The language ``locale`` renders in: readers whose codes render alike ("de", "fa",
        None: all the default) share one cached render."""
        ...


@dataclass(frozen=True, slots=True)
class FanoutSettings:
    """The fan-out knobs, as plain values from the settings."""

    send_rate: int = 25
    paid_broadcast: bool = False
    default_timezone: str = "UTC"
    default_edition: str = "en"
    comment_window: timedelta = timedelta(days=7)
    push_max_age: timedelta = timedelta(hours=6)
    enumerate_batch: int = 500
    max_ahead: int = 2000  # pending deliveries the enumerator may run ahead of the sender
    max_in_flight: int = 32
    flush_interval: float = 0.05


class ChannelRenderer(Protocol):
    """Renders one story as a channel post, in its edition's language."""

    def __call__(self, story: StoryView) -> PushMessage: ...


@dataclass(frozen=True, slots=True)
class ChannelTargets:
    """The outlet's channels as the fan-out sees them (the bot checks them): each is one more
    recipient of every new story of its edition, paced as a group (20 a minute), never
    grouped (each post has its own discussion thread), and corrected like a push."""

    postable: Callable[[], Sequence[tuple[int, str]]]  # (chat id, edition), may post now
    known: Callable[[], set[int]]  # every configured channel's id
    render: ChannelRenderer
    trouble: Callable[[], Coroutine[Any, Any, object]]  # a post failed: check them again


@dataclass(frozen=True, slots=True)
class _Rendered:
    """A cached push: the message, and its sendMessage body for any chat, until ``expires``."""

    expires: float
    message: PushMessage
    template: SendMessageTemplate


# Story ids, time zone, language, and for a keyword alert the followed words it matched.
RenderKey = tuple[tuple[int, ...], str, str, tuple[str, ...]]


@dataclass(slots=True)
class _Unit:
    """What one message carries: one delivery, or several of one chat grouped together."""

    jobs: list[DeliveryJob]
    chat_id: int = 0
    attempts: int = 0

    def __post_init__(self) -> None:
        self.chat_id = self.jobs[0].chat_id
        self.attempts = max(j.attempts for j in self.jobs)


@dataclass(slots=True)
class FanoutStats:
    """Counters for /stats and the logs."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    rate_limited: int = 0
    grouped: int = 0
    last_error: str | None = None
    started_at: datetime = field(default_factory=utcnow)
    # Set when the Bot API refused the token (401), cleared by the next message it accepts.
    unauthorized: bool = False


class Broadcaster:
    """Owns the push pipeline; ``start()`` after the database is ready, ``stop()`` at exit."""

    def __init__(
        self,
        sessions: SessionFactory,
        client: BotApiClient,
        renderer: PushRenderer,
        settings: FanoutSettings,
        *,
        limiter: SlidingWindowLimiter | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._render = renderer
        self._settings = settings
        self._limiter = limiter or SlidingWindowLimiter(settings.send_rate)
        metrics.SEND_RATE_LIMIT.set(self._limiter.rate)
        self._per_chat = PerChatLimiter()
        self._clock = clock
        self._work = asyncio.Event()  # new broadcasts to enumerate
        self._due = asyncio.Event()  # new deliveries to send
        self._drained = asyncio.Event()  # the sender made room for more
        self._queue: asyncio.Queue[_Unit] = asyncio.Queue(maxsize=settings.max_in_flight)
        self._outcomes: list[Outcome] = []
        self._claimed: set[int] = set()  # claimed (in flight) and not yet reported
        self._rendered: dict[RenderKey, _Rendered] = {}
        self._muted: dict[int, list[str]] = {}  # story id -> muted words it mentions
        # Renders under way: the other workers wanting the same message wait for it.
        self._rendering: dict[RenderKey, asyncio.Event] = {}
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._taken = asyncio.Event()  # a worker took a unit: the claimer may fill again
        self._tasks: list[asyncio.Task[None]] = []
        self.stats = FanoutStats()
        self._channels: ChannelTargets | None = None
        self._checks: set[asyncio.Task[object]] = set()

    def set_channels(self, channels: ChannelTargets) -> None:
        """Post every new story to these channels too (the bot knows them only once it
        exists, after the fan-out was built)."""
        self._channels = channels

    # --- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Resume whatever a previous run left: in-flight sends, unqueued stories."""
        now = self._clock()
        async with writing(self._sessions) as session:
            resent = await queue.release_in_flight(session, now)
            pending = await story_store.pending_stories(
                session, since=now - self._settings.push_max_age
            )
            await queue.queue_broadcasts(session, [(s.id, s.breaking) for s in pending], PUSH, now)
        if resent or pending:
            log.info("fan-out resuming: %d in-flight sends, %d stories", resent, len(pending))
        loops = [self._enumerate_loop, self._claim_loop, self._record_loop]
        self._tasks = [asyncio.create_task(loop(), name=loop.__name__) for loop in loops]
        self._tasks += [
            asyncio.create_task(self._worker(), name=f"send-worker-{n}")
            for n in range(self._settings.max_in_flight)
        ]
        self._work.set()
        self._due.set()

    async def stop(self) -> None:
        """Stop taking work, let sends in flight finish briefly, record every outcome."""
        workers = [t for t in self._tasks if t.get_name().startswith("send-worker")]
        others = [t for t in self._tasks if t not in workers]
        for task in others:  # enumerator, claimer, recorder: no new work from here on
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        # Claimed messages not yet sent go back to the queue; those in flight get a moment.
        while not self._queue.empty():
            unit = self._queue.get_nowait()
            self._report(unit, "pending", error="stopped")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout=2)
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._tasks = []
        await self._flush()
        # What this instance claimed and never reported (a claim cut short by the stop) goes
        # back to the queue for the next start. Only its own rows: on PostgreSQL a new leader
        # may already be sending others, and releasing those would have them sent twice.
        stranded, self._claimed = sorted(self._claimed), set()
        if stranded:
            async with writing(self._sessions) as session:
                await queue.release_deliveries(session, stranded, self._clock())

    def wake(self) -> None:
        """New broadcasts exist (called after the transaction that created them committed)."""
        self._work.set()

    @property
    def limiter(self) -> SlidingWindowLimiter:
        """The bulk-send limiter (its current rate is shown by /stats)."""
        return self._limiter

    # --- hand-off from ingestion -----------------------------------------------------------

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

    # --- enumeration ----------------------------------------------------------------------

    async def _enumerate_loop(self) -> None:
        while True:
            try:
                progressed = await self._enumerate_once()
            except Exception:
                log.exception("fan-out enumeration failed; retrying in 5 s")
                progressed = False
                await asyncio.sleep(5)
            if not progressed:
                self._work.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._work.wait(), timeout=1)

    async def _enumerate_once(self) -> bool:
        async with self._sessions() as session:
            broadcasts = await queue.open_broadcasts(session, limit=MAX_GROUP)
        if not broadcasts:
            return await self._sweep_pending()
        async with self._sessions() as session:
            # Stay only a little ahead of the sender, counting what is due now (not what
            # quiet hours hold) at the same urgency or more; breaking news is never held.
            top = broadcasts[0].priority
            if top != PRIORITY_BREAKING:
                backlog = await queue.backlog_size(session, self._clock(), top)
                if backlog >= self._settings.max_ahead:
                    self._drained.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._drained.wait(), timeout=1)
                    return True
        # The most urgent priority only (breaking news jumps the queue), but all its stories
        # in one transaction: a reader then finds them waiting together, and gets one message.
        urgent = [b for b in broadcasts if b.priority == broadcasts[0].priority]
        added = False
        async with writing(self._sessions) as session:
            for broadcast in urgent:
                added |= await self._enumerate_batch(session, broadcast)
        if added:
            self._due.set()
        return added

    async def _sweep_pending(self) -> bool:
        """Stories stored as new whose broadcast is missing (written by older versions, or
        by hand) are queued now; True when there were any."""
        now = self._clock()
        async with self._sessions() as session:
            stale_after = now - self._settings.push_max_age
            pending = await story_store.pending_stories(session, since=stale_after)
        if not pending:
            return False
        async with writing(self._sessions) as session:
            await queue.queue_broadcasts(session, [(s.id, s.breaking) for s in pending], PUSH, now)
        return True

    async def _enumerate_batch(
        self, session: queue.AsyncSession, broadcast: queue.BroadcastView
    ) -> bool:
        """One keyset batch of a broadcast's recipients; True when it queued any."""
        now = self._clock()
        batch = self._settings.enumerate_batch
        story = await story_store.get_story(session, broadcast.story_id)
        stale = broadcast.kind == PUSH and broadcast.created_at < now - self._settings.push_max_age
        if story is None or stale:
            # A broadcast queued long ago (e.g. by `newsbot poll` with no bot running) is old
            # news by now: it is closed without a message.
            await queue.advance_broadcast(session, broadcast.id, None, done=True)
            return False
        recipients: list[Recipient]
        if broadcast.kind == EDIT:
            if await queue.in_flight(session, story.id):
                # Pushes of this story still in flight have no message id to edit yet; come
                # back when their outcome is recorded (a fraction of a second).
                return False
            since = now - self._settings.comment_window
            recipients = await queue.edit_targets_batch(
                session, story.id, broadcast.cursor, batch, since
            )
            if broadcast.cursor is None and self._channels is not None:
                posts = await channel_store.channel_edit_targets(session, story.id, since)
                posts = [p for p in posts if p.chat_id in self._channels.known()]
                await queue.add_deliveries(
                    session, story.id, EDIT, broadcast.priority, [(p, None) for p in posts], now
                )
        else:
            # Words readers mute beat sections and followed words alike.
            muted = await self._muted_in(session, story)
            recipients = await queue.subscriber_batch(
                session,
                story.id,
                broadcast.cursor,
                batch,
                self._settings.default_edition,
                muted=muted,
            )
            if broadcast.cursor is None:
                await self._add_followers(session, story, broadcast.priority, now, muted)
                await self._add_channels(session, story, broadcast.priority, now)
        held = [(r, self._hold_until(r, story, broadcast.kind, now)) for r in recipients]
        await queue.add_deliveries(
            session, story.id, broadcast.kind, broadcast.priority, held, now
        )
        last = (recipients[-1].chat_id, recipients[-1].thread_id) if recipients else None
        await queue.advance_broadcast(session, broadcast.id, last, done=len(recipients) < batch)
        return True

    async def _muted_in(self, session: queue.AsyncSession, story: StoryView) -> list[str]:
        """The muted words and phrases (of any reader) that the story mentions, worked out
        once per story and kept for its broadcast's later batches (a word muted meanwhile
        counts from the next story on)."""
        cached = self._muted.get(story.id)
        if cached is not None:
            return cached
        phrases = await queue.muted_phrases(session)
        document = search_document(story.title, story.summary)
        found = sorted(KeywordMatcher(phrases).matches(document)) if phrases else []
        if len(self._muted) > 1000:  # bounded: a few broadcasts are open at a time
            self._muted.clear()
        self._muted[story.id] = found
        return found

    async def _add_followers(
        self,
        session: queue.AsyncSession,
        story: StoryView,
        priority: int,
        now: datetime,
        muted: Sequence[str] = (),
    ) -> None:
        """Keyword alerts: readers following a word in the story get it, whatever its section,
        labelled with the words that matched (first: a follower who also subscribes to the
        section gets the labelled alert, not a plain push)."""
        phrases = await queue.followed_phrases(session)
        if not phrases:
            return
        matched = KeywordMatcher(phrases).matches(search_document(story.title, story.summary))
        if not matched:
            return
        followers = await queue.follower_recipients(
            session, sorted(matched), story.edition, self._settings.default_edition, muted
        )
        held = [(r, self._hold_until(r, story, PUSH, now)) for r in followers]
        await queue.add_deliveries(session, story.id, PUSH, priority, held, now)

    async def _add_channels(
        self, session: queue.AsyncSession, story: StoryView, priority: int, now: datetime
    ) -> None:
        """The story's channel posts: one per channel of its edition the bot may post to."""
        if self._channels is None:
            return
        chats = [chat for chat, edition in self._channels.postable() if edition == story.edition]
        recipients = channel_store.channel_recipients(chats)
        await queue.add_deliveries(
            session,
            story.id,
            channel_store.CHANNEL,
            priority,
            [(r, None) for r in recipients],
            now,
        )

    def _hold_until(
        self, recipient: Recipient, story: StoryView, kind: str, now: datetime
    ) -> datetime | None:
        """Quiet hours hold everything but breaking news and corrections until morning."""
        if kind == EDIT or story.breaking or not (recipient.quiet_start and recipient.quiet_end):
            return None
        try:
            start = time.fromisoformat(recipient.quiet_start)
            end = time.fromisoformat(recipient.quiet_end)
            zone = ZoneInfo(recipient.timezone or self._settings.default_timezone)
        except (ValueError, KeyError):
            return None
        return quiet_until(now, start, end, zone)

    # --- claiming and sending ------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while True:
            try:
                claimed = await self._claim_once()
            except Exception:
                log.exception("fan-out claiming failed; retrying in 1 s")
                claimed = 0
                await asyncio.sleep(1)
            if not claimed:
                self._due.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._due.wait(), timeout=1)

    async def _claim_once(self) -> int:
        room = self._queue.maxsize - self._queue.qsize()
        if room <= 0:
            self._taken.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._taken.wait(), timeout=1)
            return 1
        async with writing(self._sessions) as session:
            jobs = await queue.claim_deliveries(session, self._clock(), limit=room * 2)
        self._claimed.update(job.id for job in jobs)
        for unit in _group(jobs):
            if len(unit.jobs) > 1:
                self.stats.grouped += 1
            await self._queue.put(unit)
        self._drained.set()
        return len(jobs)

    async def _worker(self) -> None:
        while True:
            unit = await self._queue.get()
            self._busy += 1
            self._idle.clear()
            self._taken.set()
            try:
                await self._deliver(unit)
            except asyncio.CancelledError:
                self._report(unit, "pending", error="stopped")
                raise
            except Exception as exc:
                log.exception("chat=%s delivery failed unexpectedly", unit.chat_id)
                self._report(unit, "failed", error=f"{type(exc).__name__}: {exc}")
            finally:
                self._busy -= 1
                if self._busy == 0:
                    self._idle.set()

    async def _deliver(self, unit: _Unit) -> None:
        job = unit.jobs[0]
        now = self._clock()
        loop_now = asyncio.get_running_loop().time()
        ready = self._per_chat.ready_at(unit.chat_id, unit.chat_id < 0, loop_now)
        if ready > loop_now:
            # Telegram's per-chat limit: come back for this one instead of blocking a worker.
            self._report(unit, "pending", not_before=now + timedelta(seconds=ready - loop_now))
            return
        # Reserved now, not after the send: a second unit for this chat must wait its turn.
        self._per_chat.record(unit.chat_id, unit.chat_id < 0, loop_now)
        method, body, plain = await self._encode(unit)
        if body is None:
            metrics.DELIVERIES.labels("skipped").inc()
            self._report(unit, "skipped", error="story or message gone")
            return
        chat_id = unit.chat_id
        while True:
            # The send counts against the window until Telegram answers: a request delayed on
            # the way can never land in the same second as the ones after it.
            async with self._limiter.slot():
                result = await self._client.send(method, body)
            if result.kind is SendKind.RETRY_AFTER:
                self.stats.rate_limited += 1
                metrics.RATE_LIMITED.inc()
                self._limiter.pause(result.retry_after or 1.0)
                continue
            if (
                result.kind is SendKind.MIGRATED
                and result.migrate_to_chat_id
                and method == "sendMessage"
            ):
                await self._moved(chat_id, result.migrate_to_chat_id)
                chat_id = result.migrate_to_chat_id
                body = _retarget(body, chat_id)
                continue
            if result.kind is SendKind.BAD_CONTENT and plain is not None:
                log.warning(
                    "story=%s rejected by Telegram (%s); sending it as plain text",
                    job.story_id,
                    result.description,
                )
                # The fallback drops everything Telegram might have refused: markup, buttons,
                # preview. Encoded only now: it is almost never needed.
                body = encode_send_message(
                    chat_id,
                    plain,
                    parse_mode=None,
                    message_thread_id=job.thread_id or None,
                    disable_link_preview=True,
                    allow_paid_broadcast=self._settings.paid_broadcast,
                )
                plain = None
                continue
            break
        await self._settle(unit, result)

    async def _settle(self, unit: _Unit, result: SendResult) -> None:
        if result.ok:
            self.stats.sent += 1
            metrics.DELIVERIES.labels("sent").inc()
            self.stats.unauthorized = False
            self._report(unit, "sent", message_id=result.message_id)
            return
        self.stats.last_error = result.description
        if self._is_channel(unit.chat_id):
            self._channel_failed(unit.chat_id)
        if result.kind is SendKind.CHAT_GONE:
            await self._chat_gone(unit.chat_id, result.description)
            self._report(unit, "failed", error=result.description)
        elif result.kind is SendKind.THREAD_GONE:
            thread = unit.jobs[0].thread_id
            async with writing(self._sessions) as session:
                await chat_store.forget_topic(session, unit.chat_id, thread)
            log.info("chat=%s topic=%s gone: %s", unit.chat_id, thread, result.description)
            self._report(unit, "failed", error=result.description)
        elif result.kind is SendKind.UNAUTHORIZED:
            metrics.UNAUTHORIZED.inc()
            self.stats.unauthorized = True
            log.error("the Bot API refuses the token (401); bulk sending paused for 60 s")
            self._limiter.pause(60)
            self._report(unit, "pending", not_before=self._clock() + timedelta(seconds=60))
        elif result.kind is SendKind.TRANSIENT and unit.attempts + 1 < MAX_SEND_ATTEMPTS:
            self.stats.retried += 1
            metrics.DELIVERIES.labels("retried").inc()
            delay = backoff(
                unit.attempts + 1, first=1.0, cap=300.0, spread=(1.0, 0.5), draw=random.random()
            )
            self._report(
                unit,
                "pending",
                error=result.description,
                attempts=unit.attempts + 1,
                not_before=self._clock() + timedelta(seconds=delay),
            )
        else:
            self.stats.failed += 1
            metrics.DELIVERIES.labels("failed").inc()
            log.warning(
                "story=%s chat=%s not delivered: %s",
                unit.jobs[0].story_id,
                unit.chat_id,
                result.description,
            )
            self._report(unit, "failed", error=result.description, attempts=unit.attempts + 1)

    async def _message(
        self,
        job: DeliveryJob,
        ids: list[int],
        *,
        fresh: bool = False,
        keywords: tuple[str, ...] = (),
    ) -> _Rendered | None:
        """The rendered push, shared by every reader of the same stories in the same zone.

        A broadcast renders its story once per time zone instead of once per reader: at a
        thousand messages a second, a database read and a render per message would cost more
        than the send. Entries live a minute, so "3 min ago" stays true and an edited story
        is rendered afresh (its correction is sent as an edit anyway). While one worker
        renders, the others wanting the same message wait for it instead of each reading and
        rendering it too (all workers start on the first broadcast at once). ``fresh`` skips
        the cache and any render under way: a correction shows the story as it reads now.
        """
        zone = job.timezone or self._settings.default_timezone
        language = self._render.language(job.locale)
        key = (tuple(ids), zone, language, keywords)
        loop = asyncio.get_running_loop()
        while not fresh:
            cached = self._rendered.get(key)
            if cached is not None and cached.expires > loop.time():
                return cached
            rendering = self._rendering.get(key)
            if rendering is None:
                break
            await rendering.wait()  # then the cache has it, unless that render failed
        done = self._rendering[key] = asyncio.Event()
        try:
            async with self._sessions() as session:
                found = await story_store.get_stories(session, ids)
            stories = [found[i] for i in ids if i in found]
            if not stories:
                return None
            message = self._render(stories, zone, locale=language, keywords=keywords)
            rendered = _Rendered(
                loop.time() + 60.0,
                message,
                SendMessageTemplate(
                    message.text,
                    reply_markup=message.reply_markup,
                    link_preview_url=message.preview_url,
                    allow_paid_broadcast=self._settings.paid_broadcast,
                ),
            )
            if len(self._rendered) > 10_000:  # bounded: grouped pushes make many distinct keys
                self._rendered.clear()
            self._rendered[key] = rendered
            return rendered
        finally:
            if self._rendering.get(key) is done:
                del self._rendering[key]
            done.set()

    async def _encode(self, unit: _Unit) -> tuple[str, bytes | None, str | None]:
        """The method, its JSON body, and the plain text to fall back to (pushes only)."""
        job = unit.jobs[0]
        if self._is_channel(job.chat_id):
            return await self._encode_channel(job)
        if job.kind == EDIT:
            if job.target_message_id is None:
                return "editMessageText", None, None
            async with self._sessions() as session:
                ids, keywords = await queue.pushed_message(
                    session, job.chat_id, job.target_message_id
                )
            ids = ids or [job.story_id]
            # A correction shows the story as it reads now: never from the cache. An alert
            # keeps saying why it came.
            rendered = await self._message(job, ids, fresh=True, keywords=keywords)
            if rendered is None:
                return "editMessageText", None, None
            message = rendered.message
            body = encode_edit_message_text(
                job.chat_id,
                job.target_message_id,
                message.text,
                reply_markup=message.reply_markup,
                link_preview_url=message.preview_url,
            )
            return "editMessageText", body, None
        # A keyword alert says which followed words brought it ("🔔 kirkuk").
        keywords = tuple(sorted({w for j in unit.jobs if j.matched for w in j.matched.split(",")}))
        rendered = await self._message(job, [j.story_id for j in unit.jobs], keywords=keywords)
        if rendered is None:
            return "sendMessage", None, None
        # The same body as encode_send_message's, serialised once for every reader of it.
        body = rendered.template.encode(job.chat_id, job.thread_id or None)
        return "sendMessage", body, rendered.message.plain

    def _is_channel(self, chat_id: int) -> bool:
        return self._channels is not None and chat_id in self._channels.known()

    async def _encode_channel(self, job: DeliveryJob) -> tuple[str, bytes | None, str | None]:
        """A channel post, or its correction: rendered afresh, in the edition's language."""
        assert self._channels is not None
        method = "editMessageText" if job.kind == EDIT else "sendMessage"
        async with self._sessions() as session:
            story = await story_store.get_story(session, job.story_id)
        if story is None or (job.kind == EDIT and job.target_message_id is None):
            return method, None, None
        message = self._channels.render(story)
        if job.kind == EDIT:
            assert job.target_message_id is not None
            body = encode_edit_message_text(
                job.chat_id,
                job.target_message_id,
                message.text,
                reply_markup=message.reply_markup,
                link_preview_url=message.preview_url,
            )
            return method, body, None
        body = encode_send_message(
            job.chat_id,
            message.text,
            reply_markup=message.reply_markup,
            link_preview_url=message.preview_url,
        )
        return method, body, message.plain

    def _channel_failed(self, chat_id: int) -> None:
        """A channel post failed: the bot checks its channels again (and tells the admins
        once when a right was lost)."""
        if self._channels is None or self._checks:
            return
        task: asyncio.Task[object] = asyncio.create_task(
            self._channels.trouble(), name="channel-check"
        )
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _chat_gone(self, chat_id: int, reason: str) -> None:
        now = self._clock()
        async with writing(self._sessions) as session:
            await chat_store.set_active(session, chat_id, False, now, reason=reason)
            await queue.skip_pending_for_chat(session, chat_id, reason, now)
        log.info("chat=%s inactive: %s", chat_id, reason)

    async def _moved(self, old: int, new: int) -> None:
        async with writing(self._sessions) as session:
            await chat_store.move_chat(session, old, new, self._clock())
        log.info("chat=%s migrated to chat=%s during a push", old, new)

    # --- recording ------------------------------------------------------------------------

    def _report(
        self,
        unit: _Unit,
        status: str,
        *,
        message_id: int | None = None,
        error: str | None = None,
        not_before: datetime | None = None,
        attempts: int | None = None,
    ) -> None:
        for job in unit.jobs:
            self._claimed.discard(job.id)
            self._outcomes.append(
                Outcome(
                    id=job.id,
                    status=status,
                    message_id=message_id,
                    error=error,
                    not_before=not_before,
                    attempts=job.attempts if attempts is None else attempts,
                )
            )

    async def _record_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.flush_interval)
            try:
                await self._flush()
            except Exception:
                log.exception("recording delivery outcomes failed; will retry")

    async def _flush(self) -> None:
        if not self._outcomes:
            return
        outcomes, self._outcomes = self._outcomes, []
        try:
            async with writing(self._sessions) as session:
                await queue.record_outcomes(session, outcomes, self._clock())
        except BaseException:
            # Kept for the next flush, even when cancelled: a lost "sent" would be resent.
            self._outcomes[:0] = outcomes
            raise
        if any(o.status == "pending" for o in outcomes):
            self._due.set()


def _group(jobs: Sequence[DeliveryJob]) -> list[_Unit]:
    """One unit per delivery, except several new pushes to one chat (topic) become one."""
    units: list[_Unit] = []
    pushes: dict[tuple[int, int, int], list[DeliveryJob]] = {}
    for job in jobs:
        if job.kind == PUSH:
            # Breaking news is never folded into a list of ordinary stories.
            pushes.setdefault((job.chat_id, job.thread_id, job.priority), []).append(job)
        else:
            units.append(_Unit([job]))
    for group in pushes.values():
        for start in range(0, len(group), MAX_GROUP):
            units.append(_Unit(group[start : start + MAX_GROUP]))
    units.sort(key=lambda u: (min(j.priority for j in u.jobs), min(j.id for j in u.jobs)))
    return units


def _retarget(body: bytes, chat_id: int) -> bytes:
    """The same request for another chat id (a group that became a supergroup)."""
    data = json.loads(body)
    data["chat_id"] = chat_id
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
