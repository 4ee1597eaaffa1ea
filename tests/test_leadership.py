"""Leader election: one leader at a time, and a standby takes over when the leader goes."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from jobs.leadership import Leadership
from storage.leader_lock import LEADER_LOCK_KEY, leader_lock_for


class Instance:
    """One competitor, recording what it was told to do."""

    def __init__(self, engine: AsyncEngine, name: str) -> None:
        self.events: list[str] = []
        self.leadership = Leadership(
            leader_lock_for(engine, scratch_dir=Path(tempfile.gettempdir())),
            retry_interval=0.05,
            name=name,
        )

    async def start(self) -> None:
        await self.leadership.start(on_elected=self._elected, on_lost=self._lost)

    async def _elected(self) -> None:
        self.events.append("elected")

    async def _lost(self) -> None:
        self.events.append("lost")


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        for _ in itertools.count():  # polling: the leader notices on its own schedule
            if condition():
                return
            await asyncio.sleep(0.02)


async def test_one_leader_then_handover_on_stop(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    a, b = Instance(engines[0], "a"), Instance(engines[1], "b")
    await a.start()
    await asyncio.wait_for(a.leadership.elected.wait(), 5)
    await b.start()
    await asyncio.sleep(0.3)  # several election rounds
    assert a.leadership.is_leader and not b.leadership.is_leader
    assert b.events == []

    await a.leadership.stop()
    assert a.events == ["elected", "lost"]
    await asyncio.wait_for(b.leadership.elected.wait(), 5)
    assert b.leadership.is_leader and b.events == ["elected"]
    await b.leadership.stop()


@pytest.mark.postgres
async def test_a_leader_whose_session_dies_steps_down_and_the_standby_takes_over(
    postgres_engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    a, b = Instance(postgres_engines[0], "a"), Instance(postgres_engines[1], "b")
    await a.start()
    await asyncio.wait_for(a.leadership.elected.wait(), 5)
    await b.start()

    # What a crash, a SIGKILL or a cut network looks like to PostgreSQL: the session ends.
    async with postgres_engines[1].connect() as admin:
        await admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND objid = :key AND granted"
            ),
            {"key": LEADER_LOCK_KEY},
        )
        await admin.commit()

    await _until(lambda: "lost" in a.events)
    await asyncio.wait_for(b.leadership.elected.wait(), 5)
    assert b.leadership.is_leader
    # The old leader competes again, but the new one holds the lock now.
    await asyncio.sleep(0.3)
    assert not a.leadership.is_leader
    await a.leadership.stop()
    await b.leadership.stop()
