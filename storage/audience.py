"""A story's audience, one range of chats at a time: subscribers and keyword followers move
forward together by (chat, topic), so that the first push of a million-reader broadcast waits
for one small step, never for the whole audience (issue 20).

Each step reads the next ``limit`` subscription rows after the cursor; its upper bound is the
last (chat, topic) of them, or +infinity when there were fewer (the last step). The followers
of each of the story's followed words in (cursor, upper] are read too, at most ``limit`` a
word (a word with more brings upper down to its last one). Followers come first, labelled
with the story's words they follow, then the subscribers: the unique delivery key gives a
follower who also subscribes exactly one message, the labelled one. The cursor moves to upper
in the same transaction (``jobs/push/enumeration.py``), so a crash resumes exactly there.

Every query is a range scan bounded by the step, whatever the audience's size (checked with
EXPLAIN at a million chats on both databases): ``uq_subscription`` (chat_id, thread_id, ...)
and ``ix_follow_phrase_chat`` (phrase, chat_id, thread_id), or on PostgreSQL ``chat``'s key
between the same bounds joined to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, literal, or_, text, tuple_
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.deliveries import Recipient, reads_edition, recipient_columns
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


@dataclass(frozen=True, slots=True)
class Page:
    """Recipients in chat order, complete up to ``upper`` (None: to the end)."""

    recipients: list[Recipient]
    upper: Key | None


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
    """The recipients of ``story`` in (``cursor``, upper]: ``limit`` subscription rows decide
    upper, and so may ``limit`` followers of one word (a story read by few subscribers but
    followed by many is still read a little at a time).

    ``followed``: the followed words the story matches (keyword alerts); ``muted``: the muted
    words it matches (they beat sections and followed words alike).
    """
    subscribers = await subscribers_after(
        session, story, cursor, limit, default_edition, muted=muted
    )
    followers = await followers_after(
        session,
        followed,
        cursor,
        subscribers.upper,
        limit,
        story.edition,
        default_edition,
        muted=muted,
    )
    upper = followers.upper
    within = [r for r in subscribers.recipients if _at_most(r, upper)]
    return AudienceStep(followers.recipients + within, upper, upper is None)


async def subscribers_after(
    session: AsyncSession,
    story: StoryView,
    cursor: Key | None,
    limit: int,
    default_edition: str,
    *,
    muted: Sequence[str] = (),
) -> Page:
    """The (chat, topic)s after ``cursor`` subscribed to the story's sections, reading its
    edition, whose mode takes it now and that mute none of ``muted``, from ``limit``
    subscription rows (complete up to the last one read when there were that many).

    Chats in digest mode get it with their digest instead; "breaking only" chats only get
    breaking stories.
    """
    sections = select(StorySection.section).where(StorySection.story_id == story.id)
    modes = ["instant", "breaking"] if story.breaking else ["instant"]
    section: Any = col(Subscription.section)
    if session.get_bind().dialect.name == "sqlite":
        # Without statistics SQLite would read every subscriber of the section through
        # ix_subscription_section and sort them; an expression keeps it on the range of
        # uq_subscription (chat_id, thread_id), read in order and stopped at the LIMIT.
        section = section.concat("")
    statement = (
        sa_select(*recipient_columns(Subscription))
        .join(Chat, col(Chat.id) == col(Subscription.chat_id))
        .where(
            _in_range(col(Subscription.chat_id), col(Subscription.thread_id), cursor, None),
            col(Chat.active).is_(True),
            col(Chat.delivery_mode).in_(modes),
            reads_edition(story.edition, default_edition),
            or_(section == ALL_SECTIONS, section.in_(sections.scalar_subquery())),
            _mutes_none(muted, col(Subscription.chat_id), col(Subscription.thread_id)),
        )
        .order_by(col(Subscription.chat_id), col(Subscription.thread_id))
        .limit(limit)
    )
    rows = (await session.exec(statement)).all()  # type: ignore[call-overload]
    found: list[Recipient] = []
    for row in rows:
        # A topic subscribed to several of the story's sections is one recipient (its rows
        # are next to each other; one cut by the LIMIT is complete anyway).
        if not found or (found[-1].chat_id, found[-1].thread_id) != (row[0], row[1]):
            found.append(Recipient(*row))
    upper = (found[-1].chat_id, found[-1].thread_id) if len(rows) >= limit else None
    return Page(found, upper)


async def followers_after(
    session: AsyncSession,
    phrases: Sequence[str],
    lower: Key | None,
    upper: Key | None,
    limit: int,
    edition: str,
    default_edition: str,
    *,
    muted: Sequence[str] = (),
) -> Page:
    """Active chats in (``lower``, ``upper``] (None: unbounded) following any of ``phrases``,
    whatever their sections, that read ``edition`` and mute none of ``muted``; each with the
    phrases it follows among them (``matched``), so that the alert can say why it came.

    At most ``limit`` followers of each phrase are read (one range of
    ix_follow_phrase_chat each); the page's ``upper`` comes down to the last one read of a
    phrase that had that many, so that every follower up to it is complete.
    """
    per_phrase: list[list[Any]] = []
    for phrase in sorted(set(phrases)):
        statement = (
            sa_select(*recipient_columns(Follow), col(Follow.phrase))
            .join(Chat, col(Chat.id) == col(Follow.chat_id))
            .where(
                col(Follow.phrase) == phrase,
                _in_range(col(Follow.chat_id), col(Follow.thread_id), lower, upper),
                col(Chat.active).is_(True),
                reads_edition(edition, default_edition),
                _mutes_none(muted, col(Follow.chat_id), col(Follow.thread_id)),
            )
            .order_by(col(Follow.chat_id), col(Follow.thread_id))
            .limit(limit)
        )
        rows = list((await session.exec(statement)).all())  # type: ignore[call-overload]
        per_phrase.append(rows)
        if len(rows) >= limit:
            last = (rows[-1][0], rows[-1][1])
            upper = last if upper is None else min(upper, last)
    found: dict[Key, Recipient] = {}
    words: dict[Key, list[str]] = {}
    for rows in per_phrase:  # phrases in order: each follower's words come sorted
        for chat_id, thread_id, zone, quiet_start, quiet_end, phrase in rows:
            key = (chat_id, thread_id)
            if upper is not None and key > upper:
                break
            found.setdefault(key, Recipient(chat_id, thread_id, zone, quiet_start, quiet_end))
            words.setdefault(key, []).append(phrase)
    recipients = [replace(found[key], matched=",".join(words[key])) for key in sorted(found)]
    return Page(recipients, upper)


async def phrases_in_use(session: AsyncSession, table: str) -> list[str]:
    """Every distinct phrase of ``follow`` or ``mute``, one index seek per phrase (a loose
    index scan: reading every row to find a few thousand phrases cost seconds at a million
    readers). Phrases of chats that left are included: they can only add a candidate word,
    which the queries above then find no active reader for."""
    if table not in ("follow", "mute"):
        raise ValueError(f"no phrases in {table!r}")
    statement = text(
        f"WITH RECURSIVE found(phrase) AS ("
        f" SELECT min(phrase) FROM {table}"
        f" UNION ALL"
        f" SELECT (SELECT min(phrase) FROM {table} WHERE phrase > found.phrase)"
        f" FROM found WHERE found.phrase IS NOT NULL"
        f") SELECT phrase FROM found WHERE phrase IS NOT NULL"
    )
    connection = await session.connection()
    return [row[0] for row in (await connection.execute(statement)).all()]


def _at_most(recipient: Recipient, upper: Key | None) -> bool:
    return upper is None or (recipient.chat_id, recipient.thread_id) <= upper


def _in_range(chat: Any, thread: Any, lower: Key | None, upper: Key | None) -> Any:
    """(chat, thread) in (lower, upper], as row values: both databases read that as a range
    of the (chat_id, thread_id, ...) index, where an OR of columns would not be. The same
    bounds on ``chat.id`` keep PostgreSQL's merge join with ``chat`` from reading that table
    from its first row at every step."""
    row = tuple_(chat, thread)
    bounds = []
    if lower is not None:
        bounds.append(row > tuple_(*(literal(v, BigInteger()) for v in lower)))
        bounds.append(col(Chat.id) >= literal(lower[0], BigInteger()))
    if upper is not None:
        bounds.append(row <= tuple_(*(literal(v, BigInteger()) for v in upper)))
        bounds.append(col(Chat.id) <= literal(upper[0], BigInteger()))
    return and_(*bounds) if bounds else literal(True)


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
