"""Several instances on one PostgreSQL database: one leader, failover on SIGKILL, nothing twice.

Three real ``python -m bot run`` processes share the token, the database and the outlet. One
is elected (PostgreSQL advisory lock) and polls feeds, sends pushes and long-polls Telegram;
the others wait as standbys and relay comments. The leader is killed with SIGKILL during a
broadcast; a standby must take over, finish the broadcast without repeating what was sent
(beyond the few messages in flight), and every comment queued before the kill must reach
the outlet exactly once.
"""

from __future__ import annotations

import asyncio
import base64
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.config import load_settings
from bot.services import open_services
from storage import chats as chat_store
from storage import comments as comment_store
from storage import stories as story_store
from storage.engine import create_engine, create_session_factory, writing
from storage.outbox import outbox_counts
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import Item, rss, rudaw_items
from tests.auxil.outlet import CommentOutlet
from tests.auxil.ports import free_port
from tests.auxil.processes import bot_environment, start_bot_process, stop_bot_processes
from tests.fake_bot_api import FakeBotApi

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

READERS = 150
COMMENTS = 12
INSTANCES = 3
SECRET = "whsec_" + base64.b64encode(b"three instances share this key!!").decode()


async def _health(http: aiohttp.ClientSession, port: int) -> dict[str, object] | None:
    try:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            return dict(await response.json())
    except (aiohttp.ClientError, ValueError):
        return None


async def _leader(http: aiohttp.ClientSession, ports: list[int], exclude: int = -1) -> int:
    """The index of the instance whose /healthz says it leads (waits for one)."""
    async with asyncio.timeout(30):
        while True:
            for index, port in enumerate(ports):
                health = await _health(http, port)
                if index != exclude and health is not None and health.get("leader") is True:
                    return index
            await asyncio.sleep(0.1)


async def test_three_instances_leader_killed_mid_broadcast(
    feed_server: FeedServer, tmp_path: Path, postgres_url: str
) -> None:
    await _run(feed_server, tmp_path, postgres_url)


