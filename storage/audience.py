"""A story's audience, one range of chats at a time: subscribers and keyword followers move
forward together by (chat, topic), so that the first push of a million-reader broadcast waits
for one small step, never for the whole audience (issue 20).

Each step takes the next ``limit`` subscribers after the cursor; its upper bound is the last
(chat, topic) of them, or +infinity when there were fewer (the last step). The followers in
(cursor, upper] come first, labelled with the story's words they follow, then the
subscribers: the unique delivery key then gives a follower who also subscribes exactly one
message, the labelled one. Every query here is an index range scan of ``subscription`` or
``follow`` by (chat_id, thread_id) (their unique keys), whatever the audience's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, literal, or_, tuple_
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.deliveries import Recipient, reads_edition
from storage.models import ALL_SECTIONS, Chat, Follow, Mute, StorySection, Subscription
from storage.records import StoryView

Key = tuple[int, int]  # (chat_id, thread_id)


@dataclass(frozen=True, slots=True)
class AudienceStep:
    """One step of a broadcast's audience: followers (labelled) first, then subscribers;
    ``upper`` is where the next step starts after (None with ``done``: nothing is left)."""

    recipients: list[Recipient]
    upper: Key | None
    done: bool


async def audience_step(
    session: AsyncSession,
    story: StoryView,
    cursor: Key | None,
    limit: int,
    default_edition: str,
    *,
    followed: Sequence[str] = (),
    muted: Sequence[str] = (),
) -> AudienceStep:
    """The recipients of ``story`` in (``cursor``, upper]: ``limit`` subscribers decide upper.

    ``followed``: the followed words the story matches (keyword alerts); ``muted``: the muted
    words it matches (they beat sections and followed words alike).
    """
    subscribers = await subscribers_after(
        session, story, cursor, limit, default_edition, muted=muted
    )
    done = len(subscribers) < limit
    upper = None if done else (subscribers[-1].chat_id, subscribers[-1].thread_id)
    followers = await followers_between(
        session, followed, cursor, upper, story.edition, default_edition, muted=muted
    )
    return AudienceStep(followers + subscribers, upper, done)


async def subscribers_after(
    session: AsyncSession,
    story: StoryView,
    cursor: Key | None,
    limit: int,
    default_edition: str,
    *,
    muted: Sequence[str] = (),
) -> list[Recipient]:
    """The next ``limit`` (chat, topic)s after ``cursor`` subscribed to the story's sections,
    reading its edition, whose mode takes it now and that mute none of ``muted``.

    Chats in digest mode get it with their digest instead; "breaking only" chats only get
    breaking stories.
    """
    sections = select(StorySection.section).where(StorySection.story_id == story.id)
    modes = ["instant", "breaking"] if story.breaking else ["instant"]
    statement = (
        sa_select(
            col(Subscription.chat_id),
            col(Subscription.thread_id),
            col(Chat.timezone),
            col(Chat.quiet_start),
            col(Chat.quiet_end),
        )
        .join(Chat, col(Chat.id) == col(Subscription.chat_id))
        .where(
            _in_range(col(Subscription.chat_id), col(Subscription.thread_id), cursor, None),
            col(Chat.active).is_(True),
            col(Chat.delivery_mode).in_(modes),
            reads_edition(story.edition, default_edition),
            or_(
                col(Subscription.section) == ALL_SECTIONS,
                col(Subscription.section).in_(sections.scalar_subquery()),
            ),
            _mutes_none(muted, col(Subscription.chat_id), col(Subscription.thread_id)),
        )
        # A topic subscribed to several of the story's sections is one recipient.
        .group_by(
            col(Subscription.chat_id),
            col(Subscription.thread_id),
            col(Chat.timezone),
            col(Chat.quiet_start),
            col(Chat.quiet_end),
        )
        .order_by(col(Subscription.chat_id), col(Subscription.thread_id))
        .limit(limit)
    )
    rows = (await session.exec(statement)).all()  # type: ignore[call-overload]
    return [Recipient(*row) for row in rows]


async def followers_between(
    session: AsyncSession,
    phrases: Sequence[str],
    lower: Key | None,
    upper: Key | None,
    edition: str,
    default_edition: str,
    *,
    muted: Sequence[str] = (),
) -> list[Recipient]:
    """Active chats in (``lower``, ``upper``] (None: unbounded) following any of ``phrases``,
    whatever their sections, that read ``edition`` and mute none of ``muted``; each with the
    phrases it follows among them (``matched``), so that the alert can say why it came."""
    if not phrases:
        return []
    statement = (
        sa_select(
            col(Follow.chat_id),
            col(Follow.thread_id),
            col(Chat.timezone),
            col(Chat.quiet_start),
            col(Chat.quiet_end),
            col(Follow.phrase),
        )
        .join(Chat, col(Chat.id) == col(Follow.chat_id))
        .where(
            _in_range(col(Follow.chat_id), col(Follow.thread_id), lower, upper),
            col(Follow.phrase).in_(list(phrases)),
            col(Chat.active).is_(True),
            reads_edition(edition, default_edition),
            _mutes_none(muted, col(Follow.chat_id), col(Follow.thread_id)),
        )
        .order_by(col(Follow.chat_id), col(Follow.thread_id), col(Follow.phrase))
    )
    found: dict[Key, Recipient] = {}
    words: dict[Key, list[str]] = {}
    for chat_id, thread_id, zone, quiet_start, quiet_end, phrase in (
        await session.exec(statement)  # type: ignore[call-overload]
    ).all():
        key = (chat_id, thread_id)
        found.setdefault(key, Recipient(chat_id, thread_id, zone, quiet_start, quiet_end))
        words.setdefault(key, []).append(phrase)
    return [replace(r, matched=",".join(words[key])) for key, r in found.items()]


def _in_range(chat: Any, thread: Any, lower: Key | None, upper: Key | None) -> Any:
    """(chat, thread) in (lower, upper], as row values: both databases read that as a range
    of the (chat_id, thread_id, ...) index, where an OR of columns would not be."""
    row = tuple_(chat, thread)
    bounds = []
    if lower is not None:
        bounds.append(row > tuple_(*(literal(v, BigInteger()) for v in lower)))
    if upper is not None:
        bounds.append(row <= tuple_(*(literal(v, BigInteger()) for v in upper)))
    if not bounds:
        return literal(True)
    return bounds[0] if len(bounds) == 1 else bounds[0] & bounds[1]


def _mutes_none(muted: Sequence[str], chat_id: Any, thread_id: Any) -> ColumnElement[bool]:
    """The chat (topic) mutes none of ``muted`` (always true when nothing is muted)."""
    if not muted:
        return literal(True)
    return ~(
        sa_select(literal(1))
        .where(
            col(Mute.chat_id) == chat_id,
            col(Mute.thread_id) == thread_id,
            col(Mute.phrase).in_(list(muted)),
        )
        .exists()
    )
