"""Building the shared pieces once: database engine, session factory, feed HTTP session, poller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from jobs.fetching import create_feed_session
from jobs.ingestion import FeedPoller, PollSettings, StoryHandoff
from storage import feeds as feed_store
from storage.clock import utcnow
from storage.engine import SessionFactory, create_engine, create_session_factory, writing
from storage.feeds import FeedView
from storage.migrate import upgrade_database


def newsbot_version() -> str:
    """The installed package version."""
    try:
        return version("newsbot")
    except PackageNotFoundError:  # running from a source tree without install
        return "0.0.0"


def user_agent() -> str:
    """What feeds see in their logs: who is polling them and where to find out more."""
    return f"newsbot/{newsbot_version()} (Telegram news bot; +https://github.com/newsbot/newsbot)"


@dataclass(slots=True)
class Services:
    """The long-lived objects every command shares; built once, closed once."""

    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    feed_http: aiohttp.ClientSession
    poller: FeedPoller
    feeds: list[FeedView]


def poll_settings(settings: Settings) -> PollSettings:
    """The ingestion knobs taken from the settings."""
    return PollSettings(
        interval=settings.poll_interval,
        max_backoff=settings.poll_max_backoff,
        push_max_age=settings.push_max_age,
        fetch_timeout=settings.fetch_timeout,
        max_bytes=settings.fetch_max_bytes,
    )


@asynccontextmanager
async def open_services(
    settings: Settings, *, handoff: StoryHandoff | None = None
) -> AsyncIterator[Services]:
    """Upgrade the database, register the configured feeds, and yield the shared objects."""
    engine = create_engine(settings.database_url)
    feed_http = create_feed_session(user_agent(), concurrency=settings.fetch_concurrency)
    try:
        await upgrade_database(engine)
        sessions = create_session_factory(engine)
        async with writing(sessions) as session:
            feeds = await feed_store.register_feeds(
                session, [(f.url, f.section) for f in settings.feeds], utcnow()
            )
        poller = FeedPoller(
            sessions,
            feed_http,
            poll_settings(settings),
            handoff=handoff,
            concurrency=settings.fetch_concurrency,
        )
        yield Services(settings, engine, sessions, feed_http, poller, feeds)
    finally:
        await feed_http.close()
        await engine.dispose()
