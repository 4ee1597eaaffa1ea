"""The async engine and session factory, with SQLite tuned for a busy single writer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

SessionFactory = async_sessionmaker[AsyncSession]
_WRITE_OPTION = "newsbot_write"

_SQLITE_PRAGMAS = (
    # WAL lets readers (a /latest) proceed while a writer (ingestion) commits.
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-32000",
)


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Build the async engine for ``url`` (sqlite+aiosqlite or postgresql+asyncpg)."""
    parsed = make_url(url)
    # Statement parameters (comment texts, the pseudonym key) stay out of error messages and
    # logs; the statement itself is enough to debug.
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(
            url, echo=echo, pool_pre_ping=True, pool_size=10, hide_parameters=True
        )
    engine = create_async_engine(
        url, echo=echo, connect_args={"timeout": 30}, hide_parameters=True
    )
    _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that BEGIN below is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write unit (see `writing`) takes the write lock up front, so its read-then-write
        # waits on busy_timeout instead of failing with "database is locked" mid-way. Reads
        # stay deferred and read the WAL snapshot without waiting for any writer.
        if connection.get_execution_options().get(_WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions whose objects stay readable after commit (no lazy reloads in handlers)."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def writing(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One write transaction: committed on exit, rolled back on error.

    Every unit of work that writes goes through here, so that on SQLite it takes the write
    lock before its first read (PostgreSQL ignores the flag).
    """
    lock = _write_lock(sessions) or contextlib.nullcontext()
    # SQLite has one writer at a time. Writers of this process queue here, in order and
    # without a deadline, instead of each holding a pooled connection while SQLite's
    # busy_timeout runs out ("database is locked") under a burst of readers' commands.
    async with lock, sessions() as session, session.begin():
        await session.connection(execution_options={_WRITE_OPTION: True})
        yield session


_write_locks: WeakKeyDictionary[AsyncEngine, asyncio.Lock] = WeakKeyDictionary()


def _write_lock(sessions: SessionFactory) -> asyncio.Lock | None:
    """This process's queue of SQLite writers for the engine behind ``sessions`` (None on
    PostgreSQL, whose rows lock one by one)."""
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine) or engine.dialect.name != "sqlite":
        return None
    lock = _write_locks.get(engine)
    if lock is None:
        lock = _write_locks[engine] = asyncio.Lock()
    return lock
