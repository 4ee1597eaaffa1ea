"""Recording the outlet's answer: one short transaction writes what it means for the row and
its comment, then (with no transaction open) the reader and the admins are told."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobs import metrics
from jobs.relay.claiming import Claimed
from jobs.relay.pause import PAUSE_KEY, PauseControl, RelayPause, current_pause
from jobs.relay.settings import RelaySettings, RelayStats
from jobs.relay.telling import STILL_TRYING_AFTER, Teller
from news.admin_alerts import RELAY_SITE_ACCEPTS
from news.outlet_answers import REASON_UNREACHABLE, Outcome, pause_alert, reason_code
from news.retry_timing import backoff
from storage import outbox
from storage.bot_state import ensure_state
from storage.comments import CommentView, get_comment
from storage.engine import AsyncSession, SessionFactory, writing
from storage.outbox import EventJob

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Written:
    """What the transaction changed, for the telling after it."""

    changed: CommentView | None = None  # reached a final state: the reader is told
    trying: CommentView | None = None  # still on its way after a few tries: told once
    expired: bool = False  # its retries ran out (``changed`` says how it ended)
    paused_now: bool = False  # this instance made the pause: the admins are told


class Recorder:
    """Records outcomes; tells through the ``Teller``; a probe that got through resumes."""

    def __init__(
        self,
        sessions: SessionFactory,
        settings: RelaySettings,
        stats: RelayStats,
        teller: Teller,
        pause: PauseControl,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._stats = stats
        self._teller = teller
        self._pause = pause
        self._clock = clock

    async def record(self, claimed: Claimed, outcome: Outcome) -> None:
        """Write the outcome, count and log it, tell whoever should know."""
        now = self._clock()
        async with writing(self._sessions) as session:
            written = await self._write(session, claimed, outcome, now)
        self._count(outcome, expired=written.expired)
        job = claimed.job
        log.info(
            "comment relay: webhook %s (%s, row %d) → %s%s",
            job.webhook_id,
            job.type,
            job.id,
            "expired" if written.expired else outcome.kind,
            f" ({outcome.reason})" if outcome.kind != "rejected" and outcome.reason else "",
        )
        await self._tell(outcome, written)
        if claimed.probe and outcome.endpoint_works:
            await self._pause.resume("the news site accepted a comment again", RELAY_SITE_ACCEPTS)

    # --- inside the transaction ---

    async def _write(
        self, session: AsyncSession, claimed: Claimed, outcome: Outcome, now: datetime
    ) -> _Written:
        job = claimed.job
        if outcome.kind == "delivered":
            delivered = await outbox.event_delivered(
                session,
                job.id,
                now=now,
                outlet_id=outcome.outlet_id,
                outlet_status=outcome.outlet_status,
                published=outcome.published,
            )
            return _Written(changed=delivered)
        if outcome.kind == "rejected":
            rejected = await outbox.event_rejected(session, job.id, now=now, reason=outcome.reason)
            return _Written(changed=rejected)
        if outcome.kind == "pause":
            return _Written(paused_now=await self._write_pause(session, job, outcome, now))
        return await self._write_retry(session, claimed, outcome, now)

    async def _write_pause(
        self, session: AsyncSession, job: EventJob, outcome: Outcome, now: datetime
    ) -> bool:
        """Pause relaying for every instance; True when this instance made the pause."""
        # bot_state before outlet_event (the lock order of every such transaction).
        pause = RelayPause(
            reason=outcome.reason,
            since=now,
            fingerprint=self._settings.fingerprint,
            probe_at=now + timedelta(seconds=self._settings.probe_every),
        )
        stored = await ensure_state(session, PAUSE_KEY, pause.dump(), now)
        # Not the comment's fault: the try does not count, and the row waits (due at once,
        # but nothing is claimed while paused except the hourly probe).
        await outbox.event_retry(
            session,
            job.id,
            now=now,
            next_attempt_at=now,
            error=outcome.reason,
            count_attempt=False,
        )
        return stored == pause.dump()

    async def _write_retry(
        self, session: AsyncSession, claimed: Claimed, outcome: Outcome, now: datetime
    ) -> _Written:
        """Another try later, or — past the deadline — the comment failed."""
        job = claimed.job
        paused = claimed.pause or await current_pause(session, now)
        # Time spent paused is not the comment's: it does not bring the deadline on.
        lost = now - max(paused.since, job.created_at) if paused else timedelta(0)
        if now >= job.deadline + max(lost, timedelta(0)):
            expired = await outbox.event_expired(
                session, job.id, now=now, error=_expired_reason(job)
            )
            return _Written(changed=expired, expired=expired is not None)
        next_at = self._next_attempt(job, outcome, now, lost)
        attempts = await outbox.event_retry(
            session, job.id, now=now, next_attempt_at=next_at, error=outcome.reason
        )
        if attempts == STILL_TRYING_AFTER and job.comment is not None:
            # Read afresh: the reader's confirmation may have been sent since.
            return _Written(trying=await get_comment(session, job.comment.id))
        return _Written()

    def _next_attempt(
        self, job: EventJob, outcome: Outcome, now: datetime, lost: timedelta
    ) -> datetime:
        # ±20 % jitter; a Retry-After from the outlet is a floor, never shortened.
        delay = backoff(
            job.attempts + 1,
            first=self._settings.first_retry,
            cap=self._settings.max_backoff,
            spread=(0.8, 1.2),
            draw=random.random(),
        )
        delay = max(delay, outcome.retry_after or 0.0)
        next_at = now + timedelta(seconds=delay)
        # Never past the deadline: one last try then, and the reader hears.
        return min(next_at, max(now, job.deadline + lost))

    # --- after it ---

    def _count(self, outcome: Outcome, *, expired: bool) -> None:
        stats = self._stats
        if outcome.kind == "delivered":
            stats.delivered += 1
        elif outcome.kind == "rejected":
            stats.rejected += 1
        elif expired:
            stats.expired += 1
        else:
            stats.retried += 1
        if outcome.kind in ("retry", "pause"):
            stats.last_error = outcome.reason
        metrics.count_comment_webhook(outcome.kind, expired=expired)

    async def _tell(self, outcome: Outcome, written: _Written) -> None:
        if written.changed is not None:
            await self._teller.notify(written.changed)
        elif written.trying is not None:
            await self._teller.notify(written.trying, still_trying=True)
        if written.paused_now:
            self._stats.paused = True
            log.warning("comment relay paused: the outlet answered %s", outcome.reason)
            await self._teller.alert(pause_alert(outcome.status))


def _expired_reason(job: EventJob) -> str:
    tried = (job.deadline - job.created_at).total_seconds()
    return reason_code(REASON_UNREACHABLE, minutes=max(1, round(tried / 60)))
