"""Subscriptions to sections no longer offered: which chats still have to be told, and the
record that they were.

Which sections are offered is configuration (the caller passes the slugs). A subscription to
any other section brings nothing, but its row stays: if the operator offers the section
again, it simply works again (and its chat would be told afresh should it go once more).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, true, tuple_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ALL_SECTIONS, Chat, Section, Subscription


@dataclass(frozen=True, slots=True)
class RetiredSubscriptions:
    """A chat (topic) that follows sections no longer offered and was not told yet."""

    chat_id: int
    thread_id: int
    # The chat's chosen interface language, else the language Telegram reported for it.
    locale: str | None
    retired: tuple[tuple[str, str], ...]  # (slug, the name stored with it), by name
    remaining: frozenset[str]  # what it still follows: offered sections, or "*"


def _untold(offered: Sequence[str]) -> tuple[ColumnElement[bool], ...]:
    """Active chats' subscriptions to sections no longer offered, not yet told about."""
    return (
        col(Chat.active).is_(True),
        col(Subscription.retired_notice_at).is_(None),
        col(Subscription.section) != ALL_SECTIONS,
        col(Subscription.section).not_in(list(offered)),
    )


async def retired_subscriptions(
    session: AsyncSession,
    offered: Sequence[str],
    *,
    after: tuple[int, int] | None = None,
    limit: int = 100,
) -> list[RetiredSubscriptions]:
    """Up to ``limit`` active chats (topics) following sections not in ``offered`` that were
    not told about them yet, by (chat id, topic) after ``after``, with what they follow
    besides."""
    pending = (
        select(col(Subscription.chat_id), col(Subscription.thread_id))
        .join(Chat, col(Chat.id) == col(Subscription.chat_id))
        .where(
            *_untold(offered),
        )
        .where(
            tuple_(col(Subscription.chat_id), col(Subscription.thread_id)) > tuple_(*after)
            if after is not None
            else true()
        )
        .group_by(col(Subscription.chat_id), col(Subscription.thread_id))
        .order_by(col(Subscription.chat_id), col(Subscription.thread_id))
        .limit(limit)
    )
    keys = [(chat_id, thread_id) for chat_id, thread_id in (await session.exec(pending)).all()]
    result = []
    for chat_id, thread_id in keys:
        chat = await session.get(Chat, chat_id)
        assert chat is not None
        rows = (
            await session.exec(
                select(
                    col(Subscription.section),
                    col(Subscription.retired_notice_at),
                    col(Section.name),
                )
                .outerjoin(Section, col(Section.slug) == col(Subscription.section))
                .where(
                    col(Subscription.chat_id) == chat_id, col(Subscription.thread_id) == thread_id
                )
            )
        ).all()
        offered_now = set(offered) | {ALL_SECTIONS}
        # Only what the chat was not told yet: an earlier notice covered the others.
        retired = sorted(
            (
                (slug, name or slug)
                for slug, told, name in rows
                if slug not in offered_now and told is None
            ),
            key=lambda pair: pair[1].lower(),
        )
        remaining = frozenset(slug for slug, _, _ in rows if slug in offered_now)
        result.append(
            RetiredSubscriptions(
                chat_id, thread_id, chat.locale or chat.language, tuple(retired), remaining
            )
        )
    return result


async def record_told(
    session: AsyncSession, chat_id: int, thread_id: int, sections: Sequence[str], now: datetime
) -> None:
    """Remember that the chat (topic) was told these sections are no longer offered."""
    await session.exec(
        update(Subscription)
        .where(
            col(Subscription.chat_id) == chat_id,
            col(Subscription.thread_id) == thread_id,
            col(Subscription.section).in_(list(sections)),
        )
        .values(retired_notice_at=now)
    )


async def forget_told_for_offered(session: AsyncSession, offered: Sequence[str]) -> int:
    """Sections offered again are live again: their subscriptions would be told afresh if
    they were retired once more. Returns how many subscriptions that concerned."""
    if not offered:
        return 0
    result = await session.exec(
        update(Subscription)
        .where(
            col(Subscription.retired_notice_at).is_not(None),
            col(Subscription.section).in_(list(offered)),
        )
        .values(retired_notice_at=None)
    )
    return int(result.rowcount or 0)


async def untold_counts(session: AsyncSession, offered: Sequence[str]) -> dict[str, int]:
    """Sections not in ``offered`` that active chats follow without having been told, with
    how many subscriptions each (for the operator's log)."""
    statement = (
        select(col(Subscription.section), func.count())
        .join(Chat, col(Chat.id) == col(Subscription.chat_id))
        .where(
            *_untold(offered),
        )
        .group_by(col(Subscription.section))
        .order_by(func.count().desc(), col(Subscription.section))
    )
    return {str(slug): int(count) for slug, count in (await session.exec(statement)).all()}
