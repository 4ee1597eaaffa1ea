"""Chats and subscriptions: who gets which sections, in which forum topic, in which time zone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import deliveries, digests
from storage.dialect import insert_for
from storage.editions import or_default, split_editions
from storage.follows import move_follows
from storage.models import (
    ALL_SECTIONS,
    PRIORITY_NEW,
    Chat,
    Delivery,
    Follow,
    PushRecord,
    StoryMessage,
    Subscription,
)


@dataclass(frozen=True, slots=True)
class ChatView:
    """A chat's stored preferences."""

    id: int
    type: str
    title: str | None
    language: str | None
    timezone: str | None
    active: bool
    # The interface language the chat chose, if it did.
    locale: str | None = None
    # The editions it reads in its own order; empty until it chooses (the default edition).
    editions: tuple[str, ...] = ()
    # Told when someone on the site replies to the reader's comment (/settings).
    comment_replies: bool = True


def _view(chat: Chat) -> ChatView:
    return ChatView(
        chat.id,
        chat.type,
        chat.title,
        chat.language,
        chat.timezone,
        chat.active,
        chat.locale,
        split_editions(chat.editions),
        chat.comment_replies,
    )


def reading(chat: ChatView | None, default_edition: str) -> tuple[str, ...]:
    """The editions a chat reads (None: a chat never seen reads the default edition)."""
    return or_default(chat.editions if chat else (), default_edition)


async def set_language(
    session: AsyncSession,
    chat_id: int,
    now: datetime,
    *,
    locale: str | None = None,
    editions: Sequence[str] | None = None,
) -> ChatView | None:
    """Store the chat's interface language and/or editions (codes validated by the caller)."""
    chat = await session.get(Chat, chat_id)
    if chat is None:
        return None
    if locale is not None:
        chat.locale = locale
    if editions is not None:
        chat.editions = ",".join(dict.fromkeys(editions)) or None
    chat.updated_at = now
    await session.flush()
    return _view(chat)


async def touch_chat(
    session: AsyncSession,
    chat_id: int,
    *,
    type: str,
    title: str | None,
    language: str | None,
    now: datetime,
    reactivate: bool = False,
) -> ChatView:
    """Create the chat on first contact, refresh its title; ``reactivate`` after /start."""
    chat = await session.get(Chat, chat_id)
    if chat is None:
        # Two first updates from one chat can race (concurrent handlers, several instances).
        values = {
            "id": chat_id,
            "type": type,
            "title": title,
            "language": language,
            "active": True,
            "created_at": now,
            "updated_at": now,
        }
        await session.exec(insert_for(session)(Chat).values(values).on_conflict_do_nothing())
        chat = await session.get(Chat, chat_id)
        assert chat is not None
    else:
        if title is not None and chat.title != title:
            chat.title = title
            chat.updated_at = now
        if language and not chat.language:
            chat.language = language
        if reactivate and not chat.active:
            chat.active = True
            chat.inactive_reason = None
            chat.updated_at = now
    await session.flush()
    return _view(chat)


async def get_chat(session: AsyncSession, chat_id: int) -> ChatView | None:
    """A chat's preferences, or None if it never talked to the bot."""
    chat = await session.get(Chat, chat_id)
    return _view(chat) if chat else None


async def set_active(
    session: AsyncSession, chat_id: int, active: bool, now: datetime, reason: str | None = None
) -> bool:
    """Mark a chat reachable or not (blocked, kicked); True if the chat is known.

    An unreachable chat's queued messages are skipped with it: never attempted, and never
    counted as a backlog that holds the next broadcast back or alerts the admins."""
    chat = await session.get(Chat, chat_id)
    if chat is None:
        return False
    if chat.active != active:
        chat.active = active
        chat.updated_at = now
    chat.inactive_reason = None if active else (reason or chat.inactive_reason)
    if not active:
        await session.exec(
            update(Delivery)
            .where(col(Delivery.chat_id) == chat_id, col(Delivery.status) == "pending")
            .values(status="skipped", error=(reason or "chat unreachable")[:300], updated_at=now)
        )
    return True


async def set_timezone(session: AsyncSession, chat_id: int, timezone: str, now: datetime) -> None:
    """Store the chat's time zone (an IANA name, validated by the caller)."""
    chat = await session.get(Chat, chat_id)
    if chat is not None:
        chat.timezone = timezone
        chat.updated_at = now


async def subscriptions(session: AsyncSession, chat_id: int, thread_id: int = 0) -> set[str]:
    """The sections a chat (topic) follows; ``*`` stands for all news."""
    statement = select(Subscription.section).where(
        Subscription.chat_id == chat_id, Subscription.thread_id == thread_id
    )
    return set((await session.exec(statement)).all())


