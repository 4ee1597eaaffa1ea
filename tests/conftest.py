"""Shared fixtures: the network guard, databases on both engines, local servers (feeds, the
fake Bot API, the webhook endpoint, the outlet's comment receiver), and what the lean Bot API
client and the comment relay need."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot

from bot.config import comments_secret_key
from bot.webhook_server import WebhookServer
from jobs.clients.telegram import BotApiClient
from jobs.comment_relay import CommentRelay, RelaySettings
from storage.engine import SessionFactory, create_engine, create_session_factory
from storage.migrate import upgrade_database
from tests.auxil import cli_feeds, network_guard, readme, webhook
from tests.auxil.comment_relay import KEY, SECRET, RecordingNotifier, RelayFactory
from tests.auxil.databases import (
    create_postgres_database,
    drop_postgres_database,
    postgres_required,
    postgres_unavailable_reason,
)
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import ONE_STORY_RSS
from tests.auxil.outlet import CommentOutlet
from tests.auxil.ptb import make_bot
from tests.fake_bot_api import FakeBotApi, FakeUser


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


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two engines on one database, on each engine: two instances never share a pool."""
    first, second = create_engine(database_url), create_engine(database_url)
    try:
        yield first, second
    finally:
        await first.dispose()
        await second.dispose()


@pytest.fixture
async def postgres_engines(postgres_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two engines on one new PostgreSQL database."""
    first, second = create_engine(postgres_url), create_engine(postgres_url)
    try:
        yield first, second
    finally:
        await first.dispose()
        await second.dispose()


# --- HTTP servers and clients ----------------------------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def inside() -> AsyncIterator[FeedServer]:
    """A feed server on an internal address (127.0.0.2), counting every request that reaches
    it (tests/test_fetch_addresses.py)."""
    server = await FeedServer(host="127.0.0.2").start()
    server.serve("/secret", ONE_STORY_RSS)
    server.serve("/rss", ONE_STORY_RSS)
    yield server
    await server.stop()


@pytest.fixture
def cli_outlet(feed_server: FeedServer) -> FeedServer:
    """The local outlet the CLI tests poll: /world.rss and /all.rss (tests/auxil/cli_feeds.py)."""
    feed_server.serve("/world.rss", cli_feeds.rss("World", cli_feeds.WORLD))
    feed_server.serve("/all.rss", cli_feeds.rss("Everything", cli_feeds.ALL))
    return feed_server


@pytest.fixture
async def webhook_server() -> AsyncIterator[tuple[WebhookServer, asyncio.Queue[object]]]:
    """The bot's webhook endpoint on a free port, and the queue it hands updates to."""
    queue: asyncio.Queue[object] = asyncio.Queue()
    bot = Bot("123456:TEST-token")  # never initialised: nothing here talks to Telegram
    hook = WebhookServer(
        bot,
        queue,
        listen="127.0.0.1",
        port=0,
        path=webhook.PATH,
        secret=webhook.SECRET,
        linger=0.1,
    )
    await hook.start()
    try:
        yield hook, queue
    finally:
        await hook.stop()


@pytest.fixture
async def odd_server() -> AsyncIterator[tuple[str, list[web.Response]]]:
    """A server answering with whatever responses the test queues (a misbehaving proxy)."""
    answers: list[web.Response] = []

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return answers.pop(0)

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", answers
    finally:
        await runner.cleanup()


# --- the fake Bot API ------------------------------------------------------------------------


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    """The fake Bot API server."""
    async with FakeBotApi() as api:
        yield api
    assert api.internal_errors == [], "the fake Bot API itself failed"


@pytest.fixture
def api(fake_api: FakeBotApi) -> FakeBotApi:
    """The fake Bot API, under the short name the tests of the fake and of the lean client use."""
    return fake_api


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    """PTB's Bot talking to the fake Bot API."""
    async with make_bot(api) as ptb_bot:
        yield ptb_bot


@pytest.fixture
def user(api: FakeBotApi) -> FakeUser:
    """A user of the fake Bot API who started the bot."""
    return api.add_user("Ali", username="ali")


@pytest.fixture
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB_TIMEDELTA=true, for tests that read RetryAfter.retry_after."""
    # PTB 22 warns when RetryAfter.retry_after is an int; opting in to timedelta keeps the
    # warning (an error under filterwarnings=error) away.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def client(api: FakeBotApi, http: aiohttp.ClientSession) -> BotApiClient:
    """The lean Bot API client (jobs.clients.telegram) pointed at the fake Bot API."""
    return BotApiClient(http, api.url, api.token, timeout=5)


# --- the outlet's comment receiver, and the comment relay -----------------------------------


@pytest.fixture
async def comment_outlet() -> AsyncIterator[CommentOutlet]:
    """A local outlet receiving comment webhooks signed with tests/auxil/comment_relay.SECRET."""
    async with CommentOutlet(SECRET) as served:
        yield served


@pytest.fixture
async def make_relay(
    sessions: SessionFactory, http: aiohttp.ClientSession, comment_outlet: CommentOutlet
) -> AsyncIterator[RelayFactory]:
    """Relays with fast retries pointed at the outlet; all stopped at the end."""
    made: list[CommentRelay] = []

    def make(notifier: RecordingNotifier, **knobs: Any) -> CommentRelay:
        values: dict[str, Any] = {
            "url": comment_outlet.url,
            "secret": comments_secret_key(SECRET),
            "timeout": 2.0,
            "lease": timedelta(seconds=10),
            "first_retry": 0.05,
            "max_backoff": 0.3,
            "idle_wait": 0.5,
            "stop_grace": 0.5,
        }
        values.update(knobs)
        relay = CommentRelay(sessions, http, RelaySettings(**values), KEY, notifier)
        made.append(relay)
        return relay

    yield make
    for relay in made:
        await relay.stop()


@pytest.fixture
async def readme_receiver(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """The README's example receiver, run as printed: its URL, and the namespace it ran in."""
    monkeypatch.setenv("COMMENTS_SECRET", readme.SECRET)
    namespace: dict[str, Any] = {"__name__": "readme_receiver"}
    exec(compile(readme.receiver_source(), "README.md", "exec"), namespace)
    runner = web.AppRunner(namespace["app"])
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/comments", namespace
    finally:
        await runner.cleanup()


# --- logging ---------------------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """``bot.cli.main`` configures the root logger for a process; put it back after the test.

    Not autouse: the modules that call ``main`` in-process ask for it (``usefixtures``).
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {n: logging.getLogger(n).level for n in ("httpx", "alembic", "apscheduler")}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    for name, old in named.items():
        logging.getLogger(name).setLevel(old)
