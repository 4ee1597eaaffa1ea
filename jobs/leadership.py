"""Leader election: exactly one instance at a time polls feeds and sends pushes.

Instances sharing a PostgreSQL database compete for a session-level advisory lock held on a
dedicated connection: the lock is the leadership, and PostgreSQL releases it the moment the
leader's connection ends (a crash, a SIGKILL, a lost network), so a standby that retries every
``retry_interval`` takes over within about that long. On SQLite, which serves one host,
an exclusive ``flock`` on a file beside the database does the same between processes.

The leader checks its hold every ``retry_interval`` too; when the connection is gone it steps
down at once (``on_lost``) so that two instances never believe they lead for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# Any constant works, as long as every instance uses the same one (and it differs from the
# migration lock in storage.migrate).
LEADER_LOCK_KEY = 0x6E62_6C64
Callback = Callable[[], Awaitable[None]]


class _Lock:
    """One way of holding the leadership; ``try_acquire`` never blocks."""

    async def try_acquire(self) -> bool:
        raise NotImplementedError

    async def still_held(self) -> bool:
        raise NotImplementedError

    async def release(self) -> None:
        raise NotImplementedError


class _AdvisoryLock(_Lock):
    def __init__(self, engine: AsyncEngine, key: int) -> None:
        self._engine = engine
        self._key = key
        self._connection: AsyncConnection | None = None

    async def try_acquire(self) -> bool:
        try:
            if self._connection is None:
                self._connection = await self._engine.connect()
            got = (
                await self._connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
                )
            ).scalar_one()
            # Autobegun transactions would hold a snapshot for hours; the lock is session-level.
            await self._connection.commit()
            return bool(got)
        except Exception as exc:  # a database restart must not kill the standby loop
            log.warning("leader election: database not reachable (%s)", type(exc).__name__)
            await self._drop()
            return False

    async def still_held(self) -> bool:
        if self._connection is None:
            return False
        try:
            await self._connection.execute(text("SELECT 1"))
            await self._connection.commit()
            return True
        except Exception as exc:  # the session (and so the lock) is gone
            log.warning("leader election: lost the database session (%s)", type(exc).__name__)
            await self._drop()
            return False

    async def release(self) -> None:
        if self._connection is None:
            return
        with contextlib.suppress(Exception):
            await self._connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": self._key}
            )
            await self._connection.commit()
        await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()


class _FileLock(_Lock):
    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[bytes] | None = None

    async def try_acquire(self) -> bool:
        handle = self._path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    async def still_held(self) -> bool:
        return self._file is not None

    async def release(self) -> None:
        handle, self._file = self._file, None
        if handle is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()


def lock_for(engine: AsyncEngine, key: int = LEADER_LOCK_KEY) -> _Lock:
    """The advisory lock on PostgreSQL; a file lock beside an SQLite database."""
    url = make_url(str(engine.url))
    if url.get_backend_name() == "postgresql":
        return _AdvisoryLock(engine, key)
    database = url.database or ""
    if not database or database == ":memory:":
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"newsbot-{os.getpid()}.leader"
    else:
        path = Path(f"{database}.leader")
    return _FileLock(path)


class Leadership:
    """Runs ``on_elected`` when this instance becomes the leader and ``on_lost`` when it stops.

    ``start()`` returns at once; the election runs in the background until ``stop()``, which
    steps down (running ``on_lost``) and releases the lock for the next instance.
    """

    def __init__(
        self,
        lock: _Lock,
        *,
        on_elected: Callback,
        on_lost: Callback,
        retry_interval: float = 1.0,
        name: str = "",
    ) -> None:
        self._lock = lock
        self._on_elected = on_elected
        self._on_lost = on_lost
        self._retry = retry_interval
        self._name = name or f"pid {os.getpid()}"
        self._task: asyncio.Task[None] | None = None
        self._leading = False
        self.elected = asyncio.Event()

    @property
    def is_leader(self) -> bool:
        """True while this instance holds the leadership."""
        return self._leading

    async def start(self) -> None:
        """Begin competing for the leadership."""
        if self._task is None:
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
            await self._on_lost()
        except Exception:
            log.exception("leader election: stopping the leader's work failed")
