"""/healthz and /metrics: honest health with reasons (reads, writes, scheduler), Prometheus
text with live gauges and the counters the jobs keep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import aiohttp
from sqlalchemy.engine import make_url

from bot.ops_server import OpsServer
from jobs import metrics
from news.clock import utcnow
from news.story_draft import StoryDraft
from storage import chats as chat_store
from storage import deliveries as delivery_store
from storage import feeds as feed_store
from storage import stories as story_store
from storage.bot_state import get_state, set_state
from storage.engine import SessionFactory, create_engine, create_session_factory, writing
from storage.health import WRITE_PROBE_KEY
from storage.migrate import upgrade_database
from storage.models import PRIORITY_NEW
from tests.auxil.comment_relay import (
    RecordingNotifier,
    RelayFactory,
    add_comment,
    add_story,
)
from tests.auxil.fanout import RecordingClient, broadcaster
from tests.auxil.outlet import CommentOutlet


async def _serve(
    sessions: SessionFactory,
    *,
    scheduler_running: Callable[[], bool] = lambda: True,
    is_leader: Callable[[], bool] = lambda: True,
    backoff_seconds: Callable[[], float] = lambda: 0.0,
    write_timeout: float = 3.0,
) -> OpsServer:
    server = OpsServer(
        sessions,
        listen="127.0.0.1",
        port=0,
        scheduler_running=scheduler_running,
        is_leader=is_leader,
        backoff_seconds=backoff_seconds,
        write_timeout=write_timeout,
    )
    await server.start()
    return server


async def test_healthy_instance_says_ok(
    sessions: SessionFactory, http: aiohttp.ClientSession
) -> None:
    server = await _serve(sessions, is_leader=lambda: True)
    try:
        async with http.get(f"http://127.0.0.1:{server.port}/healthz") as response:
            assert response.status == 200
            assert await response.json() == {"status": "ok", "reasons": [], "leader": True}
    finally:
        await server.stop()


async def test_stopped_scheduler_and_missing_database_are_named(
    http: aiohttp.ClientSession,
) -> None:
    # A database server that is not there (nothing listens on port 9 here): every
    # connection is refused at once.
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:9/newsbot")
    server = await _serve(create_session_factory(engine), scheduler_running=lambda: False)
    try:
        async with http.get(f"http://127.0.0.1:{server.port}/healthz") as response:
            assert response.status == 503
            body = await response.json()
        assert body["status"] == "unhealthy"
        assert body["reasons"][0].startswith("database not answering")
        assert body["reasons"][1] == "scheduler not running"
    finally:
        await server.stop()
        await engine.dispose()


async def test_a_database_that_refuses_writes_is_unhealthy(
    sqlite_url: str, http: aiohttp.ClientSession
) -> None:
    writable = create_engine(sqlite_url)
    await upgrade_database(writable)
    await writable.dispose()
    # The same migrated file, opened read-only: every read works, every write fails (as a
    # file whose permissions changed under the bot, or a full disk).
    path = make_url(sqlite_url).database
    engine = create_engine(f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")
    server = await _serve(create_session_factory(engine))
    try:
        async with http.get(f"http://127.0.0.1:{server.port}/healthz") as response:
            assert response.status == 503
            body = await response.json()
        assert body["status"] == "unhealthy"
        assert body["reasons"] == [
            "database refuses writes (OperationalError: attempt to write a readonly database)"
        ]
    finally:
        await server.stop()
        await engine.dispose()


async def test_writes_blocked_behind_a_held_lock_are_unhealthy_until_it_goes(
    sessions: SessionFactory, http: aiohttp.ClientSession
) -> None:
    server = await _serve(sessions, write_timeout=0.3)
    url = f"http://127.0.0.1:{server.port}/healthz"
    try:
        async with writing(sessions) as session:
            # A writer that holds the lock (SQLite's one write lock; PostgreSQL's row lock on
            # what the probe writes) and does not let go.
            await set_state(session, WRITE_PROBE_KEY, "held", utcnow())
            for _ in range(2):  # the second check reports on the same waiting probe
                async with http.get(url) as response:
                    assert response.status == 503
                    body = await response.json()
                [reason] = body["reasons"]
                assert reason.startswith("database writes blocked (a write has waited")
                assert reason.endswith("s for the lock)")
        for _ in range(100):  # once the lock is free, the probe commits and health returns
            async with http.get(url) as response:
                if response.status == 200:
                    break
            await asyncio.sleep(0.05)
        assert response.status == 200
        async with sessions() as session:
            assert await get_state(session, WRITE_PROBE_KEY) not in (None, "held")
    finally:
        await server.stop()


async def test_metrics_show_the_queue_and_the_counters(
    sessions: SessionFactory, http: aiohttp.ClientSession
) -> None:
    now = utcnow()
    async with writing(sessions) as session:
        [feed] = await feed_store.register_feeds(
            session, [("https://x.example/rss", "news", "en")], now
        )
        policy = story_store.IngestPolicy(now=now)
        outcome = await story_store.store_feed_items(
            session,
            feed.id,
            [(StoryDraft(identity="guid:1", title="Erbil", link="https://x.example/1"), ["news"])],
            policy,
        )
        readers = []
        for chat_id in (1, 2, 3):
            await chat_store.touch_chat(
                session, chat_id, type="private", title=None, language=None, now=now
            )
            readers.append((delivery_store.Recipient(chat_id, 0, None, None, None), None))
        await delivery_store.add_deliveries(
            session,
            outcome.backlog[0].id,
            "push",
            PRIORITY_NEW,
            readers,
            now - timedelta(minutes=20),
        )
    metrics.RATE_LIMITED.inc()
    server = await _serve(sessions, backoff_seconds=lambda: 4.5, is_leader=lambda: False)
    try:
        async with http.get(f"http://127.0.0.1:{server.port}/metrics") as response:
            assert response.status == 200
            assert response.content_type == "text/plain"
            text = await response.text()
    finally:
        await server.stop()
    lines = {
        line.split(" ")[0]: line.split(" ")[1] for line in text.splitlines() if line[:1] != "#"
    }
    assert lines["newsbot_delivery_queue_depth"] == "3.0"
    assert float(lines["newsbot_delivery_oldest_pending_seconds"]) >= 20 * 60
    assert lines["newsbot_send_backoff_seconds"] == "4.5"
    assert lines["newsbot_leader"] == "0.0"
    assert float(lines["newsbot_telegram_429_total"]) >= 1
    assert lines['newsbot_comments{status="queued"}'] == "0.0"


async def _scrape(server: OpsServer, http: aiohttp.ClientSession) -> dict[str, float]:
    """Every sample /metrics shows, by name and labels."""
    async with http.get(f"http://127.0.0.1:{server.port}/metrics") as response:
        text = await response.text()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line[:1] != "#"
    }


async def test_metrics_show_webhook_results_and_the_send_rate_limit(
    sessions: SessionFactory,
    http: aiohttp.ClientSession,
    comment_outlet: CommentOutlet,
    make_relay: RelayFactory,
) -> None:
    delivered = 'newsbot_comment_webhooks_total{result="delivered"}'
    retried = 'newsbot_comment_webhooks_total{result="retried"}'
    server = await _serve(sessions)
    try:
        before = await _scrape(server, http)
        story = await add_story(sessions)
        written = await add_comment(sessions, story)
        comment_outlet.respond(503, {"error": "maintenance"})  # once, then accepted
        notifier = RecordingNotifier()
        relay = make_relay(notifier)
        await relay.start()
        await notifier.wait_for(lambda: written.id in notifier.final())
        await relay.stop()
        broadcaster(sessions, RecordingClient(), send_rate=7)
        after = await _scrape(server, http)
    finally:
        await server.stop()
    assert after[delivered] == before.get(delivered, 0.0) + 1
    assert after[retried] == before.get(retried, 0.0) + 1
    assert after["newsbot_send_rate_limit"] == 7.0
