"""Channel posts and their discussion threads: which story a channel post shows, and which
thread of a discussion group belongs to which post.

A channel post is a delivery row of kind ``channel`` (``storage.deliveries``): its message id
is recorded with its outcome. The automatic forward that starts the post's thread in the
discussion group is recorded here as it arrives; its story is read from the post's delivery
row, then or (when the forward outran the recording of the post) at the first comment.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.deliveries import Recipient
from storage.dialect import insert_for
from storage.models import ChannelThread, Delivery, RefusalNotice

CHANNEL = "channel"  # the delivery kind of a channel post
# Comments on a post older than this are no longer taken (its thread may live for years);
# housekeeping forgets older threads.
THREAD_LIFETIME = timedelta(days=30)


async def channel_post_story(session: AsyncSession, channel_id: int, post_id: int) -> int | None:
    """The story a channel post shows (None: not one of the bot's story posts)."""
    statement = select(Delivery.story_id).where(
        col(Delivery.chat_id) == channel_id,
        col(Delivery.message_id) == post_id,
        col(Delivery.kind) == CHANNEL,
    )
    return (await session.exec(statement)).first()


async def channel_post_is_photo(session: AsyncSession, channel_id: int, post_id: int) -> bool:
    """Whether a channel post went as a photo with a caption (its corrections edit that)."""
    statement = select(Delivery.photo).where(
        col(Delivery.chat_id) == channel_id,
        col(Delivery.message_id) == post_id,
        col(Delivery.kind) == CHANNEL,
    )
    return bool((await session.exec(statement)).first())


def channel_recipients(channels: list[int]) -> list[Recipient]:
    """Channels as recipients of a story's broadcast: no topic, zone or quiet hours."""
    return [Recipient(chat_id, 0, None, None, None) for chat_id in channels]


async def channel_edit_targets(
    session: AsyncSession, story_id: int, since: datetime
) -> list[Recipient]:
    """The channel posts of a story (posted since ``since``), to correct them."""
    statement = select(Delivery.chat_id, Delivery.message_id).where(
        col(Delivery.story_id) == story_id,
        col(Delivery.kind) == CHANNEL,
        col(Delivery.status) == "sent",
        col(Delivery.message_id).is_not(None),
        col(Delivery.updated_at) >= since,
    )
    rows = (await session.exec(statement)).all()
    return [Recipient(chat_id, 0, None, None, None, message_id) for chat_id, message_id in rows]


async def release_held_posts(session: AsyncSession, channel_id: int, now: datetime) -> int:
    """The posts that waited for a channel to be mended are due now; how many."""
    result = await session.exec(
        update(Delivery)
        .where(
            col(Delivery.chat_id) == channel_id,
            col(Delivery.status) == "pending",
            col(Delivery.not_before) > now,
        )
        .values(not_before=now)
    )
    return int(result.rowcount or 0)


async def record_thread(
    session: AsyncSession,
    group_id: int,
    thread_id: int,
    *,
    channel_id: int,
    post_id: int,
    now: datetime,
) -> int | None:
    """Remember that ``thread_id`` in the discussion group ``group_id`` is the thread of the
    channel post ``post_id``; returns the post's story when it is known already."""
    story_id = await channel_post_story(session, channel_id, post_id)
    await session.exec(
        insert_for(session)(ChannelThread)
        .values(
            group_id=group_id,
            thread_id=thread_id,
            channel_id=channel_id,
            post_id=post_id,
            story_id=story_id,
            created_at=now,
        )
        .on_conflict_do_nothing()
    )
    return story_id


async def thread_story(session: AsyncSession, group_id: int, thread_id: int) -> int | None:
    """The story whose channel post starts this thread of a discussion group (None: a
    thread of no story post, or no thread the bot saw start)."""
    row = await session.get(ChannelThread, (group_id, thread_id))
    if row is None:
        return None
    if row.story_id is None:
        story_id = await channel_post_story(session, row.channel_id, row.post_id)
        if story_id is not None:
            await session.exec(
                update(ChannelThread)
                .where(
                    col(ChannelThread.group_id) == group_id,
                    col(ChannelThread.thread_id) == thread_id,
                )
                .values(story_id=story_id)
            )
        return story_id
    return row.story_id


async def prune_threads(session: AsyncSession, before: datetime) -> int:
    """Forget threads started before ``before`` (comments under them are no longer taken)."""
    statement = delete(ChannelThread).where(col(ChannelThread.created_at) < before)
    result = await session.exec(statement)
    return int(result.rowcount or 0)


async def may_tell_refusal(
    session: AsyncSession, group_id: int, user_id: int, now: datetime, quiet: timedelta
) -> bool:
    """Whether a reader whose comment was refused in the discussion group ``group_id`` may be
    told why: not when they were told within ``quiet``. Noted as told when True, in one
    statement, so two instances cannot both say it."""
    table = RefusalNotice.__table__  # type: ignore[attr-defined]
    insert = insert_for(session)(table).values(group_id=group_id, user_id=user_id, told_at=now)
    statement = insert.on_conflict_do_update(
        index_elements=["group_id", "user_id"],
        set_={"told_at": insert.excluded.told_at},
        where=table.c.told_at <= now - quiet,
    )
    result = await session.exec(statement)
    return bool(result.rowcount)


async def prune_refusal_notices(session: AsyncSession, before: datetime) -> int:
    """Forget refusals told before ``before`` (their quiet period is long over)."""
    result = await session.exec(delete(RefusalNotice).where(col(RefusalNotice.told_at) < before))
    return int(result.rowcount or 0)
