"""The push pipeline's surroundings in tests: readers and stories stored the way the bot stores
them, a recording stand-in for the lean Bot API client, and a Broadcaster wired to both."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlmodel import select

from bot.push_render import PushRenderer
from jobs.clients.telegram import SendKind, SendResult
from jobs.fanout import Broadcaster, FanoutSettings
from news.story_draft import StoryDraft
from storage import chats as chat_store
from storage import feeds as feed_store
from storage import stories as story_store
from storage.engine import SessionFactory, writing
from storage.models import Delivery


class RecordingClient:
    """Answers every call like Telegram would; remembers what was sent and when."""

    def __init__(self, answer: Callable[[dict[str, Any]], SendResult] | None = None) -> None:
        self.calls: list[tuple[float, str, dict[str, Any]]] = []
        self._answer = answer
        self._next_id = 100

    async def send(self, method: str, body: bytes) -> SendResult:
        data = json.loads(body)
        self.calls.append((asyncio.get_running_loop().time(), method, data))
        await asyncio.sleep(0)
        if self._answer is not None:
            return self._answer(data)
        self._next_id += 1
        return SendResult(SendKind.SENT, status=200, message_id=self._next_id)

    def to(self, chat_id: int) -> list[tuple[float, str, dict[str, Any]]]:
        return [c for c in self.calls if c[2]["chat_id"] == chat_id]


def now() -> datetime:
    """The real clock, in UTC."""
    return datetime.now(UTC)


async def add_reader(
    sessions: SessionFactory,
    chat_id: int,
    sections: list[str] | None = None,
    *,
    thread_id: int = 0,
    chat_type: str = "private",
    quiet: tuple[str, str] | None = None,
) -> None:
    """A reader (a private chat, or a group's topic) subscribed to ``sections`` (all news)."""
    async with writing(sessions) as session:
        await chat_store.touch_chat(
            session, chat_id, type=chat_type, title=None, language="en", now=now()
        )
        await chat_store.subscribe(session, chat_id, sections or ["*"], now(), thread_id)
        if quiet:
            await chat_store.set_quiet_hours(session, chat_id, quiet[0], quiet[1], now())


async def add_story(
    sessions: SessionFactory, title: str, *, breaking: bool = False, seen: datetime | None = None
) -> int:
    """Store one new story the way ingestion does (push_state 'pending'); returns its id."""
    at = seen or now()
    identity = f"guid:{title}"
    async with writing(sessions) as session:
        (feed,) = await feed_store.register_feeds(
            session, [("https://www.rudaw.net/english/rss", "kurdistan", "en")], at
        )
        policy = story_store.IngestPolicy(
            now=at,
            news=frozenset({identity}),
            breaking=frozenset({identity}) if breaking else frozenset(),
        )
        draft = StoryDraft(
            identity=identity,
            title=title,
            link=f"https://www.rudaw.net/english/{title.replace(' ', '-')}",
            published_at=at,
        )
        outcome = await story_store.store_feed_items(
            session, feed.id, [(draft, ["kurdistan"])], policy
        )
    (story,) = outcome.new
    return story.id


def broadcaster(sessions: SessionFactory, client: RecordingClient, **settings: Any) -> Broadcaster:
    """A Broadcaster on ``sessions`` sending through ``client``, in UTC; keywords: settings."""
    return Broadcaster(
        sessions,
        client,  # type: ignore[arg-type]
        PushRenderer("UTC"),
        FanoutSettings(default_timezone="UTC", **settings),
    )


async def statuses(sessions: SessionFactory) -> list[tuple[int, int, str]]:
    """(story, chat, status) of every delivery."""
    async with sessions() as session:
        rows = (await session.exec(select(Delivery))).all()
    return [(d.story_id, d.chat_id, d.status) for d in rows]
