"""Instant news: from the outlet's story.published (or a WebSub hub's distribution) to the
first reader's push, and to the last of 2,000 readers at Telegram's 30/s.

Smoke run (CI; about 40 s)::

    python benchmarks/instant.py --smoke

Full run (2 cores: about 3 minutes)::

    python benchmarks/instant.py --events 40 --readers 2000 --rate 30

What it does:

1. The tests' fake Bot API (enforcing ``--rate`` as a sliding one-second window), a local
   outlet serving an RSS feed that advertises a WebSub hub, and the tests' hub
   (``tests.auxil.hub``), all on 127.0.0.1 in this process; a SQLite database prepared with
   the migrations, the feed's backlog and ``--latency-readers`` subscribers.
2. The real application (``bot.app.running``) with ``POLL_INTERVAL=60``, ``HOOKS_PORT``,
   ``OUTLET_HOOKS_SECRET``, ``PUBLIC_URL`` and ``SEND_RATE=--rate``, in this process (so
   the figures include the fakes sharing its event loop: they are pessimistic).
3. Event path: ``--events`` signed ``story.published`` events, one new story each, every
   ``--gap`` seconds; for each, the time from the start of the POST to the first reader's
   message holding its title (the fake's clock). Hub path: as many distributions of the
   feed with one new story each, signed with the subscription's secret, timed the same way.
4. Fan-out: ``--readers`` readers more are subscribed, one more event is sent, and the time
   to the last reader's push is set against ``readers / rate``, what the limit allows.

It prints figures and never fails on them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import running
from bot.config import load_settings
from bot.services import open_services
from news.clock import utcnow
from storage import websub as websub_store
from storage.chats import subscribe, touch_chat
from storage.engine import writing
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import Item, rss, rudaw_items
from tests.auxil.hooks import HOOKS_SECRET, send_event
from tests.auxil.hub import WebSubHub
from tests.auxil.ports import free_port
from tests.auxil.waiting import wait_until
from tests.fake_bot_api import FakeBotApi

FEED_PATH = "/english/rss"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def new_item(n: int) -> Item:
    return Item(
        title=f"Instant story {n}: Erbil council meets",
        link=f"https://www.rudaw.net/english/instant/{n}",
        guid=f"instant-{n}",
        description=f"Summary of instant story {n}.",
        categories=["Kurdistan"],
        published=datetime.now(UTC) - timedelta(seconds=5),
    )


async def subscribe_all(sessions: Any, ids: list[int]) -> None:
    now = utcnow()
    for start in range(0, len(ids), 500):
        async with writing(sessions) as session:
            for chat_id in ids[start : start + 500]:
                await touch_chat(
                    session, chat_id, type="private", title=None, language="en", now=now
                )
                await subscribe(session, chat_id, ["*"], now)


async def first_push(
    api: FakeBotApi,
    readers: list[Any],
    title: str,
    timeout: float,  # noqa: ASYNC109 - the fake's wait_for takes a deadline per call
) -> float:
    """The fake's time when the first of ``readers`` got ``title``."""

    def got() -> bool:
        return any(title in (m.text or "") for r in readers for m in api.sent(r))

    await api.wait_for(got, timeout=timeout)
    return time.perf_counter()


