"""The inbox of the outlet's events: written before the listener answers, processed later.

``add_event`` is the listener's one write: an event whose ``webhook_id`` is already here is
the same event again and changes nothing. Processing claims due rows under a lease
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so any instance may process and each row is
processed by one; a processor that dies mid-row leaves a lease that runs out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.dialect import insert_for
from storage.leasing import LeasedQueue, lease_due
from storage.models import InboxEvent

PENDING, SENDING, DONE, DROPPED = "pending", "sending", "done", "dropped"
_QUEUE = LeasedQueue(
    col(InboxEvent.status), col(InboxEvent.next_attempt_at), col(InboxEvent.lease_until)
)


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A claimed event: its type, data and how long it has waited."""

    id: int
    webhook_id: str
    type: str
    data: dict[str, Any]
    attempts: int
    received_at: datetime


async def add_event(
    session: AsyncSession, webhook_id: str, kind: str, data: dict[str, Any], now: datetime
) -> bool:
    """Keep an event; False when one with this ``webhook_id`` is already kept (a repeat)."""
    statement = (
        insert_for(session)(InboxEvent)
        .values(
            webhook_id=webhook_id,
            type=kind,
            data=json.dumps(data, ensure_ascii=False, separators=(",", ":")),
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            received_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["webhook_id"])
    )
    result = await session.exec(statement)
    return bool(result.rowcount)


async def claim_events(
    session: AsyncSession, now: datetime, *, limit: int, lease: timedelta
) -> list[InboxItem]:
    """Take due events (and those whose processor died mid-lease), oldest first, and lease them."""
    rows = await lease_due(session, InboxEvent, _QUEUE, now, limit=limit, lease=lease)
    return [
        InboxItem(
            id=e.id or 0,
            webhook_id=e.webhook_id,
            type=e.type,
            data=json.loads(e.data),
            attempts=e.attempts,
            received_at=e.received_at,
        )
        for e in rows
    ]


async def finish_event(
    session: AsyncSession, event_id: int, now: datetime, *, dropped: str | None = None
) -> None:
    """The event is processed (or, with ``dropped``, given up for that reason)."""
    await session.exec(
        update(InboxEvent)
        .where(col(InboxEvent.id) == event_id)
        .values(
            status=DROPPED if dropped else DONE,
            lease_until=None,
            last_error=dropped[:500] if dropped else None,
            updated_at=now,
        )
    )


async def retry_event(
    session: AsyncSession, event_id: int, now: datetime, *, at: datetime, why: str
) -> None:
    """Try the event again at ``at`` (its story is not known yet, or processing failed)."""
    await session.exec(
        update(InboxEvent)
        .where(col(InboxEvent.id) == event_id)
        .values(
            status=PENDING,
            lease_until=None,
            next_attempt_at=at,
            attempts=InboxEvent.attempts + 1,
            last_error=why[:500],
            updated_at=now,
        )
    )


async def next_due(session: AsyncSession) -> datetime | None:
    """When the earliest waiting event is due (a running-out lease counts)."""
    pending = select(func.min(InboxEvent.next_attempt_at)).where(col(InboxEvent.status) == PENDING)
    leased = select(func.min(InboxEvent.lease_until)).where(col(InboxEvent.status) == SENDING)
    times = [(await session.exec(pending)).one(), (await session.exec(leased)).one()]
    return min((t for t in times if t is not None), default=None)


async def inbox_counts(session: AsyncSession) -> dict[str, int]:
    """Inbox rows by status (for /stats and tests)."""
    rows = (
        await session.exec(
            select(InboxEvent.status, func.count()).group_by(col(InboxEvent.status))
        )
    ).all()
    return {status: int(n) for status, n in rows}


async def prune_inbox_batch(session: AsyncSession, before: datetime, limit: int = 500) -> int:
    """Delete up to ``limit`` finished events processed before ``before``.

    Kept that long, a finished event's id still makes a late repeat of it a no-op.
    """
    ids = (
        await session.exec(
            select(InboxEvent.id)
            .where(
                col(InboxEvent.status).in_((DONE, DROPPED)), col(InboxEvent.updated_at) < before
            )
            .limit(limit)
        )
    ).all()
    if ids:
        await session.exec(delete(InboxEvent).where(col(InboxEvent.id).in_(list(ids))))
    return len(ids)
