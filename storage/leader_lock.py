"""The lock whose holder is the leader: a PostgreSQL advisory lock, or a file lock beside an
SQLite database.

On PostgreSQL the lock is session-level and held on a dedicated connection, so PostgreSQL
releases it the moment the holder's connection ends (a crash, a SIGKILL, a lost network). On
SQLite, which serves one host, an exclusive ``flock`` on a file beside the database does the
same between processes. ``try_acquire`` never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# Any constant works, as long as every instance uses the same one (and it differs from the
# migration lock in storage.migrate).
LEADER_LOCK_KEY = 0x6E62_6C64


class LeaderLock:
    """One way of holding the leadership; ``try_acquire`` never blocks."""

    async def try_acquire(self) -> bool:
        """Take the lock if it is free; False when another instance holds it."""
        raise NotImplementedError

    async def still_held(self) -> bool:
        """Whether this instance still holds the lock."""
        raise NotImplementedError

    async def release(self) -> None:
        """Let the lock go (for the next instance)."""
        raise NotImplementedError


class AdvisoryLeaderLock(LeaderLock):
    """``pg_try_advisory_lock`` on a connection of its own.

    One asyncpg connection runs one operation at a time; the election loop and a stop can
    overlap (``still_held`` under way while ``release`` begins), so every use of the
    connection goes through one asyncio lock.
    """

    def __init__(self, engine: AsyncEngine, key: int) -> None:
        self._engine = engine
        self._key = key
        self._connection: AsyncConnection | None = None
        self._using = asyncio.Lock()

    async def try_acquire(self) -> bool:
        async with self._using:
            try:
                if self._connection is None:
                    self._connection = await self._engine.connect()
                got = (
                    await self._connection.execute(
                        text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
                    )
                ).scalar_one()
                # Autobegun transactions would hold a snapshot for hours; the lock is
                # session-level.
                await self._connection.commit()
                return bool(got)
            except Exception as exc:  # a database restart must not kill the standby loop
                log.warning("leader election: database not reachable (%s)", type(exc).__name__)
                await self._drop()
                return False

    async def still_held(self) -> bool:
        async with self._using:
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
        async with self._using:
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


class FileLeaderLock(LeaderLock):
    """An exclusive ``flock`` on a file (beside an SQLite database)."""

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


def leader_lock_for(
    engine: AsyncEngine, *, scratch_dir: Path, key: int = LEADER_LOCK_KEY
) -> LeaderLock:
    """The advisory lock on PostgreSQL; a file lock beside an SQLite database (in
    ``scratch_dir`` for an in-memory one, which only this process can see anyway)."""
    url = make_url(str(engine.url))
    if url.get_backend_name() == "postgresql":
        return AdvisoryLeaderLock(engine, key)
    database = url.database or ""
    if not database or database == ":memory:":
        path = scratch_dir / f"newsbot-{os.getpid()}.leader"
    else:
        path = Path(f"{database}.leader")
    return FileLeaderLock(path)
