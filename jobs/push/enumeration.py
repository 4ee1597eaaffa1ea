"""Which readers are due a story: open broadcasts become delivery rows, one range of chats at
a time (its subscribers and keyword followers together, ``storage/audience.py``), staying
only a little ahead of the sender (so the first message of a million-reader broadcast waits
neither for a million rows nor for every follower)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, time
from zoneinfo import ZoneInfo

from jobs.push.channels import Channels
from jobs.push.pipeline import MAX_GROUP, Signals
from jobs.push.settings import FanoutSettings
from news.keywords import KeywordMatcher
from news.quiet_hours import quiet_until
from news.search_words import search_document
from storage import audience
from storage import channels as channel_store
from storage import deliveries as queue
from storage import stories as story_store
from storage.deliveries import EDIT, PUSH, Recipient
from storage.engine import SessionFactory, writing
from storage.models import PRIORITY_BREAKING
from storage.records import StoryView

log = logging.getLogger(__name__)


class Enumerator:
    """Turns each open broadcast into delivery rows; ``run()`` is its loop."""

    def __init__(
        self,
        sessions: SessionFactory,
        settings: FanoutSettings,
        signals: Signals,
        clock: Callable[[], datetime],
        channels: Channels,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._signals = signals
        self._clock = clock
        self._channels = channels
        # story id -> the muted and the followed words it mentions
        self._words: dict[int, tuple[list[str], list[str]]] = {}

    async def run(self) -> None:
        """Enumerate until stopped, waiting for a wake (or a second) when there is none."""
        while not self._signals.stopping.is_set():
            # Cleared before the step, not after it: a broadcast committed after the step
            # looked wakes us during the step, and the wait below must not lose that wake.
            self._signals.work.clear()
            try:
                progressed = await self.enumerate_once()
            except Exception:
                log.exception("fan-out enumeration failed; retrying in 5 s")
                progressed = False
                await asyncio.sleep(5)
            if not progressed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._signals.work.wait(), timeout=1)

    async def enumerate_once(self) -> bool:
        """One step: a batch of the most urgent open broadcasts; True when it made progress."""
        async with self._sessions() as session:
            broadcasts = await queue.open_broadcasts(session, limit=MAX_GROUP)
        if not broadcasts:
            return await self.sweep_pending()
        async with self._sessions() as session:
            # Stay only a little ahead of the sender, counting what is due now (not what
            # quiet hours hold) at the same urgency or more; breaking news is never held.
            top = broadcasts[0].priority
            if top != PRIORITY_BREAKING:
                # Cleared before counting: room the sender makes meanwhile still wakes us.
                self._signals.drained.clear()
                backlog = await queue.backlog_size(session, self._clock(), top)
                if backlog >= self._settings.max_ahead:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._signals.drained.wait(), timeout=1)
                    return True
        # The most urgent priority only (breaking news jumps the queue), but all its stories
        # in one transaction: a reader then finds them waiting together, and gets one message.
        urgent = [b for b in broadcasts if b.priority == broadcasts[0].priority]
        added = False
        async with writing(self._sessions) as session:
            for broadcast in urgent:
                added |= await self._enumerate_batch(session, broadcast)
        if added:
            self._signals.due.set()
        return added

    async def sweep_pending(self) -> bool:
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
        """One step of a broadcast's recipients; True when it made progress."""
        now = self._clock()
        batch = self._settings.enumerate_batch
        story = await story_store.get_story(session, broadcast.story_id)
        stale = broadcast.kind == PUSH and broadcast.created_at < now - self._settings.push_max_age
        if story is None or stale:
            # A broadcast queued long ago (e.g. by `newsbot poll` with no bot running) is old
            # news by now: it is closed without a message.
            await queue.advance_broadcast(session, broadcast, None, done=True)
            return False
        if broadcast.kind == EDIT:
            if await queue.in_flight(session, story.id):
                # Pushes of this story still in flight have no message id to edit yet; come
                # back when their outcome is recorded (a fraction of a second).
                return False
            since = now - self._settings.comment_window
            recipients = await queue.edit_targets_batch(
                session, story.id, broadcast.cursor, batch, since
            )
            if broadcast.cursor is None:
                await self._correct_channel_posts(session, story, broadcast.priority, since, now)
            await self._add(session, story, broadcast, recipients, now)
            last = (recipients[-1].chat_id, recipients[-1].thread_id) if recipients else None
            await queue.advance_broadcast(session, broadcast, last, done=len(recipients) < batch)
            return True
        # Subscribers and keyword followers move forward together, one range of chats at a
        # time: the first push never waits for the whole audience to be read.
        if broadcast.cursor is None:
            # A broadcast starting (or reopened by /push): words followed or muted since, and
            # a corrected title, count.
            self._words.pop(story.id, None)
        muted, followed = await self._words_in(session, story)
        step = await audience.audience_step(
            session,
            story,
            broadcast.cursor,
            batch,
            self._settings.default_edition,
            followed=followed,
            muted=muted,
        )
        if broadcast.cursor is None:
            await self._add_channels(session, story, broadcast.priority, now)
        await self._add(session, story, broadcast, step.recipients, now)
        # One cursor, moved in the same transaction: a crash resumes exactly here.
        await queue.advance_broadcast(session, broadcast, step.upper, done=step.done)
        return True

    async def _add(
        self,
        session: queue.AsyncSession,
        story: StoryView,
        broadcast: queue.BroadcastView,
        recipients: Sequence[Recipient],
        now: datetime,
    ) -> None:
        held = [(r, self._hold_until(r, story, broadcast.kind, now)) for r in recipients]
        await queue.add_deliveries(
            session, story.id, broadcast.kind, broadcast.priority, held, now
        )

    async def _words_in(
        self, session: queue.AsyncSession, story: StoryView
    ) -> tuple[list[str], list[str]]:
        """The muted and the followed words and phrases (of any reader) that the story
        mentions, worked out once per story and kept for its broadcast's later steps (a word
        muted or followed meanwhile counts from the next story on)."""
        cached = self._words.get(story.id)
        if cached is not None:
            return cached
        document = search_document(story.title, story.summary)
        found: list[list[str]] = []
        for table in ("mute", "follow"):
            phrases = await audience.phrases_in_use(session, table)
            found.append(sorted(KeywordMatcher(phrases).matches(document)) if phrases else [])
        if len(self._words) > 1000:  # bounded: a few broadcasts are open at a time
            self._words.clear()
        self._words[story.id] = (found[0], found[1])
        return self._words[story.id]

    async def _add_channels(
        self, session: queue.AsyncSession, story: StoryView, priority: int, now: datetime
    ) -> None:
        """The story's channel posts: one per channel of its edition (those to a channel the
        bot may not post to now wait for it to be mended)."""
        channels = self._channels.of_edition(story.edition or self._settings.default_edition)
        recipients = [(r, None) for r in channel_store.channel_recipients(channels)]
        await queue.add_deliveries(
            session, story.id, channel_store.CHANNEL, priority, recipients, now
        )

    async def _correct_channel_posts(
        self,
        session: queue.AsyncSession,
        story: StoryView,
        priority: int,
        since: datetime,
        now: datetime,
    ) -> None:
        """A corrected story edits its channel posts too."""
        posts = await channel_store.channel_edit_targets(session, story.id, since)
        posts = [p for p in posts if self._channels.is_channel(p.chat_id)]
        await queue.add_deliveries(
            session, story.id, EDIT, priority, [(p, None) for p in posts], now
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
