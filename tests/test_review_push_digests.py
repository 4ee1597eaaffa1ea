"""Regressions found reviewing digests: many readers, and leaving digest mode."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.push_render import PushRenderer
from jobs.digests import DigestSender, DigestSettings
from jobs.rate_limit import SlidingWindowLimiter
from storage import chats as chat_store
from storage import deliveries as queue
from storage import digests as digest_store
from storage.dialect import insert_for
from storage.engine import SessionFactory, create_engine, create_session_factory, writing
from storage.migrate import upgrade_database
from storage.models import Chat, Subscription
from tests.auxil.databases import (
    create_postgres_database,
    drop_postgres_database,
    postgres_unavailable_reason,
)
from tests.test_fanout import (
    RecordingClient,
    add_reader,
    add_story,
    broadcaster,
    wait_until,
)


@pytest.fixture
async def pg_sessions() -> AsyncIterator[SessionFactory]:
    reason = await postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    url = await create_postgres_database()
    engine = create_engine(url)
    try:
        await upgrade_database(engine)
        yield create_session_factory(engine)
    finally:
        await engine.dispose()
        await drop_postgres_database(url)


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[SessionFactory]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'review.db'}")
    await upgrade_database(engine)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_digest_readers_scales_past_the_bound_parameter_limit(
    pg_sessions: SessionFactory,
) -> None:
    sessions = pg_sessions
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
    sessions: SessionFactory,
) -> None:
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


_ = SlidingWindowLimiter  # imported for readers of this file: the limiter the digest shares
