"""Regressions found reviewing the push pipeline: stalls, lost outcomes, stale stories, topics.

Each test drives ``jobs.fanout.Broadcaster`` on a migrated SQLite database with a recording
stand-in for the lean Bot API client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.push_render import PushRenderer
from jobs.bot_api import SendKind, SendResult
from jobs.fanout import Broadcaster, FanoutSettings
from storage import chats as chat_store
from storage import deliveries as queue
from storage import feeds as feed_store
from storage import stories as story_store
from storage.engine import SessionFactory, create_engine, create_session_factory, writing
from storage.migrate import upgrade_database
from storage.models import Chat, Delivery, Story
from storage.records import StoryDraft


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


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[SessionFactory]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'review.db'}")
    await upgrade_database(engine)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


def now() -> datetime:
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
    return Broadcaster(
        sessions,
        client,  # type: ignore[arg-type]
        PushRenderer("UTC"),
        FanoutSettings(default_timezone="UTC", **settings),
    )


async def wait_until(check: Callable[[], Awaitable[bool] | bool], timeout: float) -> bool:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return True
        await asyncio.sleep(0.02)
    return False


async def statuses(sessions: SessionFactory) -> list[tuple[int, int, str]]:
    async with sessions() as session:
        rows = (await session.exec(select(Delivery))).all()
    return [(d.story_id, d.chat_id, d.status) for d in rows]


# --- 1. Held deliveries (quiet hours) stall every broadcast, breaking news included ----------


async def test_quiet_hour_holds_do_not_stall_breaking_news(sessions: SessionFactory) -> None:
    # Five readers are in their quiet hours (the time zone is UTC for all of them).
    hour = now().hour
    quiet = (f"{(hour - 1) % 24:02d}:00", f"{(hour + 2) % 24:02d}:00")
    for chat_id in range(1, 6):
        await add_reader(sessions, chat_id, quiet=quiet)
    awake = 99
    await add_reader(sessions, awake)
    ordinary = await add_story(sessions, "Ordinary council meeting")
    async with writing(sessions) as session:
        await queue.queue_broadcasts(session, [(ordinary, False)], queue.PUSH, now())

    client = RecordingClient()
    fanout = broadcaster(sessions, client, max_ahead=5)
    await fanout.start()
    try:
        # The ordinary story went to the awake reader; the five sleepers' copies are held.
        assert await wait_until(lambda: len(client.to(awake)) == 1, 5)
        breaking = await add_story(sessions, "Earthquake hits Erbil", breaking=True)
        async with writing(sessions) as session:
            await queue.queue_broadcasts(session, [(breaking, True)], queue.PUSH, now())
        fanout.wake()
        # Breaking news skips quiet hours and jumps the queue: everyone gets it at once.
        assert await wait_until(lambda: len(client.calls) >= 1 + 6, 4), client.calls
    finally:
        await fanout.stop()


# --- 2. The per-chat limit is checked, not reserved -------------------------------------------


async def test_two_units_for_one_private_chat_keep_one_second_apart(
    sessions: SessionFactory,
) -> None:
    reader = 7
    await add_reader(sessions, reader)
    ordinary = await add_story(sessions, "Budget passes")
    breaking = await add_story(sessions, "Airport closed", breaking=True)
    async with writing(sessions) as session:
        await queue.queue_broadcasts(
            session, [(ordinary, False), (breaking, True)], queue.PUSH, now()
        )
    client = RecordingClient()
    fanout = broadcaster(sessions, client)
    # Both deliveries are waiting when the claimer runs (as after a restart, or when the
    # sender is busy): enumerate the two broadcasts by hand, then start sending.
    assert await fanout._enumerate_once()
    assert await fanout._enumerate_once()
    await fanout.start()
    try:
        assert await wait_until(lambda: len(client.to(reader)) == 2, 5)
    finally:
        await fanout.stop()
    (first, *_), (second, *_) = client.to(reader)
    assert second - first >= 1.0, f"two messages to one private chat {second - first:.3f} s apart"


# --- 3. A graceful stop during a flush forgets what was sent ---------------------------------


async def test_stop_during_a_flush_does_not_resend_after_restart(
    sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = 8
    await add_reader(sessions, reader)
    story = await add_story(sessions, "Dam levels rise")
    async with writing(sessions) as session:
        await queue.queue_broadcasts(session, [(story, False)], queue.PUSH, now())

    real = queue.record_outcomes
    started = asyncio.Event()

    async def slow_record(*args: Any, **kwargs: Any) -> None:
        # A busy database: the write takes a moment (busy_timeout, a checkpoint, PG latency).
        started.set()
        await asyncio.sleep(0.3)
        await real(*args, **kwargs)

    monkeypatch.setattr(queue, "record_outcomes", slow_record)
    client = RecordingClient()
    fanout = broadcaster(sessions, client)
    await fanout.start()
    assert await wait_until(lambda: len(client.to(reader)) == 1, 5)
    await asyncio.wait_for(started.wait(), 2)
    await fanout.stop()  # SIGTERM: a clean shutdown
    monkeypatch.setattr(queue, "record_outcomes", real)

    restarted = broadcaster(sessions, client)
    await restarted.start()
    await asyncio.sleep(0.5)
    await restarted.stop()
    assert len(client.to(reader)) == 1, "a clean restart pushed the story twice"


# --- 4. Stale "pending" stories are pushed at start ------------------------------------------


async def test_start_does_not_push_stories_older_than_push_max_age(
    sessions: SessionFactory,
) -> None:
    reader = 9
    await add_reader(sessions, reader)
    # Stored three weeks ago by a version without pushes (or by `newsbot poll`).
    await add_story(sessions, "Old news from November", seen=now() - timedelta(days=21))
    client = RecordingClient()
    fanout = broadcaster(sessions, client)
    await fanout.start()
    try:
        await asyncio.sleep(1.0)
    finally:
        await fanout.stop()
    assert client.to(reader) == [], "a three-week-old story was pushed as news"


# --- 5. A story whose hand-off failed waits for the next restart ------------------------------


async def test_a_story_whose_handoff_failed_is_pushed_without_a_restart(
    sessions: SessionFactory,
) -> None:
    reader = 10
    await add_reader(sessions, reader)
    client = RecordingClient()
    fanout = broadcaster(sessions, client)
    await fanout.start()
    try:
        # Ingestion committed the story; its hand-off (queue_broadcasts) then failed.
        await add_story(sessions, "Handoff failed")
        assert await wait_until(lambda: len(client.to(reader)) == 1, 5)
    finally:
        await fanout.stop()


# --- 6. A deleted forum topic silences the whole group ---------------------------------------


async def test_a_deleted_topic_does_not_stop_the_rest_of_the_group(
    sessions: SessionFactory,
) -> None:
    group = -1001
    await add_reader(sessions, group, chat_type="supergroup", thread_id=0)
    await add_reader(sessions, group, chat_type="supergroup", thread_id=55)

    def answer(data: dict[str, Any]) -> SendResult:
        if data.get("message_thread_id") == 55:
            return SendResult(SendKind.THREAD_GONE, "Bad Request: message thread not found", 400)
        return SendResult(SendKind.SENT, status=200, message_id=1)

    client = RecordingClient(answer)
    fanout = broadcaster(sessions, client)
    await fanout.start()
    try:
        first = await add_story(sessions, "First story")
        async with writing(sessions) as session:
            await queue.queue_broadcasts(session, [(first, False)], queue.PUSH, now())
        fanout.wake()
        assert await wait_until(lambda: len(client.to(group)) == 2, 5)
        await asyncio.sleep(0.2)
        second = await add_story(sessions, "Second story")
        async with writing(sessions) as session:
            await queue.queue_broadcasts(session, [(second, False)], queue.PUSH, now())
        fanout.wake()
        general = lambda: [  # noqa: E731
            c
            for c in client.to(group)
            if "message_thread_id" not in c[2] and "Second story" in c[2]["text"]
        ]
        assert await wait_until(lambda: len(general()) == 1, 3), "General topic got nothing"
    finally:
        await fanout.stop()


# --- 7. my_chat_member "kicked" does not stop what is already queued --------------------------


async def test_queued_pushes_are_not_sent_after_the_reader_blocked_the_bot(
    sessions: SessionFactory,
) -> None:
    reader = 11
    await add_reader(sessions, reader)
    story = await add_story(sessions, "Queued before the block")
    async with writing(sessions) as session:
        await queue.queue_broadcasts(session, [(story, False)], queue.PUSH, now())
    # Enumerate without sending: run the enumerator once by hand.
    client = RecordingClient()
    fanout = broadcaster(sessions, client)
    assert await fanout._enumerate_once()
    # What bot/handlers/membership.py does on my_chat_member → kicked.
    async with writing(sessions) as session:
        await chat_store.set_active(session, reader, False, now())
    await fanout.start()
    try:
        await asyncio.sleep(0.5)
    finally:
        await fanout.stop()
    assert client.to(reader) == [], "sent to a chat already known to have blocked the bot"


# --- helpers used only to keep imports honest -------------------------------------------------


async def _story(sessions: SessionFactory, story_id: int) -> Story | None:  # pragma: no cover
    async with sessions() as session:
        return await session.get(Story, story_id)


async def _chat(sessions: SessionFactory, chat_id: int) -> Chat | None:  # pragma: no cover
    async with sessions() as session:
        return await session.get(Chat, chat_id)
