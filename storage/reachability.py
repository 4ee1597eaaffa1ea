"""Whether a database URL can be used, said in one plain sentence instead of a traceback.

Connection failures surface from three layers (the socket, the driver, SQLAlchemy's wrapper),
each with its own exception; an operator only needs to know which of a handful of things is
wrong: nothing listens there, the host is unknown, the database or the role does not exist,
the password is refused, or an SQLite file cannot be created where the URL points.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.migrate import current_revision, head_revision, known_revisions

CONNECT_TIMEOUT = 10.0


class DatabaseUnavailableError(Exception):
    """The database cannot be used; ``str()`` is one sentence saying why (no password)."""


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where the database's schema stands against the migrations this version ships."""

    current: str | None
    head: str
    state: str  # "current", "behind", "empty" or "unknown" (made by a newer newsbot)


def where(url: URL) -> str:
    """The database as an operator names it, without the password."""
    if url.get_backend_name() == "sqlite":
        return f"the SQLite file {url.database or ':memory:'}"
    host = url.host or "localhost"
    port = f":{url.port}" if url.port else ""
    return f"PostgreSQL database {url.database!r} at {host}{port}"


def _sqlite_problem(url: URL) -> str | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return "that is a folder, not a file"
    if not folder.exists():
        return f"the folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    return None


def sqlite_file_missing(url: URL) -> bool:
    """An SQLite URL whose file does not exist yet, in a folder that does (connecting would
    create it)."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database.startswith((":", "file:")):
        return False
    path = Path(database)
    return not path.exists() and (path.parent if str(path.parent) else Path(".")).is_dir()


def _driver_error(exc: BaseException) -> BaseException:
    """The innermost cause: asyncpg's or sqlite3's own exception, or the socket's."""
    seen = exc
    if isinstance(seen, DBAPIError) and seen.orig is not None:
        seen = seen.orig
    while seen.__cause__ is not None and seen.__cause__ is not seen:
        seen = seen.__cause__
    return seen


def explain(exc: BaseException, url: URL) -> str | None:
    """What ``exc`` says about the database at ``url``, or None when it is not about reaching
    or opening it (a bug, a failed query) and must be raised as it is."""
    cause = _driver_error(exc)
    name = type(cause).__name__
    message = str(cause).strip().splitlines()[0] if str(cause).strip() else name
    host = f"{url.host or 'localhost'}{f':{url.port}' if url.port else ''}"
    if url.get_backend_name() == "sqlite":
        problem = _sqlite_problem(url)
        if problem:
            return f"cannot open {where(url)}: {problem}"
        if "unable to open" in message or "readonly" in message or isinstance(cause, OSError):
            return f"cannot open {where(url)}: {message}"
        return None
    if isinstance(cause, socket.gaierror):
        return f"the host {url.host!r} is not known (cannot reach {where(url)})"
    if isinstance(cause, ConnectionRefusedError):
        return f"nothing accepts connections at {host} (is PostgreSQL running there?)"
    if isinstance(cause, TimeoutError | asyncio.TimeoutError):
        return f"no answer from {host} within {CONNECT_TIMEOUT:g} s"
    if isinstance(cause, OSError):
        return f"cannot reach {host}: {cause.strerror or message}"
    if name == "InvalidCatalogNameError":
        return f"{where(url)} does not exist (create it first, e.g. createdb {url.database})"
    if name in {"InvalidAuthorizationSpecificationError", "InvalidPasswordError"}:
        return f"PostgreSQL at {host} refused the login: {message}"
    if name in {"CannotConnectNowError", "TooManyConnectionsError", "ConnectionDoesNotExistError"}:
        return f"PostgreSQL at {host} did not accept the connection: {message}"
    return None


async def ensure_reachable(engine: AsyncEngine) -> None:
    """Open one connection and run ``SELECT 1``; raise :class:`DatabaseUnavailableError`
    with one sentence when that fails for a reason an operator can fix."""
    url = engine.url
    problem = _sqlite_problem(url) if url.get_backend_name() == "sqlite" else None
    if problem:
        raise DatabaseUnavailableError(f"cannot open {where(url)}: {problem}")
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (OSError, SQLAlchemyError, TimeoutError) as exc:
        reason = explain(exc, url)
        if reason is None:
            raise
        raise DatabaseUnavailableError(reason) from exc


async def schema_status(engine: AsyncEngine) -> SchemaStatus:
    """The database's revision against this version's newest one."""
    current, head = await current_revision(engine), head_revision()
    if current is None:
        state = "empty"
    elif current == head:
        state = "current"
    elif current in known_revisions():
        state = "behind"
    else:
        state = "unknown"
    return SchemaStatus(current=current, head=head, state=state)
