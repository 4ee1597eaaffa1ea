"""Claiming: due deliveries, most urgent first, taken from storage under this instance's
name, grouped into messages and handed to the send workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from jobs.push.pipeline import Signals, Unit, group_units
from jobs.push.recording import Recorder
from jobs.push.settings import FanoutStats
from storage import deliveries as queue
from storage.engine import SessionFactory, writing

log = logging.getLogger(__name__)


class Claimer:
    """Keeps the workers' queue filled with due deliveries; ``run()`` is its loop."""

    def __init__(
        self,
        sessions: SessionFactory,
        units: asyncio.Queue[Unit],
        recorder: Recorder,
        signals: Signals,
        stats: FanoutStats,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._units = units
        self._recorder = recorder
        self._signals = signals
        self._stats = stats
        self._clock = clock

    async def run(self) -> None:
        """Claim until stopped, waiting for due deliveries (or a second) when there are none."""
        while not self._signals.stopping.is_set():
            # Cleared before the step, not after it: deliveries committed after the step
            # looked wake us during the step, and the wait below must not lose that wake.
            self._signals.due.clear()
            try:
                claimed = await self.claim_once()
            except Exception:
                log.exception("fan-out claiming failed; retrying in 1 s")
                claimed = 0
                await asyncio.sleep(1)
            if not claimed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._signals.due.wait(), timeout=1)

    async def claim_once(self) -> int:
        """Fill the queue's free room (twice over: grouping shrinks it); the number claimed,
        or 1 after waiting for a worker to make room."""
        room = self._units.maxsize - self._units.qsize()
        if room <= 0:
            self._signals.taken.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._signals.taken.wait(), timeout=1)
            return 1
        async with writing(self._sessions) as session:
            jobs = await queue.claim_deliveries(session, self._clock(), limit=room * 2)
        self._recorder.claimed(jobs)
        for unit in group_units(jobs):
            if len(unit.jobs) > 1:
                self._stats.grouped += 1
            await self._units.put(unit)
        self._signals.drained.set()
        return len(jobs)