async def subscribe(
    session: AsyncSession,
    chat_id: int,
    sections: Sequence[str],
    now: datetime,
    thread_id: int = 0,
) -> set[str]:
    """Follow ``sections`` (``["*"]`` for everything); returns the resulting set.

    Subscribing to everything replaces the single-section rows, which it covers.
    """
    if ALL_SECTIONS in sections:
        await session.exec(
            delete(Subscription).where(
                col(Subscription.chat_id) == chat_id, col(Subscription.thread_id) == thread_id
            )
        )
        sections = [ALL_SECTIONS]
    rows = [
        {"chat_id": chat_id, "thread_id": thread_id, "section": s, "created_at": now}
        for s in dict.fromkeys(sections)
    ]
    if rows:
        await session.exec(insert_for(session)(Subscription).values(rows).on_conflict_do_nothing())
    return await subscriptions(session, chat_id, thread_id)


async def unsubscribe(
    session: AsyncSession, chat_id: int, sections: Sequence[str] | None, thread_id: int = 0
) -> set[str]:
    """Stop ``sections`` (None: stop everything); returns what is left.

    Leaving one section while following all news turns "all" into every other known section.
    """
    statement = delete(Subscription).where(
        col(Subscription.chat_id) == chat_id, col(Subscription.thread_id) == thread_id
    )
    if sections is not None:
        statement = statement.where(col(Subscription.section).in_(list(sections)))
    await session.exec(statement)
    return await subscriptions(session, chat_id, thread_id)


async def replace_all_with(
    session: AsyncSession, chat_id: int, sections: Sequence[str], now: datetime, thread_id: int = 0
) -> set[str]:
    """Swap an all-news subscription for an explicit list of sections."""
    await unsubscribe(session, chat_id, None, thread_id)
    if not sections:
        return set()
    return await subscribe(session, chat_id, sections, now, thread_id)


async def move_chat(session: AsyncSession, old_id: int, new_id: int, now: datetime) -> bool:
    """A group became a supergroup: carry its settings and subscriptions to the new id.

    Telegram announces a migration twice (in the old and the new chat); the second call
    finds nothing left to move. Returns True when something moved.
    """
    old = await session.get(Chat, old_id)
    if old is None:
        return False
    new = await session.get(Chat, new_id)
    if new is None:
        new = Chat(
            id=new_id,
            type="supergroup",
            title=old.title,
            language=old.language,
            locale=old.locale,
            editions=old.editions,
            timezone=old.timezone,
            active=True,
            created_at=now,
            updated_at=now,
            delivery_mode=old.delivery_mode,
            quiet_start=old.quiet_start,
            quiet_end=old.quiet_end,
            digest_sent_at=old.digest_sent_at,
        )
        session.add(new)
        await session.flush()
    rows = (await session.exec(select(Subscription).where(Subscription.chat_id == old_id))).all()
    moved = [
        {"chat_id": new_id, "thread_id": s.thread_id, "section": s.section, "created_at": now}
        for s in rows
    ]
    if moved:
        await session.exec(
            insert_for(session)(Subscription).values(moved).on_conflict_do_nothing()
        )
    await move_follows(session, old_id, new_id, now)
    # Queued and sent pushes follow the chat: nothing waiting is lost, replies still map.
    for table in (Delivery, PushRecord):
        await session.exec(
            update(table).where(col(table.chat_id) == old_id).values(chat_id=new_id)
        )
    await forget_chat(session, old_id)
    return True


async def forget_topic(session: AsyncSession, chat_id: int, thread_id: int) -> None:
    """A forum topic was deleted or closed: stop everything aimed at it, keep the group."""
    for table in (Subscription, Follow):
        await session.exec(
            delete(table).where(col(table.chat_id) == chat_id, col(table.thread_id) == thread_id)
        )
    await session.exec(
        update(Delivery)
        .where(
            col(Delivery.chat_id) == chat_id,
            col(Delivery.thread_id) == thread_id,
            col(Delivery.status) == "pending",
        )
        .values(status="skipped", error="topic gone")
    )


async def forget_chat(session: AsyncSession, chat_id: int) -> bool:
    """Delete everything stored about a chat: subscriptions, keywords, what was pushed to it
    and which of its messages showed which stories."""
    for table in (Subscription, Follow, Delivery, PushRecord, StoryMessage):
        await session.exec(delete(table).where(col(table.chat_id) == chat_id))
    result = await session.exec(delete(Chat).where(col(Chat.id) == chat_id))
    return bool(result.rowcount)


# --- delivery preferences -----------------------------------------------------------------

# instant: every story as it is published; breaking: breaking news only; hourly and daily: a
# digest listing the period's stories.
DELIVERY_MODES = ("instant", "breaking", "hourly", "daily")
_DIGEST_MODES = ("hourly", "daily")


