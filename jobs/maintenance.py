"""Nightly housekeeping: delivery records past the comment window, channels' discussion threads
past their lifetime, and data past retention."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from news.clock import utcnow
from storage import channels as channel_store
from storage import deliveries as queue
from storage import retention
from storage.engine import SessionFactory, writing
from storage.inbox import prune_inbox_batch
from storage.published_comments import prune_reply_prompts
from storage.story_messages import prune_story_messages

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Pruned:
    """How many rows one night's housekeeping removed."""

    deliveries: int = 0
    story_messages: int = 0
    stories: int = 0
    comments: int = 0
    outbox: int = 0
    channel_threads: int = 0


async def prune_old_deliveries(
    sessions: SessionFactory, window: timedelta, clock: Callable[[], datetime] = utcnow
) -> int:
    """Delete delivery records older than ``window``; replies to them are closed anyway."""
    removed = await _in_batches(
        sessions, queue.prune_deliveries, clock() - window, queue.COMPACT_BATCH
    )
    if removed:
        log.info("pruned %d delivery records older than %s", removed, window)
    return removed


# Finished deliveries are compacted this long after their outcome: the queue stays the size
# of what is in flight and recent, and a finished broadcast leaves only its narrow records.
COMPACT_AFTER = timedelta(minutes=10)


async def compact_deliveries(
    sessions: SessionFactory,
    after: timedelta = COMPACT_AFTER,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """Compact finished push and correction deliveries (``storage.deliveries``), in batches;
    returns how many rows went."""
    removed = await _in_batches(
        sessions, queue.compact_deliveries, clock() - after, queue.COMPACT_BATCH
    )
    if removed:
        log.info("compacted %d finished deliveries", removed)
    return removed


async def _in_batches(
    sessions: SessionFactory,
    step: Callable[[AsyncSession, datetime], Awaitable[int]],
    before: datetime,
    batch: int = retention.BATCH,
) -> int:
    # One short transaction per batch: pushes and replies get the write lock in between. A
    # step that removed less than a batch found nothing more (prune_deliveries counts two
    # tables of at most a batch each: under a batch in all, both are done).
    total = 0
    while True:
        async with writing(sessions) as session:
            removed = await step(session, before)
        total += removed
        if removed < batch:
            return total


async def housekeeping(
    sessions: SessionFactory,
    *,
    comment_window: timedelta,
    retention_period: timedelta,
    clock: Callable[[], datetime] = utcnow,
) -> Pruned:
    """The nightly job: forget what readers can no longer use; subscribers are kept."""
    now = clock()
    deliveries = await prune_old_deliveries(sessions, comment_window, clock)
    async with writing(sessions) as session:
        story_messages = await prune_story_messages(session, now - comment_window)
        # Issue 17: reply prompts age like story messages; processed events after retention
        # (site comments go with their stories, by foreign key).
        await prune_reply_prompts(session, now - comment_window)
        # Channels: threads whose posts no longer take comments, and refusals told long ago.
        threads = await channel_store.prune_threads(session, now - channel_store.THREAD_LIFETIME)
        await channel_store.prune_refusal_notices(session, now - timedelta(days=1))
    await _in_batches(sessions, prune_inbox_batch, now - retention_period)
    cutoff = now - retention_period
    pruned = Pruned(
        deliveries=deliveries,
        story_messages=story_messages,
        channel_threads=threads,
        stories=await _in_batches(sessions, retention.prune_stories_batch, cutoff),
        comments=await _in_batches(sessions, retention.prune_comments_batch, cutoff),
        outbox=await _in_batches(sessions, retention.prune_outbox_batch, cutoff),
    )
    if pruned.stories or pruned.comments or pruned.outbox:
        log.info(
            "retention: pruned stories=%d comments=%d outbox=%d older than %s",
            pruned.stories,
            pruned.comments,
            pruned.outbox,
            retention_period,
        )
    return pruned
