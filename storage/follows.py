"""Keyword alerts: the normalised words and phrases a chat (or one forum topic of it) follows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.dialect import insert_for
from storage.models import Follow

# Every followed phrase is matched against every new story: a cap per chat (all its topics
# together) keeps one chat from making matching slow for everyone.
MAX_FOLLOWS_PER_CHAT = 50


async def following(session: AsyncSession, chat_id: int, thread_id: int = 0) -> list[str]:
    """The phrases a chat (topic) follows, alphabetically."""
    statement = (
        select(Follow.phrase)
        .where(Follow.chat_id == chat_id, Follow.thread_id == thread_id)
        .order_by(col(Follow.phrase))
    )
    return list((await session.exec(statement)).all())


async def follow_count(session: AsyncSession, chat_id: int) -> int:
    """How many phrases a chat follows, over all its topics."""
    statement = select(func.count()).where(col(Follow.chat_id) == chat_id)
    return int((await session.exec(statement)).one())


async def follow(
    session: AsyncSession,
    chat_id: int,
    thread_id: int,
    phrases: Sequence[str],
    now: datetime,
) -> list[str]:
    """Follow normalised ``phrases`` (as parse_follow_args gives them); returns those added.

    Phrases already followed are not added again; once the chat follows MAX_FOLLOWS_PER_CHAT
    phrases the rest are left out. The chat must exist.
    """
    current = set(await following(session, chat_id, thread_id))
    wanted = [p for p in dict.fromkeys(phrases) if p and p not in current]
    room = MAX_FOLLOWS_PER_CHAT - await follow_count(session, chat_id)
    wanted = wanted[: max(0, room)]
    if not wanted:
        return []
    rows = [
        {"chat_id": chat_id, "thread_id": thread_id, "phrase": p, "created_at": now}
        for p in wanted
    ]
    # A concurrent /follow of the same phrase may have won the race: report only our rows.
    statement = (
        insert_for(session)(Follow)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(col(Follow.phrase))
    )
    inserted = set((await session.exec(statement)).scalars().all())
    return [p for p in wanted if p in inserted]


async def unfollow(
    session: AsyncSession, chat_id: int, thread_id: int, phrases: Sequence[str] | None
) -> list[str]:
    """Stop following ``phrases`` (None: all of them); returns those removed, alphabetically."""
    removed = await following(session, chat_id, thread_id)
    if phrases is not None:
        named = set(phrases)
        removed = [p for p in removed if p in named]
    if removed:
        await session.exec(
            delete(Follow).where(
                col(Follow.chat_id) == chat_id,
                col(Follow.thread_id) == thread_id,
                col(Follow.phrase).in_(removed),
            )
        )
    return removed


async def move_follows(session: AsyncSession, old_id: int, new_id: int, now: datetime) -> int:
    """Copy a chat's follows to its new id (a group became a supergroup); returns how many.

    The new chat must exist; the old chat's rows go when the old chat is forgotten.
    """
    rows = (await session.exec(select(Follow).where(Follow.chat_id == old_id))).all()
    moved = [
        {"chat_id": new_id, "thread_id": f.thread_id, "phrase": f.phrase, "created_at": now}
        for f in rows
    ]
    if moved:
        await session.exec(insert_for(session)(Follow).values(moved).on_conflict_do_nothing())
    return len(moved)