async def _run(feed_server: FeedServer, tmp_path: Path, database_url: str) -> None:
    async with FakeBotApi(global_rate=30) as api, CommentOutlet(SECRET) as outlet:
        readers = [api.add_user(f"Reader {n}") for n in range(READERS)]
        items = rudaw_items(5)
        feed_server.serve("/english/rss", rss(items))
        feed_url = feed_server.url("/english/rss")
        settings = load_settings(
            telegram_bot_token=api.token,
            telegram_api_url=api.url,
            feeds=feed_url,
            database_url=database_url,
        )
        now = datetime.now(UTC)
        async with open_services(settings) as services:
            await services.poller.poll(services.feeds[0].id)
            async with writing(services.sessions) as session:
                [story] = await story_store.latest_stories(session, limit=1)
                for reader in readers:
                    await chat_store.touch_chat(
                        session, reader.id, type="private", title=None, language="en", now=now
                    )
                    await chat_store.subscribe(session, reader.id, ["*"], now)
                for reader in readers[:COMMENTS]:
                    await comment_store.add_comment(
                        session,
                        comment_store.CommentDraft(
                            reader.id, reader.id, 10, reader.first_name, f"Comment of {reader.id}"
                        ),
                        story,
                        status=comment_store.QUEUED,
                        now=now,
                        retry_for=timedelta(hours=24),
                    )
        # The outlet is slow: comment POSTs are still in flight when the leader dies, and
        # it stores each comment on arrival, so an answer lost with the dead process leaves
        # the outlet holding a comment the bot must send again under the same webhook-id.
        outlet.hang_next(2.5, times=COMMENTS, store=True)

        ports = [free_port() for _ in range(INSTANCES)]
        base = bot_environment(api, feed_url, database_url)
        base.update(COMMENTS_URL=outlet.url, COMMENTS_SECRET=SECRET)
        log = tmp_path / "instances.log"
        processes = []
        for port in ports:
            processes.append(await start_bot_process({**base, "METRICS_PORT": str(port)}, log))
        try:
            async with aiohttp.ClientSession() as http:
                leader = await _leader(http, ports)
                items.insert(
                    0,
                    Item(
                        "BREAKING: Three instances story",
                        "https://www.rudaw.net/english/news/instances",
                        guid="instances",
                        categories=["Kurdistan"],
                        published=datetime.now(UTC) - timedelta(minutes=1),
                    ),
                )
                feed_server.serve("/english/rss", rss(items))

                commenters = {reader.id for reader in readers[:COMMENTS]}

                def told() -> Counter[int]:
                    return Counter(
                        m.chat_id for m in api.sent() if "was sent to the site" in (m.text or "")
                    )

                def pushes() -> Counter[int]:
                    return Counter(
                        m.chat_id for m in api.sent() if "Three instances story" in (m.text or "")
                    )

                await api.wait_for(lambda: sum(pushes().values()) >= 40, timeout=60)
                conflicts_before_kill = api.stats.errors[409]
                processes[leader].send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
                await processes[leader].wait()
                delivered_before_kill = sum(pushes().values())
                assert delivered_before_kill < READERS, "the kill came too late to test anything"

                successor = await _leader(http, ports, exclude=leader)
                failover = time.monotonic() - killed_at
                await api.wait_for(lambda: sum(pushes().values()) > delivered_before_kill, 30)
                first_push_after = time.monotonic() - killed_at
                await api.wait_for(lambda: len(pushes()) == READERS, timeout=60)
                await _comments_relayed(database_url)
                # A verdict the dead leader got but had not told is told by the sweep.
                await api.wait_for(lambda: set(told()) == commenters, timeout=90)
                await asyncio.sleep(0.5)  # anything still in flight lands before counting
                assert successor != leader
        finally:
            await stop_bot_processes(processes, grace=20)

        counts = pushes()
        lost = [r.id for r in readers if counts[r.id] == 0]
        duplicates = sum(n - 1 for n in counts.values() if n > 1)
        posts = Counter(
            r.webhook_id for r in outlet.received if r.body and r.body["type"] == "comment.created"
        )
        print(  # shown with -s: the figures the issue asks about
            f"{INSTANCES} instances, leader SIGKILLed after {delivered_before_kill} pushes: "
            f"new leader in {failover:.2f} s, first push after the kill in "
            f"{first_push_after:.2f} s; {len(lost)} lost, {duplicates} duplicated of {READERS}; "
            f"{len(outlet.stored)} comments stored from {sum(posts.values())} POSTs; "
            f"{api.stats.rate_limited} × 429"
        )
        assert lost == []
        # At most what the dead leader had in flight (workers) plus one recorder flush.
        assert duplicates <= 6, f"{duplicates} duplicates; log in {log}"
        assert len(outlet.stored) == COMMENTS
        assert len(posts) == COMMENTS
        assert all(r.verified for r in outlet.received)
        # Only POSTs the dead instance had in flight may have been sent twice.
        assert sum(posts.values()) - COMMENTS <= 4
        # Only the leader long-polls Telegram: while three instances ran, none fought another
        # with 409 Conflict. Each handover (the kill; the shutdown, where a survivor takes
        # over) ends the old leader's abandoned long poll with one 409 nobody receives.
        assert conflicts_before_kill == 0
        assert api.stats.errors[409] <= 2
        # Every author heard that the site has their comment. Telling is at least once: the
        # dead leader may have told a reader without noting it, and then the sweep tells
        # again (an edit of the confirmation to the same text, for a real reader). Those
        # messages share the bot's rate with the broadcast; a 429 they meet is waited out.
        assert set(told()) == commenters
        assert sum(told().values()) - COMMENTS <= 4
        survivors = [p for i, p in enumerate(processes) if i != leader]
        assert [p.returncode for p in survivors] == [0] * (INSTANCES - 1), log.read_text()[-3000:]


async def _comments_relayed(database_url: str) -> None:
    """Wait until every comment's webhook is done (relayed by whichever instance)."""
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    try:
        async with asyncio.timeout(60):
            while True:
                async with sessions() as session:
                    counts = await outbox_counts(session)
                if counts.get("done", 0) == COMMENTS:
                    return
                await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
