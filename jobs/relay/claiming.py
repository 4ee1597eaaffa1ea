"""Claiming outbox rows: what is due, each under a lease, so several instances may relay at
once and a crash mid-POST re-sends only that POST. While paused, at most one probe an hour."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from jobs.relay.pause import PAUSE_KEY, RelayPause, current_pause
from jobs.relay.settings import RelaySettings, RelayStats
from storage import outbox
from storage.bot_state import set_state
from storage.engine import AsyncSession, SessionFactory, writing
from storage.outbox import EventJob


@dataclass(slots=True)
class Claimed:
    """One leased row, and whether it tests a paused outlet."""

    job: EventJob
    probe: bool = False
    pause: RelayPause | None = None  # the pause in force when claimed (probes only)


@dataclass(slots=True)
class Pass:
    """What one claim took, and how long the relay may sleep before the next."""

    claimed: list[Claimed] = field(default_factory=list)
    wait: float = 0.0


class Claimer:
    """Leases due outbox rows for this instance."""

    def __init__(
        self,
        sessions: SessionFactory,
        settings: RelaySettings,
        stats: RelayStats,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._stats = stats
        self._clock = clock

    async def claim(self, limit: int) -> Pass:
        """Lease what is due, at most ``limit`` rows; while paused, at most one probe an hour."""
        async with writing(self._sessions) as session:
            now = self._clock()
            pause = await current_pause(session, now, for_update=True)
            self._stats.paused = pause is not None
            if pause is not None:
                return await self._probe(session, pause, now)
            jobs = await outbox.claim_events(session, now, limit=limit, lease=self._settings.lease)
            wait = self._settings.idle_wait
            if len(jobs) < limit:
                due = await outbox.next_event_due(session)
                if due is not None:
                    wait = min(wait, max(0.0, _seconds(due - now)))
        return Pass([Claimed(job) for job in jobs], wait)

    async def _probe(self, session: AsyncSession, pause: RelayPause, now: datetime) -> Pass:
        """While paused: one row to test the outlet with, when the probe is due."""
        settings = self._settings
        if now < pause.probe_at:
            return Pass(wait=min(settings.idle_wait, _seconds(pause.probe_at - now)))
        jobs = await outbox.claim_events(session, now, limit=1, lease=settings.lease)
        if not jobs:
            return Pass(wait=settings.idle_wait)
        probe_at = now + timedelta(seconds=settings.probe_every)
        await set_state(session, PAUSE_KEY, replace(pause, probe_at=probe_at).dump(), now)
        return Pass([Claimed(jobs[0], probe=True, pause=pause)], settings.idle_wait)


def _seconds(delta: timedelta) -> float:
    return delta.total_seconds()