@dataclass(frozen=True, slots=True)
class DeliveryPrefs:
    """How and when a chat wants its pushes: the mode and optional quiet hours ("HH:MM")."""

    mode: str
    quiet_start: str | None
    quiet_end: str | None
    # Pictures (True) or text only (False); None: the operator's default (PUSH_IMAGES).
    images: bool | None = None
    # Ordinary pushes without sound (breaking news still rings).
    silent: bool = False


async def delivery_prefs(session: AsyncSession, chat_id: int) -> DeliveryPrefs | None:
    """A chat's delivery mode, quiet hours, pictures and sound, or None if it never talked
    to the bot."""
    chat = await session.get(Chat, chat_id)
    if chat is None:
        return None
    return DeliveryPrefs(
        chat.delivery_mode, chat.quiet_start, chat.quiet_end, chat.push_images, chat.silent_pushes
    )


async def set_delivery_mode(session: AsyncSession, chat_id: int, mode: str, now: datetime) -> bool:
    """Store the chat's delivery mode (one of DELIVERY_MODES); True if the chat is known.

    Entering a digest mode starts the digest's period now, so its first digest does not list
    stories the chat already received one by one.
    """
    if mode not in DELIVERY_MODES:
        raise ValueError(f"delivery mode must be one of {', '.join(DELIVERY_MODES)}, not {mode!r}")
    chat = await session.get(Chat, chat_id)
    if chat is None:
        return False
    if chat.delivery_mode != mode:
        if mode in _DIGEST_MODES and chat.delivery_mode not in _DIGEST_MODES:
            chat.digest_sent_at = now
        if chat.delivery_mode in _DIGEST_MODES and mode not in _DIGEST_MODES:
            # What the next digest would have carried is pushed now instead of being lost.
            await _queue_owed_digest(session, chat, now)
        chat.delivery_mode = mode
        chat.updated_at = now
    return True


async def _queue_owed_digest(session: AsyncSession, chat: Chat, now: datetime) -> None:
    rows = await session.exec(
        select(Subscription.thread_id, Subscription.section).where(
            col(Subscription.chat_id) == chat.id
        )
    )
    topics: dict[int, set[str]] = {}
    for thread_id, section in rows.all():
        topics.setdefault(thread_id, set()).add(section)
    since = chat.digest_sent_at or now
    for thread_id, sections in topics.items():
        reader = digests.DigestReader(
            chat.id, thread_id, chat.delivery_mode, chat.timezone, since, frozenset(sections)
        )
        story_ids = await digests.digest_candidates(session, reader, since)
        recipient = deliveries.Recipient(
            chat.id, thread_id, chat.timezone, chat.quiet_start, chat.quiet_end
        )
        for story_id in story_ids:
            await deliveries.add_deliveries(
                session, story_id, deliveries.PUSH, PRIORITY_NEW, [(recipient, None)], now
            )


async def set_push_images(session: AsyncSession, chat_id: int, on: bool, now: datetime) -> bool:
    """Pushes with pictures (``on``) or text only; True if the chat is known."""
    result = await session.exec(
        update(Chat).where(col(Chat.id) == chat_id).values(push_images=on, updated_at=now)
    )
    return bool(result.rowcount)


async def set_silent_pushes(session: AsyncSession, chat_id: int, on: bool, now: datetime) -> bool:
    """Ordinary pushes without sound (``on``) or with it; True if the chat is known."""
    result = await session.exec(
        update(Chat).where(col(Chat.id) == chat_id).values(silent_pushes=on, updated_at=now)
    )
    return bool(result.rowcount)


async def set_comment_replies(
    session: AsyncSession, chat_id: int, on: bool, now: datetime
) -> bool:
    """Whether the reader hears about site replies to their comments; True if that changed."""
    result = await session.exec(
        update(Chat)
        .where(col(Chat.id) == chat_id, col(Chat.comment_replies) != on)
        .values(comment_replies=on, updated_at=now)
    )
    return bool(result.rowcount)


async def set_quiet_hours(
    session: AsyncSession, chat_id: int, start: str | None, end: str | None, now: datetime
) -> bool:
    """Store quiet hours as local "HH:MM" times (both None: none); True if the chat is known."""
    if (start is None) != (end is None):
        raise ValueError("quiet hours need both a start and an end, or neither")
    chat = await session.get(Chat, chat_id)
    if chat is None:
        return False
    if (chat.quiet_start, chat.quiet_end) != (start, end):
        chat.quiet_start, chat.quiet_end = start, end
        chat.updated_at = now
    return True


async def chat_counts(session: AsyncSession) -> tuple[int, int]:
    """How many known chats are reachable and how many are not: ``(active, inactive)``."""
    statement = select(Chat.active, func.count()).group_by(col(Chat.active))
    counts = {bool(active): int(n) for active, n in (await session.exec(statement)).all()}
    return counts.get(True, 0), counts.get(False, 0)
