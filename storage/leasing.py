"""Leases on queued rows: the outlet's outbox, the inbox of its events and the reply notices
are each claimed by whichever instance asks first, a row at a time.

A due row is ``pending`` with its time come, or ``sending`` with its lease run out (the
instance that took it died mid-row). On PostgreSQL ``FOR UPDATE SKIP LOCKED`` gives each row
to exactly one instance; SQLite has one writer, which serialises the claims anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, or_, update
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

Row = TypeVar("Row", bound=SQLModel)


@dataclass(frozen=True, slots=True)
class LeasedQueue:
    """Which columns of a table make it a leased queue."""

    status: Any  # the column holding pending / sending / …
    due_at: Any  # when a pending row is due
    lease_until: Any  # when a sending row's lease runs out (may be ``due_at`` itself)
    pending: str = "pending"
    sending: str = "sending"


async def lease_due(
    session: AsyncSession,
    model: type[Row],
    queue: LeasedQueue,
    now: datetime,
    *,
    limit: int,
    lease: timedelta,
) -> list[Row]:
    """Take up to ``limit`` due rows, earliest first, and lease them until ``now + lease``."""
    identity = model.id  # type: ignore[attr-defined]
    statement = (
        select(model)
        .where(
            or_(
                and_(queue.status == queue.pending, queue.due_at <= now),
                and_(queue.status == queue.sending, queue.lease_until <= now),
            )
        )
        .order_by(queue.due_at, identity)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    rows = list((await session.exec(statement)).all())
    if rows:
        values: dict[str, Any] = {
            queue.status.key: queue.sending,
            queue.lease_until.key: now + lease,
        }
        if "updated_at" in model.model_fields:
            values["updated_at"] = now
        await session.exec(
            update(model).where(identity.in_([r.id for r in rows])).values(**values)  # type: ignore[attr-defined]
        )
    return rows
