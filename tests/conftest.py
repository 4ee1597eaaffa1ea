"""Shared fixtures: the network guard, databases on both engines, the local feed server."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from storage.engine import SessionFactory, create_engine, create_session_factory
from storage.migrate import upgrade_database
from tests.auxil import network_guard
from tests.auxil.databases import (
    create_postgres_database,
    drop_postgres_database,
    postgres_required,
    postgres_unavailable_reason,
)
from tests.auxil.feed_server import FeedServer

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    network_guard.install(monkeypatch)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    # Settings read the environment and .env: tests start from nothing but what they set.
    for name in list(os.environ):
        if (
            name.split("_")[0]
            in {
                "TELEGRAM",
                "FEED",
                "FEEDS",
                "DATABASE",
                "POLL",
                "PUSH",
                "FETCH",
                "LOG",
                "DEFAULT",
                "ADMIN",
                "WEBHOOK",
                "COMMENTS",
                "COMMENT",
                "PSEUDONYM",
                "MODERATION",
                "SEND",
                "PAID",
                "BREAKING",
                "DIGEST",
                "RETENTION",
                "METRICS",
                "PRIVATE",
                "GROUP",
                "SECTIONS",
                "SECTION",
            }
            or name == "FEEDS"
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    # PTB 22 warns when code reads RetryAfter.retry_after as seconds; with warnings as errors
    # that warning would replace the RetryAfter itself. Opt in to the timedelta form.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    return


async def _postgres_url(template: str | None = None) -> str:
    reason = await postgres_unavailable_reason()
    if reason:
        if postgres_required():
            pytest.fail(f"{reason}; NEWSBOT_REQUIRE_POSTGRES is set")
        pytest.skip(f"{reason}; set TEST_DATABASE_URL to run the PostgreSQL tests")
    return await create_postgres_database(template=template)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database on each engine (for migration tests): a file, or a new database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'newsbot.db'}"
        return
    url = await _postgres_url()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


@pytest.fixture(scope="session")
def _migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Migrated databases built once per run and copied for each test.

    Migrating takes longer than copying (0.2-0.4 s a test on this machine), and nearly every
    test wants the newest schema; what the migrations themselves do is tested on empty
    databases (``empty_database_url``).
    """
    made: dict[str, str] = {}
    yield made
    if "postgres" in made:
        asyncio.run(drop_postgres_database(made["postgres"]))


async def _migrated(url: str) -> str:
    engine = create_engine(url)
    try:
        await upgrade_database(engine)
    finally:
        await engine.dispose()  # a template must have no open connections
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    _migrated_templates: dict[str, str],
) -> AsyncIterator[str]:
    """A database at the newest schema on each engine: a SQLite file, or a new database."""
    if request.param == "sqlite":
        template = _migrated_templates.get("sqlite")
        if template is None:
            folder = tmp_path.parent / "newsbot-template"
            folder.mkdir(exist_ok=True)
            template = _migrated_templates["sqlite"] = await _migrated(
                f"sqlite+aiosqlite:///{folder / 'newsbot.db'}"
            )
        path = tmp_path / "newsbot.db"
        shutil.copyfile(make_url(template).database or "", path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = _migrated_templates.get("postgres")
    if template is None:
        template = _migrated_templates["postgres"] = await _migrated(await _postgres_url())
    url = await _postgres_url(template=make_url(template).database)
    try:
        yield url
    finally:
        await drop_postgres_database(url)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (for tests that need PostgreSQL itself), dropped after."""
    url = await _postgres_url()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file for tests that need only one engine."""
    return f"sqlite+aiosqlite:///{tmp_path / 'newsbot.db'}"


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """A migrated database on each engine, as a session factory."""
    engine = create_engine(database_url)
    await upgrade_database(engine)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def sqlite_sessions(sqlite_url: str) -> AsyncIterator[SessionFactory]:
    """A migrated SQLite database only, as a session factory (for tests that time the push
    pipeline, where one engine is enough)."""
    engine = create_engine(sqlite_url)
    await upgrade_database(engine)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def postgres_sessions(postgres_url: str) -> AsyncIterator[SessionFactory]:
    """A migrated PostgreSQL database only, as a session factory."""
    engine = create_engine(postgres_url)
    try:
        await upgrade_database(engine)
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    """A local outlet serving feeds on 127.0.0.1."""
    server = await FeedServer().start()
    try:
        yield server
    finally:
        await server.stop()


def shared_feeds_dir() -> Path:
    """``../shared/feeds`` beside the repository (NEWSBOT_SHARED_FEEDS overrides)."""
    override = os.environ.get("NEWSBOT_SHARED_FEEDS")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "feeds"
