"""Broadcasts and deliveries: the durable queue behind every push and every correction.

A delivery row exists before its message is sent, and its unique key (story, chat, topic,
kind) makes a second push of the same story to the same reader impossible while it lives.
A sent push also leaves a narrow ``push_record`` row (what replies and corrections need);
finished delivery rows are compacted away a while later, counted per day in
``delivery_tally``, and a push is never queued where a ``push_record`` says it went.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    or_,
    tuple_,
    update,
)
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.dialect import insert_for
from storage.models import (
    PRIORITY_BREAKING,
    PRIORITY_EDIT,
    PRIORITY_NEW,
    Broadcast,
    Chat,
    Delivery,
    DeliveryTally,
    PushRecord,
    Story,
)
from storage.types import UTCDateTime

PUSH, EDIT = "push", "edit"


@dataclass(frozen=True, slots=True)
class BroadcastView:
    """A broadcast whose recipients are still being enumerated."""

    id: int
    story_id: int
    kind: str
    priority: int
    cursor: tuple[int, int] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Recipient:
    """A chat (topic) that should get a story, with what decides when and how."""

    chat_id: int
    thread_id: int
    timezone: str | None
    quiet_start: str | None
    quiet_end: str | None
    message_id: int | None = None  # for corrections: the message to edit
    matched: str | None = None  # a keyword alert: the followed keywords, comma-separated


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """A claimed delivery, ready to send."""

    id: int
    story_id: int
    chat_id: int
    thread_id: int
    kind: str
    priority: int
    attempts: int
    timezone: str | None
    target_message_id: int | None  # for corrections: the pushed message
    # The reader's chosen interface language, else Telegram's code for it (None: unknown).
    locale: str | None = None
    matched: str | None = None  # a keyword alert: the followed keywords it matched
    # The reader wants pictures (True) or text only (False); None: the operator's default.
    images: bool | None = None
    # Ordinary pushes arrive without sound (breaking news still rings).
    silent: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one delivery."""

    id: int
    status: str  # sent, failed, skipped or pending (retry later)
    message_id: int | None = None
    error: str | None = None
    not_before: datetime | None = None
    attempts: int = 0
    photo: bool = False  # the message sent is a photo with a caption


async def queue_broadcasts(
    session: AsyncSession, stories: Sequence[tuple[int, bool]], kind: str, now: datetime
) -> int:
    """Create broadcasts for ``(story_id, breaking)`` pairs; returns how many were new."""
    if not stories:
        return 0
    rows = [
        {
            "story_id": story_id,
            "kind": kind,
            "priority": PRIORITY_EDIT
            if kind == EDIT
            else (PRIORITY_BREAKING if breaking else PRIORITY_NEW),
            "enumerated": False,
            "created_at": now,
        }
        for story_id, breaking in stories
    ]
    statement = (
        insert_for(session)(Broadcast).on_conflict_do_nothing().returning(col(Broadcast.id))
    )
    # One bulk statement: a poll may bring many new stories at once.
    created = len((await session.exec(statement, params=rows)).all())
    if kind == PUSH:
        ids = [s for s, _ in stories]
        await session.exec(
            update(Story)
            .where(col(Story.id).in_(ids), col(Story.push_state) == "pending")
            .values(push_state="queued")
        )
    return created


async def requeue_edit(session: AsyncSession, story_id: int, now: datetime) -> None:
    """A pushed story changed again: enumerate its pushed messages afresh."""
    statement = insert_for(session)(Broadcast).values(
        story_id=story_id, kind=EDIT, priority=PRIORITY_EDIT, enumerated=False, created_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=["story_id", "kind"],
        set_={"enumerated": False, "cursor_chat": None, "cursor_thread": None},
    )
    await session.exec(statement)


async def reopen_broadcast(session: AsyncSession, story_id: int, now: datetime) -> None:
    """Enumerate a story's push again, as breaking news (existing deliveries stay unique)."""
    statement = insert_for(session)(Broadcast).values(
        story_id=story_id, kind=PUSH, priority=PRIORITY_BREAKING, enumerated=False, created_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=["story_id", "kind"],
        set_={
            "enumerated": False,
            "cursor_chat": None,
            "cursor_thread": None,
            "priority": PRIORITY_BREAKING,
            "created_at": now,
        },
    )
    await session.exec(statement)


