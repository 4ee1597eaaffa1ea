"""Keyword alerts and muted words: the normalised words and phrases a chat (or one forum topic
of it) follows (``Follow``: pushed from any section) or mutes (``Mute``: never pushed).

Both lists are kept alike; each function takes the list's model, following by default."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.dialect import insert_for
from storage.models import Follow, Mute

WordList = type[Follow] | type[Mute]

# Every followed phrase is matched against every new story: a cap per chat (all its topics
# together) keeps one chat from making matching slow for everyone.
MAX_FOLLOWS_PER_CHAT = 50


async def following(
    session: AsyncSession, chat_id: int, thread_id: int = 0, model: WordList = Follow
) -> list[str]:
    """The phrases a chat (topic) follows (or mutes), alphabetically."""
    statement = (
        select(model.phrase)
        .where(model.chat_id == chat_id, model.thread_id == thread_id)
        .order_by(col(model.phrase))
    )
    return list((await session.exec(statement)).all())


async def word_ids(
    session: AsyncSession, chat_id: int, thread_id: int = 0, model: WordList = Follow
) -> list[tuple[int, str]]:
    """``(id, phrase)`` of each phrase a chat (topic) follows (or mutes), alphabetically: the
    ids are short enough for a button's data, a phrase may not be."""
    statement = (
        select(model.id, model.phrase)
        .where(model.chat_id == chat_id, model.thread_id == thread_id)
        .order_by(col(model.phrase))
    )
    return [(int(i), p) for i, p in (await session.exec(statement)).all() if i is not None]


async def remove_by_id(
    session: AsyncSession, chat_id: int, thread_id: int, word_id: int, model: WordList = Follow
) -> str | None:
    """Stop one followed (or muted) phrase of this chat (topic) by its id; returns it, or
    None when it was not there (already removed, or another chat's)."""
    mine = (
        col(model.id) == word_id,
        col(model.chat_id) == chat_id,
        col(model.thread_id) == thread_id,
    )
    phrase = (await session.exec(select(model.phrase).where(*mine))).first()
    if phrase is None:
        return None
    await session.exec(delete(model).where(*mine))
    return str(phrase)


async def follow_count(session: AsyncSession, chat_id: int, model: WordList = Follow) -> int:
    """How many phrases a chat follows (or mutes), over all its topics."""
    statement = select(func.count()).where(col(model.chat_id) == chat_id)
    return int((await session.exec(statement)).one())


async def follow(
    session: AsyncSession,
    chat_id: int,
    thread_id: int,
    phrases: Sequence[str],
    now: datetime,
    model: WordList = Follow,
) -> list[str]:
    """Follow (or mute) normalised ``phrases`` (as parse_follow_args gives them); returns
    those added.

    Phrases already followed are not added again; once the chat follows MAX_FOLLOWS_PER_CHAT
    phrases the rest are left out. The chat must exist.
    """
    current = set(await following(session, chat_id, thread_id, model))
    wanted = [p for p in dict.fromkeys(phrases) if p and p not in current]
    room = MAX_FOLLOWS_PER_CHAT - await follow_count(session, chat_id, model)
    wanted = wanted[: max(0, room)]
    if not wanted:
        return []
    rows = [
        {"chat_id": chat_id, "thread_id": thread_id, "phrase": p, "created_at": now}
        for p in wanted
    ]
    # A concurrent /follow of the same phrase may have won the race: report only our rows.
    statement = (
        insert_for(session)(model)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(col(model.phrase))
    )
    inserted = set((await session.exec(statement)).scalars().all())
    return [p for p in wanted if p in inserted]


async def unfollow(
    session: AsyncSession,
    chat_id: int,
    thread_id: int,
    phrases: Sequence[str] | None,
    model: WordList = Follow,
) -> list[str]:
    """Stop following (or muting) ``phrases`` (None: all of them); returns those removed,
    alphabetically."""
    removed = await following(session, chat_id, thread_id, model)
    if phrases is not None:
        named = set(phrases)
        removed = [p for p in removed if p in named]
    if removed:
        await session.exec(
            delete(model).where(
                col(model.chat_id) == chat_id,
                col(model.thread_id) == thread_id,
                col(model.phrase).in_(removed),
            )
        )
    return removed


async def move_follows(session: AsyncSession, old_id: int, new_id: int, now: datetime) -> int:
    """Copy a chat's followed and muted words to its new id (a group became a supergroup);
    returns how many.

    The new chat must exist; the old chat's rows go when the old chat is forgotten.
    """
    total = 0
    for model in (Follow, Mute):
        statement = select(model.thread_id, model.phrase).where(model.chat_id == old_id)
        moved = [
            {"chat_id": new_id, "thread_id": thread, "phrase": phrase, "created_at": now}
            for thread, phrase in (await session.exec(statement)).all()
        ]
        if moved:
            await session.exec(insert_for(session)(model).values(moved).on_conflict_do_nothing())
        total += len(moved)
    return total