async def run(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="newsbot-instant-"))
    api = FakeBotApi(global_rate=args.rate)
    await api.start()
    outlet = await FeedServer().start()
    port = free_port()
    backlog = rudaw_items(10)
    async with WebSubHub(lease=86400) as hub:
        topic = outlet.url(FEED_PATH)
        outlet.serve(FEED_PATH, rss(backlog, hub=hub.url, self_url=topic))
        settings = load_settings(
            _env_file=None,
            telegram_bot_token=api.token,
            telegram_api_url=api.url,
            feeds=topic,
            database_url=f"sqlite+aiosqlite:///{workdir / 'instant.db'}",
            poll_interval=60,
            send_rate=args.rate,
            hooks_port=port,
            outlet_hooks_secret=HOOKS_SECRET,
            public_url=f"http://127.0.0.1:{port}",
            log_level="WARNING",
        )
        latency_readers = [api.add_user(f"Reader {n}") for n in range(args.latency_readers)]
        async with open_services(settings) as services:
            for feed in services.feeds:
                await services.poller.poll(feed.id)
            await subscribe_all(services.sessions, [u.id for u in latency_readers])
        async with running(settings) as app:
            sessions = app.bot_data["newsbot.deps"].services.sessions
            await wait_until(lambda: bool(hub.subscribers), 15)
            async with sessions() as session:
                (subscription,) = await websub_store.subscriptions(session)
            print(f"subscribed at the hub: state={subscription.state}")
            await asyncio.sleep(1.0)  # let the first pushes' rate window pass

            event_latency: list[float] = []
            for n in range(args.events):
                item = new_item(n)
                started = time.perf_counter()
                status, _ = await send_event(
                    port,
                    "story.published",
                    {
                        "link": item.link,
                        "guid": item.guid,
                        "title": item.title,
                        "summary": item.description,
                        "published_at": item.published.isoformat() if item.published else None,
                        "sections": item.categories,
                    },
                )
                assert status == 200, status
                arrived = await first_push(api, latency_readers, item.title, 10)
                event_latency.append(arrived - started)
                await asyncio.sleep(args.gap)

            hub_latency: list[float] = []
            items = list(backlog)
            for n in range(args.events, 2 * args.events):
                item = new_item(n)
                items.insert(0, item)
                body = rss(items[:20], hub=hub.url, self_url=topic).encode()
                started = time.perf_counter()
                statuses = await hub.publish(topic, body)
                assert statuses == [200], statuses
                arrived = await first_push(api, latency_readers, item.title, 10)
                hub_latency.append(arrived - started)
                await asyncio.sleep(args.gap)

            crowd = [api.add_user(f"Crowd {n}") for n in range(args.readers)]
            await subscribe_all(sessions, [u.id for u in crowd])
            everyone = latency_readers + crowd
            await asyncio.sleep(1.5)
            item = new_item(10_000)
            started = time.perf_counter()
            await send_event(
                port,
                "story.published",
                {"link": item.link, "title": item.title, "summary": item.description},
            )
            first = await first_push(api, everyone, item.title, 30)

            def all_got() -> bool:
                title = item.title
                return all(any(title in (m.text or "") for m in api.sent(r)) for r in everyone)

            await api.wait_for(all_got, timeout=len(everyone) / args.rate * 2 + 30)
            last = time.perf_counter()
    await outlet.stop()
    await api.stop()

    def line(name: str, values: list[float]) -> None:
        print(
            f"{name}: n={len(values)} p50={percentile(values, 0.5) * 1000:.0f} ms "
            f"p95={percentile(values, 0.95) * 1000:.0f} ms max={max(values) * 1000:.0f} ms "
            f"mean={statistics.fmean(values) * 1000:.0f} ms"
        )

    line("outlet event -> first push", event_latency)
    line("hub distribution -> first push", hub_latency)
    allowed = len(everyone) / args.rate
    print(
        f"{len(everyone)} readers at {args.rate}/s: first push {(first - started):.2f} s, "
        f"last push {(last - started):.1f} s after the event "
        f"(the limit allows {allowed:.1f} s; ratio {(last - started) / allowed:.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=40, help="events (and distributions)")
    parser.add_argument("--gap", type=float, default=1.2, help="seconds between events")
    parser.add_argument("--latency-readers", type=int, default=3)
    parser.add_argument("--readers", type=int, default=2000, help="readers of the fan-out run")
    parser.add_argument("--rate", type=int, default=30, help="the fake's limit and SEND_RATE")
    parser.add_argument("--smoke", action="store_true", help="5 events, 100 readers")
    args = parser.parse_args()
    if args.smoke:
        args.events, args.readers = 5, 100
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
