"""What old data is forgotten: stories, finished comments and outbox rows past retention.

Readers (chats, subscriptions, follows, commenters) are never pruned here: they leave with
/forget. Deletes run in small batches so a night's pruning never holds SQLite's single write
lock for long while pushes and replies go on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.comments import FAILED, PUBLISHED, REJECTED, RELAYED
from storage.models import Comment, OutletEvent, Story

BATCH = 500
_FINISHED_COMMENTS = (RELAYED, PUBLISHED, REJECTED, FAILED)
_FINISHED_EVENTS = ("done", "rejected", "expired")


async def prune_stories_batch(session: AsyncSession, before: datetime) -> int:
    """Delete up to BATCH stories dated (sort time) before ``before``; returns how many.

    Their sections, broadcasts, deliveries and story messages go with them (foreign keys);
    comments keep a copy of the article and lose only the link to the story row.
    """
    ids = (
        await session.exec(select(Story.id).where(col(Story.sort_at) < before).limit(BATCH))
    ).all()
    if not ids:
        return 0
    await session.exec(delete(Story).where(col(Story.id).in_(list(ids))))
    return len(ids)


async def prune_comments_batch(session: AsyncSession, before: datetime) -> int:
    """Delete up to BATCH finished comments (and their outbox rows) last changed before ``before``.

    Comments still waiting (for the reader's choice, the moderators or the outlet) are kept
    whatever their age: pruning never loses a comment that is not finished.
    """
    ids = (
        await session.exec(
            select(Comment.id)
            .where(col(Comment.status).in_(_FINISHED_COMMENTS), col(Comment.updated_at) < before)
            .limit(BATCH)
        )
    ).all()
    if ids:
        await session.exec(delete(Comment).where(col(Comment.id).in_(list(ids))))
    return len(ids)


async def prune_outbox_batch(session: AsyncSession, before: datetime) -> int:
    """Delete up to BATCH finished outbox rows (sent, refused or expired) older than ``before``."""
    ids = (
        await session.exec(
            select(OutletEvent.id)
            .where(
                col(OutletEvent.status).in_(_FINISHED_EVENTS),
                col(OutletEvent.updated_at) < before,
            )
            .limit(BATCH)
        )
    ).all()
    if ids:
        await session.exec(delete(OutletEvent).where(col(OutletEvent.id).in_(list(ids))))
    return len(ids)
