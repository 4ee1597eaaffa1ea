"""The outbox's sending side: claiming webhooks to the outlet and recording what it answered.

Rows are written by ``storage.comments`` together with the comments they carry; here they
are leased (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any instance may relay), and each
answer moves both the row and its comment on in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.comments import (
    FAILED,
    PUBLISHED,
    REJECTED,
    RELAYED,
    CommentView,
    ReplyTarget,
    comment_view,
    reply_target,
)
from storage.leasing import LeasedQueue, lease_due
from storage.models import Comment, Commenter, OutletEvent

_QUEUE = LeasedQueue(
    col(OutletEvent.status), col(OutletEvent.next_attempt_at), col(OutletEvent.lease_until)
)


@dataclass(frozen=True, slots=True)
class EventJob:
    """A claimed outbox row with everything needed to build its webhook."""

    id: int
    webhook_id: str
    type: str
    attempts: int
    deadline: datetime
    created_at: datetime
    comment: CommentView | None  # for comment.created (read at send time: edits go out)
    payload: dict[str, Any] | None  # for comment.deleted
    # A reply to another comment: the outlet's id of its parent (a site comment the reader
    # answered, or a relayed comment the outlet answered with an id), and the parent's
    # comment.created webhook-id when the bot relayed it. Read at send time, so an id the
    # outlet gave the parent meanwhile goes out.
    in_reply_to: str | None = None
    in_reply_to_webhook_id: str | None = None


async def claim_events(
    session: AsyncSession, now: datetime, *, limit: int, lease: timedelta
) -> list[EventJob]:
    """Take due outbox rows (and rows whose sender died mid-lease) and lease them."""
    # Any instance may relay; each row goes to exactly one of them.
    rows = await lease_due(session, OutletEvent, _QUEUE, now, limit=limit, lease=lease)
    if not rows:
        return []
    comment_ids = [e.comment_id for e in rows if e.comment_id is not None]
    comments: dict[int, CommentView] = {}
    if comment_ids:
        found = (
            await session.exec(
                select(Comment, Commenter.display_name, Commenter.telegram_name)
                .join(Commenter, col(Commenter.user_id) == col(Comment.user_id), isouter=True)
                .where(col(Comment.id).in_(comment_ids))
            )
        ).all()
        # The name is read now, so a /name chosen before relay is the one the outlet shows.
        comments = {
            c.id or 0: comment_view(c, chosen or shown or None) for c, chosen, shown in found
        }
    parents: dict[int, ReplyTarget | None] = {}
    for comment in comments.values():
        if comment.parent_id is not None and comment.parent_id not in parents:
            parents[comment.parent_id] = await reply_target(session, comment.parent_id)
    jobs = []
    for e in rows:
        # A site reply names its parent's outlet id itself; a reply in a channel's thread has
        # a parent comment, known to the outlet by its id once given, and its webhook-id.
        parent = _parent_of(comments.get(e.comment_id or 0), parents)
        jobs.append(
            EventJob(
                id=e.id or 0,
                webhook_id=e.webhook_id,
                type=e.type,
                attempts=e.attempts,
                deadline=e.deadline,
                created_at=e.created_at,
                comment=comments.get(e.comment_id) if e.comment_id is not None else None,
                payload=json.loads(e.payload) if e.payload else None,
                in_reply_to=e.in_reply_to or (parent.outlet_id if parent else None),
                in_reply_to_webhook_id=parent.webhook_id if parent else None,
            )
        )
    return jobs


def _parent_of(
    comment: CommentView | None, parents: dict[int, ReplyTarget | None]
) -> ReplyTarget | None:
    if comment is None or comment.parent_id is None:
        return None
    return parents.get(comment.parent_id)


async def _finish(
    session: AsyncSession,
    event_id: int,
    event_status: str,
    now: datetime,
    *,
    error: str | None = None,
    **comment_fields: Any,
) -> CommentView | None:
    """End a webhook with ``event_status`` and set its comment's fields (if it has one)."""
    event = await session.get(OutletEvent, event_id)
    if event is None:
        return None
    event.status, event.lease_until, event.updated_at = event_status, None, now
    event.last_error = error[:500] if error else None
    comment = await session.get(Comment, event.comment_id) if event.comment_id else None
    if comment is not None:
        for key, value in comment_fields.items():
            setattr(comment, key, value)
        comment.updated_at = now
    await session.flush()
    return comment_view(comment) if comment is not None else None


