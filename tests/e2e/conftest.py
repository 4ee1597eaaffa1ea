"""End-to-end fixtures: the real Application against the fake Bot API (``fake_api``, from
tests/conftest.py) and a local outlet, and a stream that catches its log lines."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from bot.app import running
from bot.config import Settings, load_settings
from bot.services import open_services
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import HOSTILE_TITLE, SORANI_TITLE, Item, rss, rudaw_items
from tests.fake_bot_api import FakeBotApi


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """A stream for log lines; the root logger and every named logger's level are put back."""
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in named.items():
        logging.getLogger(name).setLevel(old)


@pytest.fixture
def outlet_items() -> list[Item]:
    """What the outlet's feed holds when the bot starts: 12 stories, two of them tricky."""
    items = rudaw_items(10)
    items.insert(
        0,
        Item(
            HOSTILE_TITLE,
            "https://www.rudaw.net/english/story/hostile",
            guid="hostile",
            description="A <b>tricky</b> & odd one",
            categories=["Kurdistan"],
        ),
    )
    items.insert(
        1,
        Item(
            SORANI_TITLE,
            "https://www.rudaw.net/sorani/story/1",
            guid="ckb-1",
            description="ئەمڕۆ لە هەولێر",
            categories=["Kurdistan"],
        ),
    )
    return items


@pytest.fixture
async def outlet(feed_server: FeedServer, outlet_items: list[Item]) -> FeedServer:
    """The local outlet serving its RSS feed at /english/rss."""
    feed_server.serve("/english/rss", rss(outlet_items))
    return feed_server


@pytest.fixture
def bot_settings(
    fake_api: FakeBotApi, outlet: FeedServer, database_url: str
) -> Callable[..., Settings]:
    """Settings pointing at the fakes (on SQLite and on PostgreSQL); keywords override."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "telegram_bot_token": fake_api.token,
            "telegram_api_url": fake_api.url,
            "feeds": outlet.url("/english/rss"),
            "database_url": database_url,
            "poll_interval": 3600,
            "default_timezone": "Asia/Baghdad",
            # These tests converse faster than any reader: Telegram's per-chat pace (1/s)
            # would only slow them down. tests/e2e/test_flood.py runs with the real one.
            "private_chat_rate": "1000/s",
            "group_chat_rate": "1000/s",
            # The outlet's feed is a bare URL: its categories are sections only as mapped.
            "sections": "kurdistan=Kurdistan,world=World",
        }
        values.update(overrides)
        return load_settings(**values)

    return make


async def seed(settings: Settings) -> None:
    """One ingestion pass, so stories exist before the bot starts."""
    async with open_services(settings) as services:
        for feed in services.feeds:
            await services.poller.poll(feed.id)


@pytest.fixture
async def start_bot(
    bot_settings: Callable[..., Settings],
) -> AsyncIterator[Callable[..., AbstractAsyncContextManager[Any]]]:
    """``async with start_bot(**overrides) as app:`` runs the real Application."""

    def start(**overrides: Any) -> AbstractAsyncContextManager[Any]:
        return _started(bot_settings(**overrides))

    return start


@asynccontextmanager
async def _started(settings: Settings) -> AsyncIterator[Any]:
    await seed(settings)
    async with running(settings) as application:
        yield application


@pytest.fixture
async def app(start_bot: Callable[..., AbstractAsyncContextManager[Any]]) -> AsyncIterator[Any]:
    """The bot running in long-polling mode with the outlet's stories stored."""
    async with start_bot() as application:
        yield application