async def reschedule_held(
    session: AsyncSession, chat_id: int, until: datetime | None, now: datetime
) -> int:
    """A chat's quiet hours changed: its pushes waiting for later now wait until ``until``
    (None: they are due at once). Returns how many. Corrections are never held; a push put
    off for a moment (the chat's pace, a retry) is due again anyway, and the sender puts it
    off again if it must."""
    result = await session.exec(
        update(Delivery)
        .where(
            col(Delivery.chat_id) == chat_id,
            col(Delivery.kind) == PUSH,
            col(Delivery.status) == "pending",
            col(Delivery.not_before) > now,
        )
        .values(not_before=until, updated_at=now)
    )
    return int(result.rowcount or 0)


@dataclass(frozen=True, slots=True)
class PushTally:
    """A story's push as an admin needs it: who had it before ``since``, who was queued
    since, and whether the audience is fully counted yet."""

    already: int
    since: int
    counted: bool


async def push_tally(session: AsyncSession, story_id: int, since: datetime) -> PushTally:
    """How far a (re)opened push has got: readers who had the story before ``since``
    (sent, or on its way), readers queued for it since, and whether enumeration is done."""
    delivered = col(Delivery.status).notin_(["failed", "skipped"])
    is_new = col(Delivery.created_at) >= since
    before_count, since_count = (
        await session.exec(
            select(
                func.coalesce(func.sum(case((is_new, 0), else_=1)), 0),
                func.coalesce(func.sum(case((is_new, 1), else_=0)), 0),
            ).where(col(Delivery.story_id) == story_id, col(Delivery.kind) == PUSH, delivered)
        )
    ).one()
    # Pushes whose delivery rows were compacted away are counted by what they left.
    still_queued = (
        sa_select(literal(1))
        .where(
            col(Delivery.story_id) == col(PushRecord.story_id),
            col(Delivery.chat_id) == col(PushRecord.chat_id),
            col(Delivery.thread_id) == col(PushRecord.thread_id),
            col(Delivery.kind) == PUSH,
        )
        .exists()
    )
    compacted = (
        await session.exec(
            select(func.count()).where(
                col(PushRecord.story_id) == story_id,
                col(PushRecord.sent_at) < since,
                ~still_queued,
            )
        )
    ).one()
    enumerated = (
        await session.exec(
            select(Broadcast.enumerated).where(
                col(Broadcast.story_id) == story_id, col(Broadcast.kind) == PUSH
            )
        )
    ).first()
    # No broadcast at all: nothing is being counted (a story never pushed by this bot).
    counted = enumerated is None or bool(enumerated)
    return PushTally(
        already=int(before_count) + int(compacted), since=int(since_count), counted=counted
    )


async def open_broadcasts(session: AsyncSession, limit: int = 20) -> list[BroadcastView]:
    """Broadcasts still enumerating recipients, most urgent first."""
    statement = (
        select(Broadcast)
        .where(col(Broadcast.enumerated).is_(False))
        .order_by(col(Broadcast.priority), col(Broadcast.id))
        .limit(limit)
    )
    return [
        BroadcastView(
            b.id or 0,
            b.story_id,
            b.kind,
            b.priority,
            (b.cursor_chat, b.cursor_thread or 0) if b.cursor_chat is not None else None,
            b.created_at,
        )
        for b in (await session.exec(statement)).all()
    ]


def _after(cursor: tuple[int, int] | None, chat: Any, thread: Any) -> Any:
    if cursor is None:
        return True
    return or_(chat > cursor[0], and_(chat == cursor[0], thread > cursor[1]))


def recipient_columns(table: Any) -> tuple[Any, ...]:
    """What a ``Recipient`` is read from, in its order: ``table``'s chat and topic, then the
    chat's time zone and quiet hours (``Chat`` joined by the caller)."""
    return (
        col(table.chat_id),
        col(table.thread_id),
        col(Chat.timezone),
        col(Chat.quiet_start),
        col(Chat.quiet_end),
    )


