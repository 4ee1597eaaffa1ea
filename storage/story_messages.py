"""Which bot messages show which stories, so a reader's reply can be tied to its article.

Pushes are found through their delivery rows; this table covers the rest: /latest lists,
stories opened from a deep link, and the prompts that ask for a comment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.deliveries import stories_for_message
from storage.dialect import insert_for
from storage.models import StoryMessage

PROMPT = "prompt"  # a message asking for a comment on its story
ANSWERED_PROMPT = "answered-prompt"


async def remember_story_message(
    session: AsyncSession,
    chat_id: int,
    message_id: int,
    story_ids: Sequence[int],
    kind: str,
    now: datetime,
) -> None:
    """Record that a bot message shows these stories (in this order), replacing what it
    showed before (a list paged to other stories)."""
    await session.exec(
        delete(StoryMessage).where(
            col(StoryMessage.chat_id) == chat_id, col(StoryMessage.message_id) == message_id
        )
    )
    rows = [
        {
            "chat_id": chat_id,
            "message_id": message_id,
            "story_id": story_id,
            "kind": kind,
            "position": position,
            "created_at": now,
        }
        for position, story_id in enumerate(dict.fromkeys(story_ids))
    ]
    if rows:
        await session.exec(insert_for(session)(StoryMessage).values(rows).on_conflict_do_nothing())


async def stories_of_message(
    session: AsyncSession, chat_id: int, message_id: int
) -> tuple[str, list[int]]:
    """What a bot message showed: ``(kind, story ids)``; kind is "" for an unknown message.

    Kinds: ``push`` (one pushed story, or several grouped), ``story``, ``list``, ``prompt``,
    ``answered-prompt``.
    """
    pushed = await stories_for_message(session, chat_id, message_id)
    if pushed:
        return "push", pushed
    rows = (
        await session.exec(
            select(StoryMessage.story_id, StoryMessage.kind)
            .where(
                col(StoryMessage.chat_id) == chat_id, col(StoryMessage.message_id) == message_id
            )
            .order_by(col(StoryMessage.position))
        )
    ).all()
    if not rows:
        return "", []
    return rows[0][1], [story_id for story_id, _ in rows]


async def pending_prompt(session: AsyncSession, chat_id: int, since: datetime) -> int | None:
    """The story of the newest comment prompt sent to ``chat_id`` since ``since`` and not yet
    answered, if any."""
    statement = (
        select(StoryMessage.story_id)
        .where(
            col(StoryMessage.chat_id) == chat_id,
            col(StoryMessage.kind) == PROMPT,
            col(StoryMessage.created_at) >= since,
        )
        .order_by(col(StoryMessage.created_at).desc(), col(StoryMessage.message_id).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()


async def settle_prompts(session: AsyncSession, chat_id: int) -> None:
    """The reader answered: no prompt of theirs waits any more (the prompts still show their
    stories, so a later reply to one is still a comment on it)."""
    await session.exec(
        update(StoryMessage)
        .where(col(StoryMessage.chat_id) == chat_id, col(StoryMessage.kind) == PROMPT)
        .values(kind=ANSWERED_PROMPT)
    )


async def prune_story_messages(session: AsyncSession, before: datetime) -> int:
    """Forget which messages showed which stories, for messages older than ``before``."""
    result = await session.exec(delete(StoryMessage).where(col(StoryMessage.created_at) < before))
    return int(result.rowcount or 0)
