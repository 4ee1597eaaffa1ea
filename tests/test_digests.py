"""Digests with a controllable clock: due times, contents, and nothing sent twice; tens of
thousands of digest readers, and a reader who leaves digest mode mid-period."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.i18n import texts
from bot.push_render import PushRenderer
from jobs.clients.telegram import BotApiClient
from jobs.digests import DigestSender, DigestSettings
from news.send_rate import SlidingWindowLimiter
from news.story_draft import StoryDraft
from storage import chats as chat_store
from storage import deliveries as queue
from storage import digests as digest_store
from storage import feeds as feed_store
from storage import stories as story_store
from storage.dialect import insert_for
from storage.engine import SessionFactory, writing
from storage.models import Chat, Subscription
from storage.story_messages import stories_of_message
from tests.auxil.fanout import RecordingClient, add_reader, add_story, broadcaster
from tests.auxil.waiting import wait_until
from tests.fake_bot_api import FakeBotApi

START = datetime(2026, 11, 25, 9, 10, tzinfo=UTC)  # 12:10 in Baghdad


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


async def add_stories(sessions: SessionFactory, now: datetime, *titles: str) -> None:
    async with writing(sessions) as session:
        (feed,) = await feed_store.register_feeds(
            session, [("https://www.rudaw.net/english/rss", "kurdistan", "en")], now
        )
        drafts = [
            (
                StoryDraft(
                    identity=f"guid:{t}",
                    title=t,
                    link=f"https://www.rudaw.net/english/{t.replace(' ', '-')}",
                ),
                ["kurdistan"],
            )
            for t in titles
        ]
        policy = story_store.IngestPolicy(
            now=now, news=frozenset(draft.identity for draft, _ in drafts)
        )
        await story_store.store_feed_items(session, feed.id, drafts, policy)


async def add_digest_reader(
    sessions: SessionFactory,
    chat_id: int,
    mode: str,
    sections: list[str],
    last_sent: datetime,
    language: str = "en",
) -> None:
    """A reader in digest ``mode`` whose last digest went out at ``last_sent``."""
    async with writing(sessions) as session:
        await chat_store.touch_chat(
            session, chat_id, type="private", title=None, language=language, now=START
        )
        await chat_store.subscribe(session, chat_id, sections, START)
        chat = await session.get(Chat, chat_id)
        assert chat is not None
        chat.delivery_mode = mode
        chat.digest_sent_at = last_sent


def digest_sender(
    sessions: SessionFactory,
    http: aiohttp.ClientSession,
    api: FakeBotApi,
    clock: Clock,
    zone: str = "Asia/Baghdad",
    **settings: int,
) -> DigestSender:
    return DigestSender(
        sessions,
        BotApiClient(http, api.url, api.token),
        PushRenderer(zone),
        SlidingWindowLimiter(25),
        DigestSettings(default_timezone=zone, **settings),
        clock=clock,
    )


async def test_hourly_digest_lists_the_period_once(
    sessions: SessionFactory, fake_api: FakeBotApi
) -> None:
    clock = Clock()
    reader = fake_api.add_user("Digest reader")
    # The last one at 11:50 local.
    await add_digest_reader(
        sessions, reader.id, "hourly", ["kurdistan"], START - timedelta(minutes=20)
    )
    await add_stories(sessions, START - timedelta(minutes=5), "Budget deal", "Flood warning")

    async with aiohttp.ClientSession() as http:
        sender = digest_sender(sessions, http, fake_api, clock)
        assert await sender.send_due() == 1  # the 12:00 digest is due at 12:10
        (digest,) = fake_api.sent(reader.id)
        assert (digest.text or "").startswith("2 new stories")
        assert "Budget deal" in (digest.text or "") and "Flood warning" in (digest.text or "")
        # A reply to the digest is a comment on one of its stories: its delivery rows say which.
        async with sessions() as session:
            _, ids = await stories_of_message(session, reader.id, digest.message_id)
            titles = [s.title for s in (await story_store.get_stories(session, ids)).values()]
        assert sorted(titles) == ["Budget deal", "Flood warning"]

        clock.now += timedelta(minutes=20)  # 12:30: the next one is at 13:00
        assert await sender.send_due() == 0
        clock.now += timedelta(minutes=40)  # 13:10, but nothing new: no message
        assert await sender.send_due() == 0
        await add_stories(sessions, clock.now, "Evening news")
        clock.now += timedelta(hours=1)
        assert await sender.send_due() == 1
        messages = fake_api.sent(reader.id)
        assert len(messages) == 2
        assert "Evening news" in (messages[1].text or "")
        assert "Budget deal" not in (messages[1].text or "")


async def test_a_reader_who_blocked_the_bot_is_marked_inactive(
    sessions: SessionFactory, fake_api: FakeBotApi
) -> None:
    clock = Clock()
    reader = fake_api.add_user("Gone")
    # Today's 08:00 digest is due.
    await add_digest_reader(sessions, reader.id, "daily", ["*"], START - timedelta(days=1))
    await add_stories(sessions, START - timedelta(hours=2), "Morning story")
    fake_api.block(reader)
    async with aiohttp.ClientSession() as http:
        sender = digest_sender(sessions, http, fake_api, clock, "UTC", daily_hour=8)
        assert await sender.send_due() == 0
    async with sessions() as session:
        view = await chat_store.get_chat(session, reader.id)
    assert view is not None and not view.active


async def test_a_digest_speaks_the_readers_language(
    sessions: SessionFactory, fake_api: FakeBotApi
) -> None:
    """Two readers of the same stories, one who chose Arabic and one whose Telegram is in
    Turkish: each digest's heading and times are in the reader's own language."""
    clock = Clock()
    arabic, turkish = fake_api.add_user("Ali", language_code="en"), fake_api.add_user("Ayşe")
    for user, language in ((arabic, "en"), (turkish, "tr")):
        await add_digest_reader(
            sessions, user.id, "hourly", ["kurdistan"], START - timedelta(minutes=20), language
        )
    async with writing(sessions) as session:
        await chat_store.set_language(session, arabic.id, START, locale="ar")
    await add_stories(sessions, START - timedelta(minutes=5), "Budget deal", "Flood warning")
    async with aiohttp.ClientSession() as http:
        assert await digest_sender(sessions, http, fake_api, clock).send_due() == 2
    for user, locale in ((arabic, "ar"), (turkish, "tr")):
        t = texts(locale)
        heading = t.ngettext("{num} new story", "{num} new stories", 2).format(num=t.number(2))
        (digest,) = fake_api.sent(user.id)
        assert (digest.text or "").startswith(heading), digest.text
        assert heading != "2 new stories"


# --- many digest readers, and a reader leaving digest mode -----------------------------------


@pytest.mark.postgres
async def test_digest_readers_scales_past_the_bound_parameter_limit(
    postgres_sessions: SessionFactory,
) -> None:
    sessions = postgres_sessions
    now = datetime.now(UTC)
    count = 33_000
    chats = [
        {
            "id": 10_000 + n,
            "type": "private",
            "active": True,
            "created_at": now,
            "updated_at": now,
            "delivery_mode": "daily",
        }
        for n in range(count)
    ]
    subs = [
        {"chat_id": 10_000 + n, "thread_id": 0, "section": "*", "created_at": now}
        for n in range(count)
    ]
    async with writing(sessions) as session:
        insert = insert_for(session)
        for start in range(0, count, 2_000):
            await session.exec(insert(Chat).values(chats[start : start + 2_000]))
            await session.exec(insert(Subscription).values(subs[start : start + 2_000]))
    async with sessions() as session:
        readers = await digest_store.digest_readers(session)
    assert len(readers) == count


async def test_leaving_digest_mode_does_not_lose_the_periods_stories(
    sqlite_sessions: SessionFactory,
) -> None:
    sessions = sqlite_sessions
    reader = 21
    await add_reader(sessions, reader)
    async with writing(sessions) as session:
        await chat_store.set_delivery_mode(
            session, reader, "daily", datetime.now(UTC) - timedelta(hours=3)
        )
    story = await add_story(sessions, "Story for the daily digest")
    async with writing(sessions) as session:
        await queue.queue_broadcasts(session, [(story, False)], queue.PUSH, datetime.now(UTC))

    client = RecordingClient()
    fanout = broadcaster(sessions, client)
    await fanout.start()
    try:
        await asyncio.sleep(0.5)  # the broadcast is enumerated; the digest reader is skipped
        # Before 08:00 the reader switches back to instant pushes.
        async with writing(sessions) as session:
            await chat_store.set_delivery_mode(session, reader, "instant", datetime.now(UTC))
        digests = DigestSender(
            sessions,
            client,  # type: ignore[arg-type]
            PushRenderer("UTC"),
            fanout.limiter,
            DigestSettings(default_timezone="UTC"),
        )
        await digests.send_due()
        got = await wait_until(lambda: len(client.to(reader)) == 1, 2)
    finally:
        await fanout.stop()
    assert got, "the story gathered for the digest never reached the reader"