def reads_edition(edition: str, default_edition: str) -> ColumnElement[bool]:
    """True for chats reading ``edition``: their comma-separated choice holds it, or they
    never chose and it is the default edition. (Edition codes are letters only, so LIKE's
    wildcards cannot occur in them.)"""
    chosen = func.coalesce(col(Chat.editions), literal(default_edition))
    return (literal(",") + chosen + literal(",")).like(f"%,{edition},%")


async def edit_targets_batch(
    session: AsyncSession,
    story_id: int,
    cursor: tuple[int, int] | None,
    limit: int,
    since: datetime,
) -> list[Recipient]:
    """Where the story was pushed (within the comment window), to correct those messages."""
    statement = (
        sa_select(*recipient_columns(PushRecord), col(PushRecord.message_id))
        .join(Chat, col(Chat.id) == col(PushRecord.chat_id))
        .where(
            col(PushRecord.story_id) == story_id,
            col(PushRecord.sent_at) >= since,
            col(Chat.active).is_(True),
            _after(cursor, col(PushRecord.chat_id), col(PushRecord.thread_id)),
        )
        .order_by(col(PushRecord.chat_id), col(PushRecord.thread_id))
        .limit(limit)
    )
    return [Recipient(*row) for row in (await session.exec(statement)).all()]  # type: ignore[call-overload]


async def add_deliveries(
    session: AsyncSession,
    story_id: int,
    kind: str,
    priority: int,
    recipients: Sequence[tuple[Recipient, datetime | None]],
    now: datetime,
) -> None:
    """Queue one delivery per recipient (with its hold-until time); pushes never repeat."""
    if kind == PUSH:
        recipients = await _not_pushed_yet(session, story_id, recipients)
    if not recipients:
        return
    rows = [
        {
            "story_id": story_id,
            "chat_id": r.chat_id,
            "thread_id": r.thread_id,
            "kind": kind,
            "priority": priority,
            "status": "pending",
            "not_before": not_before,
            "attempts": 0,
            "message_id": r.message_id if kind == EDIT else None,
            "matched": r.matched if kind == PUSH else None,
            "created_at": now,
            "updated_at": now,
        }
        for r, not_before in recipients
    ]
    # One cached statement executed for many rows (executemany): a multi-row VALUES would be
    # compiled afresh for every batch, which cost more CPU than the sends it prepares.
    table = Delivery.__table__  # type: ignore[attr-defined]
    statement = insert_for(session)(table)
    if kind == EDIT:
        # A later correction replaces an earlier one that was not sent yet.
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["story_id", "chat_id", "thread_id", "kind"],
            set_={
                "status": "pending",
                "attempts": 0,
                "not_before": excluded.not_before,
                "message_id": excluded.message_id,
                "updated_at": excluded.updated_at,
            },
        )
    else:
        statement = statement.on_conflict_do_nothing()
    connection = await session.connection()
    await connection.execute(statement, rows)


async def _not_pushed_yet(
    session: AsyncSession,
    story_id: int,
    recipients: Sequence[tuple[Recipient, datetime | None]],
) -> Sequence[tuple[Recipient, datetime | None]]:
    """Leave out readers who already have the story (a push whose delivery row was compacted
    away, or a digest): a reopened broadcast or a keyword alert must not repeat it."""
    if not recipients:
        return recipients
    chats = [r.chat_id for r, _ in recipients]
    statement = sa_select(col(PushRecord.chat_id), col(PushRecord.thread_id)).where(
        col(PushRecord.story_id) == story_id,
        col(PushRecord.chat_id).between(min(chats), max(chats)),
    )
    had = {(chat, thread) for chat, thread in (await session.exec(statement)).all()}  # type: ignore[call-overload]
    if not had:
        return recipients
    return [(r, hold) for r, hold in recipients if (r.chat_id, r.thread_id) not in had]