async def event_delivered(
    session: AsyncSession,
    event_id: int,
    *,
    now: datetime,
    outlet_id: str | None,
    outlet_status: str | None,
    published: bool,
) -> CommentView | None:
    """The outlet took the webhook (2xx); the comment, if any, is relayed or published."""
    return await _finish(
        session,
        event_id,
        "done",
        now,
        status=PUBLISHED if published else RELAYED,
        outlet_id=outlet_id,
        outlet_status=outlet_status,
        relayed_at=now,
    )


async def event_rejected(
    session: AsyncSession, event_id: int, *, now: datetime, reason: str
) -> CommentView | None:
    """The outlet refused the webhook for good (4xx); never retried."""
    return await _finish(
        session, event_id, "rejected", now, error=reason, status=REJECTED, reason=reason
    )


async def event_retry(
    session: AsyncSession,
    event_id: int,
    *,
    now: datetime,
    next_attempt_at: datetime,
    error: str,
    count_attempt: bool = True,
) -> int:
    """Put a webhook back for a later try; returns how many attempts it has had.

    ``count_attempt=False`` is for pauses that are not the comment's fault (a wrong
    endpoint or secret, a shutdown): they must not use up its retries.
    """
    event = await session.get(OutletEvent, event_id)
    if event is None:
        return 0
    if count_attempt:
        event.attempts += 1
    event.status = "pending"
    event.lease_until = None
    event.next_attempt_at = next_attempt_at
    event.last_error = error[:500]
    event.updated_at = now
    await session.flush()
    return event.attempts


async def event_expired(
    session: AsyncSession, event_id: int, *, now: datetime, error: str
) -> CommentView | None:
    """Retries ran out (COMMENT_RETRY_HOURS): the reader is told it could not be delivered."""
    return await _finish(
        session, event_id, "expired", now, error=error, status=FAILED, reason=error
    )


async def release_events(session: AsyncSession, event_ids: Sequence[int], now: datetime) -> None:
    """Hand leased webhooks back at shutdown, for another instance or the next start.

    Their POST was cut off, not unsent: the outlet may hold the comment already, so the
    attempt counts (an edit is then refused, and /forget asks the outlet to delete it).
    """
    if event_ids:
        await session.exec(
            update(OutletEvent)
            .where(col(OutletEvent.id).in_(list(event_ids)), col(OutletEvent.status) == "sending")
            .values(
                status="pending",
                lease_until=None,
                next_attempt_at=now,
                attempts=OutletEvent.attempts + 1,
                updated_at=now,
            )
        )


async def resume_paused(session: AsyncSession, now: datetime) -> int:
    """Make every waiting webhook due now (the outlet's configuration was fixed)."""
    result = await session.exec(
        update(OutletEvent)
        .where(col(OutletEvent.status) == "pending", col(OutletEvent.next_attempt_at) > now)
        .values(next_attempt_at=now, updated_at=now)
    )
    return int(result.rowcount or 0)


async def next_event_due(session: AsyncSession) -> datetime | None:
    """When the earliest waiting webhook is due (None when the outbox is empty).

    A lease that runs out counts too: its sender died mid-POST and the row is due again then.
    """
    pending = select(func.min(OutletEvent.next_attempt_at)).where(
        col(OutletEvent.status) == "pending"
    )
    leased = select(func.min(OutletEvent.lease_until)).where(col(OutletEvent.status) == "sending")
    times = [(await session.exec(pending)).one(), (await session.exec(leased)).one()]
    return min((t for t in times if t is not None), default=None)


async def extend_deadlines(session: AsyncSession, paused_since: datetime, now: datetime) -> int:
    """Give waiting webhooks back the time a pause took from them; returns how many moved.

    A pause (a wrong endpoint or secret) is the bot's fault, not the comment's: each row's
    deadline moves on by the part of the pause it lived through.
    """
    rows = (
        await session.exec(
            select(OutletEvent).where(
                col(OutletEvent.status).in_(("pending", "sending")),
                col(OutletEvent.created_at) < now,
            )
        )
    ).all()
    for event in rows:
        lost = now - max(paused_since, event.created_at)
        if lost > timedelta(0):
            event.deadline += lost
            event.updated_at = now
    await session.flush()
    return sum(1 for e in rows if now > max(paused_since, e.created_at))


async def outbox_counts(session: AsyncSession) -> dict[str, int]:
    """Outbox rows by status."""
    rows = (
        await session.exec(
            select(OutletEvent.status, func.count()).group_by(col(OutletEvent.status))
        )
    ).all()
    return {status: int(n) for status, n in rows}
