"""The async engine and session factory, with SQLite tuned for a busy single writer."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
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
    # 16 MB of page cache per connection (SQLite's is per connection, and counts in the
    # process's memory): with the pool's eight, a million-reader broadcast stays well under
    # 300 MB; the operating system's file cache holds the rest.
    "PRAGMA cache_size=-16000",
)
# Connections to one SQLite file: one writes at a time anyway, and each costs its cache.
_SQLITE_POOL = {"pool_size": 5, "max_overflow": 3}


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Build the async engine for ``url`` (sqlite+aiosqlite or postgresql+asyncpg)."""
    parsed = make_url(url)
    # Statement parameters (comment texts, the pseudonym key) stay out of error messages and
    # logs; the statement itself is enough to debug.
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(
            url, echo=echo, pool_pre_ping=True, pool_size=10, hide_parameters=True
        )
    pool = _SQLITE_POOL if parsed.database not in (None, "", ":memory:") else {}
    engine = create_async_engine(
        url, echo=echo, connect_args={"timeout": 30}, hide_parameters=True, **pool
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


# One queue of writers per SQLite database and event loop (see `writing`).
_WRITE_GATES: weakref.WeakKeyDictionary[Engine, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _write_gate(sessions: SessionFactory) -> AbstractAsyncContextManager[Any]:
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        return nullcontext()
    loop = asyncio.get_running_loop()
    gate = _WRITE_GATES.get(bind.sync_engine)
    if gate is None or gate[0] is not loop:
        gate = _WRITE_GATES[bind.sync_engine] = (loop, asyncio.Lock())
    return gate[1]


@asynccontextmanager
async def writing(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One write transaction: committed on exit, rolled back on error.

    Every unit of work that writes goes through here, so that on SQLite it takes the write
    lock before its first read (PostgreSQL ignores the flag). On SQLite, writers of this
    process also queue here first, in order: SQLite lets one writer in at a time anyway, and
    its busy handler, which retries after sleeps of up to 100 ms, can lose every race for
    the lock to a writer that commits batch after batch (a big feed's ingestion), while a
    reader's /subscribe times out behind it; a burst of readers' commands would otherwise
    each hold a pooled connection until busy_timeout ends in "database is locked".
    """
    async with _write_gate(sessions), sessions() as session, session.begin():
        await session.connection(execution_options={_WRITE_OPTION: True})
        yield session