async def advance_broadcast(
    session: AsyncSession, broadcast: BroadcastView, cursor: tuple[int, int] | None, done: bool
) -> bool:
    """Remember how far the enumeration got (and whether it is complete), unless the
    broadcast was reopened or corrected again since it was read (then it starts afresh, as
    the reopening asked); True when it was moved on."""
    values: dict[str, Any] = {"enumerated": done}
    if cursor is not None:
        values |= {"cursor_chat": cursor[0], "cursor_thread": cursor[1]}
    if broadcast.cursor is None:
        as_read: ColumnElement[bool] = col(Broadcast.cursor_chat).is_(None)
    else:
        as_read = and_(
            col(Broadcast.cursor_chat) == broadcast.cursor[0],
            func.coalesce(col(Broadcast.cursor_thread), 0) == broadcast.cursor[1],
        )
    result = await session.exec(
        update(Broadcast)
        .where(
            col(Broadcast.id) == broadcast.id,
            col(Broadcast.enumerated).is_(False),
            col(Broadcast.created_at) == broadcast.created_at,
            as_read,
        )
        .values(**values)
    )
    return bool(result.rowcount)


async def claim_deliveries(session: AsyncSession, now: datetime, limit: int) -> list[DeliveryJob]:
    """Take the most urgent due deliveries and mark them in flight.

    Plain columns through Core, not ORM objects: the sender claims a thousand rows a second,
    and building (then never using) an ORM object per row was a visible share of its CPU.
    """
    table = Delivery.__table__  # type: ignore[attr-defined]
    chat = Chat.__table__  # type: ignore[attr-defined]
    c = table.c
    statement = (
        sa_select(
            c.id,
            c.story_id,
            c.chat_id,
            c.thread_id,
            c.kind,
            c.priority,
            c.attempts,
            chat.c.timezone,
            # Only a correction has a message to edit.
            case((c.kind == EDIT, c.message_id)),
            func.coalesce(chat.c.locale, chat.c.language),
            c.matched,
            chat.c.push_images,
            func.coalesce(chat.c.silent_pushes, False),
        )
        .select_from(table.outerjoin(chat, chat.c.id == c.chat_id))
        .where(
            c.status == "pending",
            or_(c.not_before.is_(None), c.not_before <= now),
            # A reader who blocked the bot since this was queued is not tried at all.
            or_(chat.c.active.is_(None), chat.c.active.is_(True)),
        )
        .order_by(c.priority, c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Several instances may claim at once; each row goes to exactly one of them.
        statement = statement.with_for_update(skip_locked=True, of=table)
    connection = await session.connection()
    # The columns are DeliveryJob's fields, in order (more than SQLAlchemy's typing counts).
    rows: Sequence[Any] = (await connection.execute(statement)).all()
    jobs = [DeliveryJob(*row) for row in rows]
    if jobs:
        await connection.execute(
            update(table)
            .where(c.id.in_([job.id for job in jobs]))
            .values(status="sending", updated_at=now)
        )
    return jobs


async def record_outcomes(
    session: AsyncSession, outcomes: Sequence[Outcome], now: datetime
) -> None:
    """Store what happened to each delivery: one executemany per shape, one transaction.

    At a thousand sends a second, one UPDATE round trip per outcome would cost more than the
    sends themselves.
    """
    table = Delivery.__table__  # type: ignore[attr-defined]
    for with_message in (True, False):
        group = [o for o in outcomes if (o.message_id is not None) == with_message]
        if not group:
            continue
        values: dict[str, Any] = {
            "status": bindparam("new_status"),
            "error": bindparam("new_error"),
            "attempts": bindparam("new_attempts"),
            "not_before": bindparam("new_not_before", type_=UTCDateTime()),
            "updated_at": bindparam("now", type_=UTCDateTime()),
        }
        if with_message:
            values["message_id"] = bindparam("new_message_id")
            values["photo"] = bindparam("new_photo")
        statement = update(table).where(table.c.id == bindparam("delivery_id")).values(**values)
        rows = [
            {
                "delivery_id": o.id,
                "new_status": o.status,
                "new_error": o.error[:300] if o.error else None,
                "new_attempts": o.attempts,
                "new_not_before": o.not_before,
                "new_message_id": o.message_id,
                "new_photo": o.photo,
                "now": now,
            }
            for o in group
        ]
        connection = await session.connection()
        await connection.execute(statement, rows)
    sent = [o.id for o in outcomes if o.status == "sent" and o.message_id is not None]
    if sent:
        await _remember_pushed(session, sent)


async def _remember_pushed(session: AsyncSession, delivery_ids: Sequence[int]) -> None:
    """Sent pushes leave their narrow record (in the transaction that marks them sent)."""
    table = Delivery.__table__  # type: ignore[attr-defined]
    c = table.c
    source = sa_select(
        c.story_id, c.chat_id, c.thread_id, c.message_id, c.matched, c.photo, c.updated_at
    ).where(c.id.in_(list(delivery_ids)), c.kind == PUSH, c.message_id.is_not(None))
    pushed = PushRecord.__table__  # type: ignore[attr-defined]
    statement = insert_for(session)(pushed).from_select(
        ["story_id", "chat_id", "thread_id", "message_id", "matched", "photo", "sent_at"], source
    )
    # The same push recorded twice (a retried flush) keeps its first record.
    connection = await session.connection()
    await connection.execute(statement.on_conflict_do_nothing())


async def release_in_flight(session: AsyncSession, now: datetime) -> int:
    """After a crash, deliveries left in flight are sent again (their outcome is unknown)."""
    result = await session.exec(
        update(Delivery)
        .where(col(Delivery.status) == "sending")
        .values(status="pending", updated_at=now)
    )
    return int(result.rowcount or 0)


async def release_deliveries(session: AsyncSession, ids: Sequence[int], now: datetime) -> int:
    """Put these in-flight deliveries back in the queue (claimed, never sent)."""
    if not ids:
        return 0
    table = Delivery.__table__  # type: ignore[attr-defined]
    connection = await session.connection()
    result = await connection.execute(
        update(table)
        .where(table.c.id.in_(list(ids)), table.c.status == "sending")
        .values(status="pending", updated_at=now)
    )
    return int(result.rowcount or 0)


async def in_flight(session: AsyncSession, story_id: int) -> bool:
    """True while some push of the story has been sent without its outcome recorded."""
    statement = (
        select(Delivery.id)
        .where(col(Delivery.story_id) == story_id, col(Delivery.status) == "sending")
        .limit(1)
    )
    return (await session.exec(statement)).first() is not None


@dataclass(frozen=True, slots=True)
class PushedMessage:
    """What a pushed message shows: its stories, the followed keywords it was labelled with
    (none for a plain push), and whether it is a photo with a caption."""

    story_ids: list[int]
    keywords: tuple[str, ...] = ()
    photo: bool = False


async def stories_for_message(session: AsyncSession, chat_id: int, message_id: int) -> list[int]:
    """The stories a pushed message carried (several for a grouped push)."""
    return (await pushed_message(session, chat_id, message_id)).story_ids


async def pushed_message(session: AsyncSession, chat_id: int, message_id: int) -> PushedMessage:
    """A pushed message's stories, keywords and form, in one read."""
    statement = select(PushRecord.story_id, PushRecord.matched, PushRecord.photo).where(
        col(PushRecord.chat_id) == chat_id, col(PushRecord.message_id) == message_id
    )
    rows = (await session.exec(statement)).all()
    stories = sorted({story_id for story_id, _, _ in rows})
    words = {word for _, matched, _ in rows if matched for word in matched.split(",")}
    return PushedMessage(stories, tuple(sorted(words)), any(photo for _, _, photo in rows))


async def delivery_counts(session: AsyncSession) -> dict[str, int]:
    """Pushes by status, for /stats: the rows still in the queue and those compacted."""
    statement = (
        select(Delivery.status, func.count())
        .where(col(Delivery.kind) == PUSH)
        .group_by(col(Delivery.status))
    )
    counts = {status: int(n) for status, n in (await session.exec(statement)).all()}
    tallied = (
        select(DeliveryTally.status, func.sum(DeliveryTally.count))
        .where(col(DeliveryTally.kind) == PUSH)
        .group_by(col(DeliveryTally.status))
    )
    for status, n in (await session.exec(tallied)).all():
        counts[status] = counts.get(status, 0) + int(n or 0)
    return counts


async def backlog_size(session: AsyncSession, now: datetime, priority: int) -> int:
    """Deliveries due now (or in flight) at ``priority`` or more urgent; held ones not counted."""
    statement = select(func.count()).where(
        col(Delivery.status).in_(["pending", "sending"]),
        col(Delivery.priority) <= priority,
        or_(col(Delivery.not_before).is_(None), col(Delivery.not_before) <= now),
    )
    return int((await session.exec(statement)).one())


async def queue_stats(session: AsyncSession, now: datetime) -> tuple[int, datetime | None]:
    """Messages due now (or in flight), and when the oldest of them was queued.

    Messages held on purpose (quiet hours, a retry later) are not a backlog and not counted.
    """
    statement = select(func.count(), func.min(Delivery.created_at)).where(
        col(Delivery.status).in_(["pending", "sending"]),
        or_(col(Delivery.not_before).is_(None), col(Delivery.not_before) <= now),
    )
    count, oldest = (await session.exec(statement)).one()
    if isinstance(oldest, str):  # SQLite returns the aggregate untyped
        oldest = UTCDateTime().process_result_value(oldest, session.get_bind().dialect)
    return int(count), oldest


FINISHED = ("sent", "failed", "skipped")
# Deliveries compacted per transaction: short enough that pushes get the write lock between.
COMPACT_BATCH = 5000


async def compact_deliveries(
    session: AsyncSession, finished_before: datetime, limit: int = COMPACT_BATCH
) -> int:
    """Delete up to ``limit`` finished push and correction deliveries (finished before
    ``finished_before``), adding them to the day's tallies; returns how many.

    What replies and corrections need of a sent push is its ``push_record`` row, written
    when it was sent. Channel posts keep their rows (a few per story): their discussion
    threads are mapped through them.
    """
    table = Delivery.__table__  # type: ignore[attr-defined]
    c = table.c
    finished = (
        c.status.in_(FINISHED),
        c.kind.in_([PUSH, EDIT]),
        c.updated_at < bindparam("before", type_=UTCDateTime()),
    )
    chosen = sa_select(c.id).where(*finished).limit(limit)
    connection = await session.connection()
    # The conditions again on the rows deleted: on PostgreSQL a correction queued again
    # meanwhile (pending once more) is re-checked here, where the LIMIT's choice is not.
    removed = (
        await connection.execute(
            delete(table)
            .where(c.id.in_(chosen), *finished)
            .returning(c.kind, c.status, c.created_at),
            {"before": finished_before},
        )
    ).all()
    tallies: dict[tuple[str, str, str], int] = {}
    for kind, status, created_at in removed:
        key = (created_at.date().isoformat(), kind, status)
        tallies[key] = tallies.get(key, 0) + 1
    if tallies:
        statement = insert_for(session)(DeliveryTally)
        statement = statement.on_conflict_do_update(
            index_elements=["day", "kind", "status"],
            set_={"count": DeliveryTally.__table__.c.count + statement.excluded.count},  # type: ignore[attr-defined]
        )
        await connection.execute(
            statement,
            [{"day": d, "kind": k, "status": s, "count": n} for (d, k, s), n in tallies.items()],
        )
    return len(removed)


async def prune_deliveries(
    session: AsyncSession, before: datetime, limit: int = COMPACT_BATCH
) -> int:
    """Forget up to ``limit`` records of messages sent before ``before`` (the comment window:
    replies to them are closed): channel posts' delivery rows and pushes' narrow records."""
    table = Delivery.__table__  # type: ignore[attr-defined]
    c = table.c
    chosen = sa_select(c.id).where(c.created_at < before, c.status != "pending").limit(limit)
    result = await session.exec(delete(table).where(c.id.in_(chosen)))
    removed = int(result.rowcount or 0)
    pushed = PushRecord.__table__  # type: ignore[attr-defined]
    key = (pushed.c.story_id, pushed.c.chat_id, pushed.c.thread_id)
    old = sa_select(*key).where(pushed.c.sent_at < before).limit(limit)
    result = await session.exec(delete(pushed).where(tuple_(*key).in_(old)))
    return removed + int(result.rowcount or 0)
