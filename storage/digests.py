"""What digest readers are owed: their chats, the stories since their last digest, the record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, update
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.deliveries import PUSH
from storage.dialect import insert_for
from storage.editions import or_default, split_editions
from storage.models import (
    ALL_SECTIONS,
    Chat,
    Delivery,
    PushRecord,
    Story,
    StorySection,
    Subscription,
)


@dataclass(frozen=True, slots=True)
class DigestReader:
    """A chat (topic) in digest mode."""

    chat_id: int
    thread_id: int
    mode: str
    timezone: str | None
    last_sent: datetime | None
    sections: frozenset[str]
    editions: tuple[str, ...] = ("en",)
    # The chat's chosen interface language, else the language Telegram reported for it.
    locale: str | None = None


async def digest_readers(session: AsyncSession, default_edition: str = "en") -> list[DigestReader]:
    """Every active chat (topic) that asked for hourly or daily digests, with its sections,
    its editions (``default_edition`` for chats that never chose) and its language.

    One joined query, no list of ids: the number of digest readers is not bounded by the
    database's limit on bound parameters.
    """
    statement = (
        sa_select(
            col(Subscription.chat_id),
            col(Subscription.thread_id),
            col(Subscription.section),
            col(Chat.delivery_mode),
            col(Chat.timezone),
            col(Chat.digest_sent_at),
            col(Chat.editions),
            col(Chat.locale),
            col(Chat.language),
        )
        .join(Chat, col(Chat.id) == col(Subscription.chat_id))
        .where(col(Chat.active).is_(True), col(Chat.delivery_mode).in_(["hourly", "daily"]))
        .order_by(col(Subscription.chat_id), col(Subscription.thread_id))
    )
    sections: dict[tuple[int, int], set[str]] = {}
    info: dict[tuple[int, int], tuple[str, str | None, datetime | None, tuple[str, ...], Any]] = {}
    rows = await session.exec(statement)  # type: ignore[call-overload]
    for chat_id, thread_id, section, mode, zone, last, editions, locale, language in rows.all():
        key = (chat_id, thread_id)
        chosen = or_default(split_editions(editions), default_edition)
        info[key] = (mode, zone, last, chosen, locale or language)
        sections.setdefault(key, set()).add(section)
    return [
        DigestReader(
            chat, thread, mode, zone, last, frozenset(sections[(chat, thread)]), chosen, locale
        )
        for (chat, thread), (mode, zone, last, chosen, locale) in info.items()
    ]


async def digest_candidates(
    session: AsyncSession, reader: DigestReader, since: datetime, limit: int = 50
) -> list[int]:
    """Ids of stories first seen since ``since`` in the reader's sections, not yet sent there."""
    queued = exists().where(
        col(Delivery.story_id) == col(Story.id),
        col(Delivery.chat_id) == reader.chat_id,
        col(Delivery.thread_id) == reader.thread_id,
        col(Delivery.kind) == PUSH,
    )
    # Sent pushes and earlier digests: their delivery rows may be compacted away already.
    had = exists().where(
        col(PushRecord.story_id) == col(Story.id),
        col(PushRecord.chat_id) == reader.chat_id,
        col(PushRecord.thread_id) == reader.thread_id,
    )
    # ">=": the "already" check, not the boundary, is what keeps a story out of two digests.
    statement = select(Story.id).where(
        col(Story.first_seen_at) >= since,
        col(Story.edition).in_(list(reader.editions)),
        ~queued,
        ~had,
    )
    if ALL_SECTIONS not in reader.sections:
        in_sections = exists().where(
            col(StorySection.story_id) == col(Story.id),
            col(StorySection.section).in_(sorted(reader.sections) or [""]),
        )
        statement = statement.where(in_sections)
    statement = statement.order_by(col(Story.sort_at).desc()).limit(limit)
    return [i for i in (await session.exec(statement)).all() if i is not None]


async def record_digest(
    session: AsyncSession,
    reader: DigestReader,
    story_ids: Sequence[int],
    message_id: int | None,
    now: datetime,
) -> None:
    """The digest went out: its stories count as delivered there (replies map back to them,
    and no later push or digest repeats them)."""
    if story_ids and message_id is not None:
        rows = [
            {
                "story_id": story_id,
                "chat_id": reader.chat_id,
                "thread_id": reader.thread_id,
                "message_id": message_id,
                "sent_at": now,
            }
            for story_id in story_ids
        ]
        statement = insert_for(session)(PushRecord).values(rows).on_conflict_do_nothing()
        await session.exec(statement)
    await session.exec(
        update(Chat).where(col(Chat.id) == reader.chat_id).values(digest_sent_at=now)
    )
