"""Leader election: exactly one instance at a time polls feeds and sends pushes.

Instances compete for a lock (``storage.leader_lock``: a PostgreSQL advisory lock held on a
dedicated connection, or a file lock beside an SQLite database): the lock is the leadership,
and it is released the moment the leader's connection or process ends, so a standby that
retries every ``retry_interval`` takes over within about that long.

The leader checks its hold every ``retry_interval`` too; when the connection is gone it steps
down at once (``on_lost``) so that two instances never believe they lead for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable

from storage.leader_lock import LeaderLock

log = logging.getLogger(__name__)

Callback = Callable[[], Awaitable[None]]


class Leadership:
    """Runs ``on_elected`` when this instance becomes the leader and ``on_lost`` when it stops.

    ``start(on_elected=…, on_lost=…)`` returns at once; the election runs in the background
    until ``stop()``, which steps down (running ``on_lost``) and releases the lock for the
    next instance. ``jobs.registry.BackgroundRunner`` is what starts it.
    """

    def __init__(
        self,
        lock: LeaderLock,
        *,
        retry_interval: float = 1.0,
        name: str = "",
    ) -> None:
        self._lock = lock
        self._retry = retry_interval
        self._name = name or f"pid {os.getpid()}"
        self._task: asyncio.Task[None] | None = None
        self._leading = False
        self._on_elected: Callback | None = None
        self._on_lost: Callback | None = None
        self.elected = asyncio.Event()

    @property
    def is_leader(self) -> bool:
        """True while this instance holds the leadership."""
        return self._leading

    async def start(self, *, on_elected: Callback, on_lost: Callback) -> None:
        """Begin competing for the leadership: ``on_elected`` starts the leader's work,
        ``on_lost`` stops it."""
        if self._task is None:
            self._on_elected, self._on_lost = on_elected, on_lost
            self._task = asyncio.create_task(self._run(), name="leader-election")

    async def stop(self) -> None:
        """Step down and stop competing."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._step_down()
        await self._lock.release()

    async def _run(self) -> None:
        while True:
            if not self._leading:
                if await self._lock.try_acquire():
                    self._leading = True
                    log.info("leader election: %s is now the leader", self._name)
                    try:
                        assert self._on_elected is not None  # given to start()
                        await self._on_elected()
                    except Exception:
                        log.exception("leader election: starting the leader's work failed")
                        await self._step_down()
                        await self._lock.release()
                    else:
                        self.elected.set()
            elif not await self._lock.still_held():
                await self._step_down()
            await asyncio.sleep(self._retry)

    async def _step_down(self) -> None:
        if not self._leading:
            return
        self._leading = False
        self.elected.clear()
        log.info("leader election: %s stepped down", self._name)
        try:
            if self._on_lost is not None:
                await self._on_lost()
        except Exception:
            log.exception("leader election: stopping the leader's work failed")
