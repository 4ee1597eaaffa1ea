"""Weeks, not minutes: a time-compressed soak test of the bot's workers under a simulated clock.

Smoke run (CI; about 20 s)::

    python benchmarks/soak.py --smoke

Full run (a simulated month; 2 shared cores: about 10-15 minutes)::

    python benchmarks/soak.py --days 30 [--database postgres]

What it does:

1. A helper process (the "world") serves everything outside the bot on 127.0.0.1: the tests'
   fake Bot API (``tests.fake_bot_api``), a feed server (``tests.auxil.feed_server``) with
   ``--feeds`` RSS feeds, and the outlet's comment endpoint (``tests.auxil.outlet``). It
   records, for each story, when the fake first accepted a push of it. The fakes keep records
   of everything they saw, so they live in their own process: the memory measured here is the
   bot's alone.
2. This process runs the bot's real workers on a fresh database (migrated as at start):
   ``FeedPoller`` (``jobs.ingestion``) fetching the feeds over HTTP, the push fan-out
   (``jobs.fanout.Broadcaster`` with the lean Bot API client), the comment relay
   (``jobs.comment_relay.CommentRelay`` POSTing Standard Webhooks, telling readers through
   PTB's ``Bot``), and the nightly housekeeping (``jobs.maintenance.housekeeping``: delivery
   records past the comment window, data past retention) and, every simulated hour, the
   compaction of finished deliveries (``jobs.maintenance.compact_deliveries``), all given one
   simulated clock.
3. The clock advances ``1440 / --polls-per-day`` simulated minutes per poll cycle; each cycle
   polls every feed once (``FeedPoller.poll_due``, what the feeds' timers call). Meanwhile
   feeds gain new stories (``--stories-per-day``) and corrected titles, readers subscribe,
   unsubscribe or block the bot (the fake answers 403), readers comment on recent stories,
   and at 03:30 each simulated day the housekeeping runs.
4. At each simulated midnight it samples: resident memory (VmRSS), Python's allocated
   blocks, asyncio tasks, database connections (SQLite: the pool's checked-out connections;
   PostgreSQL: ``pg_stat_activity`` of the database), the database's size (SQLite: file +
   WAL; PostgreSQL: ``pg_database_size``), row counts, and the push latency of the day's
   stories (handed off by ingestion → the fake's first accepted push: p50/p95, real time).

It prints one row per simulated day and a verdict per curve (the last week against the
first), and never fails on the figures.

Time is compressed about 7,000 times (5 simulated minutes per poll cycle of some 40 ms), so
two real-time limits are scaled with it: Telegram's one message a second per chat (which
would be hours of simulated time and turn every push into a grouped one) is lifted from
the sender, and the outlet checks the signatures of the relay's webhooks but not their
age (they carry the simulated time). Leases measured in simulated time expire during a real
POST, so the outlet may see a comment twice (same webhook id, stored once).

On a PostgreSQL server without autovacuum (test servers turn it off), a plain ``VACUUM``
stands in for it after each night's housekeeping. ``--verbose`` adds the workers' counters,
what the fake refused, and why a story's first push took over 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import multiprocessing
import random
import re
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import asyncpg
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import make_url
from standardwebhooks import Webhook
from telegram import Bot

from bot.admin_alerter import AdminAlerter
from bot.comment_notify import ReaderCommentNotifier, RelayNotifier
from bot.config import Settings, comments_secret_key, load_settings
from bot.push_render import PushRenderer
from bot.services import fanout_settings, poll_settings, relay_settings
from jobs.clients.feeds import create_feed_session
from jobs.clients.telegram import BotApiClient
from jobs.comment_relay import CommentRelay
from jobs.fanout import Broadcaster
from jobs.ingestion import FeedPoller
from jobs.maintenance import compact_deliveries, housekeeping
from news.send_rate import PerChatLimiter
from storage import chats as chat_store
from storage import comments as comment_store
from storage import feeds as feed_store
from storage.comments import CommentDraft
from storage.engine import create_engine, create_session_factory, writing
from storage.feeds import FeedView
from storage.migrate import upgrade_database
from storage.records import IngestOutcome, StoryView
from tests.auxil.databases import _dsn, create_postgres_database, drop_postgres_database
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import Item, rss
from tests.auxil.outlet import CommentOutlet
from tests.fake_bot_api import FakeBotApi
from tests.fake_bot_api.models import StoredMessage

SECRET = "whsec_" + "c29hay10ZXN0LXNpZ25pbmcta2V5LTMyLWJ5dGVzISE="  # the outlet's key
PSEUDONYM_KEY = b"s" * 32
SECTIONS = ("kurdistan", "world", "economy", "sport", "culture")
TITLE = re.compile(r"Soak story (\d+):")
TABLES = (
    "story",
    "delivery",
    "push_record",
    "delivery_tally",
    "broadcast",
    "comment",
    "outlet_event",
    "chat",
)
START = datetime(2026, 1, 1, tzinfo=UTC)


# --- the world: fakes in their own process ---------------------------------------------


class SoakBotApi(FakeBotApi):
    """The fake Bot API, remembering when each story's first push was accepted and keeping
    only the last two days' messages (a month of them would fill its process)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.first_push: dict[int, float] = {}
        self.seen: set[int] = set()
        self.generations: deque[list[tuple[int, int]]] = deque([[]])
        self.accepted = 0
        self.edits = 0
        self.refusals: Counter[str] = Counter()

    def _store(self, message: dict[str, Any], **kwargs: Any) -> StoredMessage:
        stored = super()._store(message, **kwargs)
        if stored.from_bot:
            self.accepted += 1
            self.generations[-1].append((stored.chat_id, stored.message_id))
            # Every story of the message: a grouped push lists several.
            for found in TITLE.finditer(stored.text or ""):
                number = int(found.group(1))
                if number not in self.seen:
                    self.seen.add(number)
                    self.first_push[number] = time.monotonic()
        return stored

    def _json(self, body: dict[str, Any], status: int = 200) -> web.Response:  # type: ignore[override]
        if status >= 400:
            self.refusals[f"{status} {body.get('description')}"] += 1
        return FakeBotApi._json(body, status)

    def day_report(self) -> dict[str, Any]:
        report = {
            "first_push": self.first_push,
            "accepted": self.accepted,
            "edits": self.stats.requests["editMessageText"] - self.edits,
            "errors": dict(self.refusals),
            "requests": dict(self.stats.requests),
        }
        self.first_push = {}
        self.accepted = 0
        self.edits = self.stats.requests["editMessageText"]
        # Forget what tests would read back; keep yesterday's and today's messages, which
        # corrections may still edit.
        self.requests.clear()
        self._calls.clear()
        self._sent_all.clear()
        self._sent_by_chat.clear()
        self.generations.append([])
        while len(self.generations) > 3:
            for key in self.generations.popleft():
                self._messages.pop(key, None)
        return report


def _simulated_timestamp(self: Webhook, header: str) -> datetime:
    # The relay signs with the simulated clock: the outlet checks signatures, not the age.
    return datetime.fromtimestamp(float(header), tz=UTC)


async def world(conn: Connection, rate: float | None) -> None:
    Webhook._Webhook__verify_timestamp = _simulated_timestamp  # type: ignore[attr-defined]
    api = SoakBotApi(global_rate=rate)
    await api.start()
    feeds = await FeedServer().start()
    async with CommentOutlet(SECRET) as outlet:

        async def serve_feed(request: web.Request) -> web.Response:
            data = await request.json()
            feeds.serve(data["path"], data["body"])
            return web.json_response({})

        async def add_users(request: web.Request) -> web.Response:
            data = await request.json()
            ids = [api.add_user(f"Reader {n}").id for n in range(data["n"])]
            return web.json_response({"ids": ids})

        async def block(request: web.Request) -> web.Response:
            data = await request.json()
            api.block(api.users[data["id"]])
            return web.json_response({})

        async def day(request: web.Request) -> web.Response:
            report = api.day_report()
            report["feed_requests"] = len(feeds.requests)
            report["comments_received"] = len(outlet.received)
            feeds.requests.clear()
            outlet.received.clear()
            return web.json_response(report)

        app = web.Application()
        app.router.add_post("/feed", serve_feed)
        app.router.add_post("/users", add_users)
        app.router.add_post("/block", block)
        app.router.add_post("/day", day)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        control = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        conn.send(
            {
                "api": api.url,
                "token": api.token,
                "feeds": f"http://127.0.0.1:{feeds.port}",
                "outlet": outlet.url,
                "control": f"http://127.0.0.1:{control}",
            }
        )
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "stop"
        await runner.cleanup()
    await feeds.stop()
    await api.stop()


def world_main(conn: Connection, rate: float | None) -> None:
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(world(conn, rate))


class CompressedPerChatLimiter(PerChatLimiter):
    """Telegram's per-chat limits on the compressed clock: a reader's one message a second
    would be hours of simulated time, and would turn every push into a grouped one."""

    def __init__(self) -> None:
        super().__init__(private_interval=0.0, group_window=0.01, margin=0.0)


# --- the simulated clock and what happens in the world ---------------------------------------


class SimClock:
    """The one clock every worker is given; the soak loop moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FeedState:
    path: str
    items: list[Item] = field(default_factory=list)


@dataclass
class DayRow:
    day: int
    rss_mb: float
    blocks_k: float
    tasks: int  # the fewest of five looks
    tasks_max: int
    conns: int
    conns_max: int
    db_mb: float
    task_names: Counter[str]
    rows: dict[str, int]
    readers: int
    stories: int
    corrected: int
    pushes: int
    edits: int
    comments: int
    p50_ms: float | None
    p95_ms: float | None
    housekeeping_s: float
    wall_s: float


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Soak:
    def __init__(self, args: argparse.Namespace, world_urls: dict[str, str]) -> None:
        self.args = args
        self.urls = world_urls
        self.random = random.Random(args.seed)
        self.clock = SimClock(START)
        self.step = timedelta(days=1) / args.polls_per_day
        self.feeds = [
            FeedState(f"/feeds/{SECTIONS[n % len(SECTIONS)]}-{n}.xml") for n in range(args.feeds)
        ]
        self.story_numbers = iter(range(1, 10**9))
        self.story_ids: dict[int, tuple[int, datetime]] = {}  # for --verbose
        self.ingested: dict[int, float] = {}  # story number → when ingestion handed it off
        # Stories readers may comment on, with when they were stored (simulated).
        self.recent: deque[tuple[datetime, StoryView]] = deque(maxlen=50)
        self.readers: list[int] = []  # subscribed, not blocked
        self.latencies: list[float] = []
        self.day_stats = {"stories": 0, "corrected": 0}
        self.rows: list[DayRow] = []
        self.housekeeping_s = 0.0
        self.vacuum = False

    # world control

    async def world(self, path: str, payload: dict[str, Any]) -> Any:
        async with self.control.post(self.urls["control"] + path, json=payload) as response:
            return await response.json()

    async def publish(self, feed: FeedState) -> None:
        body = rss(feed.items[:20], title=f"Soak {feed.path}")
        await self.world("/feed", {"path": feed.path, "body": body})

    def new_item(self, feed: FeedState) -> Item:
        number = next(self.story_numbers)
        return Item(
            title=f"Soak story {number}: Erbil council meets on water",
            link=f"https://www.rudaw.net/english/soak/{number}",
            guid=f"soak-{number}",
            description=f"Summary of soak story {number}. " * 4,
            categories=[feed.path.split("/")[-1].split("-")[0]],
            published=self.clock.now,
        )

    # the bot

    async def handoff(self, feed: FeedView, outcome: IngestOutcome) -> None:
        now = time.monotonic()
        for story in outcome.new:
            found = TITLE.search(story.title)
            if found:
                self.ingested[int(found.group(1))] = now
                self.story_ids[int(found.group(1))] = (story.id, self.clock.now)
            self.recent.append((self.clock.now, story))
        self.day_stats["stories"] += len(outcome.new)
        self.day_stats["corrected"] += len(outcome.updated)
        await self.broadcaster.handoff(feed, outcome)

    async def add_readers(self, n: int) -> None:
        ids = (await self.world("/users", {"n": n}))["ids"]
        now = self.clock()
        async with writing(self.sessions) as session:
            for chat_id in ids:
                await chat_store.touch_chat(
                    session, chat_id, type="private", title=None, language="en", now=now
                )
                await chat_store.subscribe(session, chat_id, ["*"], now)
        self.readers.extend(ids)

    async def reader_leaves(self) -> None:
        if len(self.readers) < 2:
            return
        chat_id = self.readers.pop(self.random.randrange(len(self.readers)))
        async with writing(self.sessions) as session:
            await chat_store.unsubscribe(session, chat_id, None)

    async def reader_blocks(self) -> None:
        if len(self.readers) < 2:
            return
        chat_id = self.readers.pop(self.random.randrange(len(self.readers)))
        await self.world("/block", {"id": chat_id})  # the next push learns it: 403

    async def comment(self) -> None:
        window = timedelta(days=self.args.comment_window_days)
        open_ = [story for at, story in self.recent if self.clock.now - at < window]
        if not open_ or not self.readers:
            return
        story = self.random.choice(open_)
        reader = self.random.choice(self.readers)
        async with writing(self.sessions) as session:
            await comment_store.touch_commenter(
                session, reader, telegram_name="Reader", language="en", now=self.clock()
            )
            await comment_store.add_comment(
                session,
                CommentDraft(reader, reader, self.random.randrange(1, 10**6), "Reader", "Good."),
                story,
                status=comment_store.QUEUED,
                now=self.clock(),
                retry_for=timedelta(hours=24),
            )
        self.relay.wake()

    # measuring

    async def explain_slow(self, number: int, seconds: float) -> None:
        story_id, stored_at = self.story_ids.get(number, (0, self.clock.now))
        async with self.sessions() as session:
            rows = await session.execute(
                text(
                    "SELECT kind, status, attempts, created_at, updated_at, not_before "
                    "FROM delivery WHERE story_id = :id ORDER BY updated_at LIMIT 3"
                ),
                {"id": story_id},
            )
            broadcasts = await session.execute(
                text("SELECT * FROM broadcast WHERE story_id = :id"), {"id": story_id}
            )
            print(
                f"    slow: story {number} (id {story_id}, stored {stored_at:%d %H:%M}) "
                f"first push after {seconds:.1f} s: {rows.all()} {broadcasts.all()}",
                flush=True,
            )

    async def autovacuum_off(self) -> bool:
        """Whether this PostgreSQL server runs no autovacuum (test servers may turn it off)."""
        conn = await asyncpg.connect(_dsn(self.database_url))
        try:
            return bool(await conn.fetchval("SHOW autovacuum") == "off")
        finally:
            await conn.close()

    async def stand_in_for_autovacuum(self) -> None:
        """A plain VACUUM of the soak's database after each night's housekeeping: what
        autovacuum does on a production server, so that deleted rows' space is reused."""
        conn = await asyncpg.connect(_dsn(self.database_url))
        try:
            await conn.execute("VACUUM")
        finally:
            await conn.close()

    async def db_figures(self) -> tuple[float, dict[str, int]]:
        """The database's size in MB and its row counts."""
        counts: dict[str, int] = {}
        async with self.sessions() as session:
            for table in TABLES:
                result = await session.execute(text(f"SELECT count(*) FROM {table}"))
                counts[table] = int(result.scalar_one())
        if self.postgres:
            conn = await asyncpg.connect(_dsn(self.database_url))
            try:
                size = await conn.fetchval("SELECT pg_database_size($1)", self.database_name)
            finally:
                await conn.close()
        else:
            size = sum(
                p.stat().st_size for p in (self.db_path, Path(f"{self.db_path}-wal")) if p.exists()
            )
        return size / 2**20, counts

    async def connections(self) -> int:
        """The bot's database connections: SQLite's checked out of the pool, PostgreSQL's
        open on the server (idle pooled ones included)."""
        if not self.postgres:
            return int(self.engine.pool.checkedout())  # type: ignore[attr-defined]
        conn = await asyncpg.connect(_dsn(self.database_url))
        try:
            count = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", self.database_name
            )
        finally:
            await conn.close()
        return int(count) - 1  # not this one

    async def tasks_and_connections(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(fewest, most) tasks and connections over five looks 0.1 s apart: a send or a
        transaction in flight is one more for a moment; a leak stays in the fewest."""
        tasks, conns = [], []
        for _ in range(5):
            tasks.append(len(asyncio.all_tasks()))
            conns.append(await self.connections())
            await asyncio.sleep(0.1)
        return (min(tasks), max(tasks)), (min(conns), max(conns))

    async def sample(self, day: int, wall: float) -> None:
        report = await self.world("/day", {})
        for number, at in report["first_push"].items():
            started = self.ingested.pop(int(number), None)
            if started is not None:
                self.latencies.append(at - started)
                if self.args.verbose and at - started > 5:
                    await self.explain_slow(int(number), at - started)
            self.story_ids.pop(int(number), None)
        stale = time.monotonic() - 600  # stories nobody got (no reader then): forget them
        for number in [n for n, t in self.ingested.items() if t < stale]:
            del self.ingested[number]
            self.story_ids.pop(number, None)
        (tasks, tasks_max), (conns, conns_max) = await self.tasks_and_connections()
        db_mb, counts = await self.db_figures()
        row = DayRow(
            day=day,
            rss_mb=rss_mb(),
            blocks_k=sys.getallocatedblocks() / 1000,
            tasks=tasks,
            tasks_max=tasks_max,
            conns=conns,
            conns_max=conns_max,
            db_mb=db_mb,
            task_names=Counter(re.sub(r"\d+", "N", t.get_name()) for t in asyncio.all_tasks()),
            rows=counts,
            readers=len(self.readers),
            stories=self.day_stats["stories"],
            corrected=self.day_stats["corrected"],
            pushes=report["accepted"],
            edits=report["edits"],
            comments=report["comments_received"],
            p50_ms=percentile(self.latencies, 0.5) * 1000 if self.latencies else None,
            p95_ms=percentile(self.latencies, 0.95) * 1000 if self.latencies else None,
            housekeeping_s=self.housekeeping_s,
            wall_s=wall,
        )
        self.rows.append(row)
        self.latencies = []
        self.day_stats = {"stories": 0, "corrected": 0}
        self.housekeeping_s = 0.0
        print_row(row)
        if self.args.verbose:
            print("   ", self.broadcaster.stats, report["errors"], report["requests"], flush=True)
            async with self.sessions() as session:
                result = await session.execute(
                    text("SELECT status, count(*) FROM comment GROUP BY status")
                )
                print("    comments:", result.all(), self.relay.stats, flush=True)

    # the month

    async def run(self) -> list[DayRow]:
        args = self.args
        workdir = Path(tempfile.mkdtemp(prefix="newsbot-soak-"))
        self.db_path = workdir / "soak.db"
        self.postgres = args.database == "postgres"
        if self.postgres:
            self.database_url = await create_postgres_database()
            self.database_name = make_url(self.database_url).database or ""
            self.vacuum = await self.autovacuum_off()
            if self.vacuum:
                print(
                    "this PostgreSQL server runs no autovacuum: a plain VACUUM stands in for "
                    "it after each night's housekeeping"
                )
        else:
            self.database_url = f"sqlite+aiosqlite:///{self.db_path}"
        try:
            async with aiohttp.ClientSession() as self.control:
                await self._run()
        finally:
            if self.postgres:
                await drop_postgres_database(self.database_url)
        return self.rows

    async def _run(self) -> None:
        args = self.args
        for feed in self.feeds:  # a small backlog each: stored, never pushed
            feed.items = [self.new_item(feed) for _ in range(5)][::-1]
            await self.publish(feed)
        settings: Settings = load_settings(
            _env_file=None,
            telegram_bot_token=self.urls["token"],
            telegram_api_url=self.urls["api"],
            feeds=",".join(
                f"{f.path.split('/')[-1].split('-')[0]}={self.urls['feeds']}{f.path}"
                for f in self.feeds
            ),
            database_url=self.database_url,
            poll_interval=self.step.total_seconds(),
            send_rate=args.rate,
            # Above Telegram's 30/s only with paid broadcasts; the fake then allows its paid
            # rate (1,000/s) under ``allow_paid_broadcast``.
            paid_broadcast=args.rate > 30,
            comments_url=self.urls["outlet"],
            comments_secret=SECRET,
            comment_window_days=args.comment_window_days,
            retention_days=args.retention_days,
            log_level="WARNING",
        )
        self.engine = create_engine(settings.database_url)
        await upgrade_database(self.engine)
        self.sessions = create_session_factory(self.engine)
        async with writing(self.sessions) as session:
            feed_views = await feed_store.register_feeds(
                session,
                [(f.url, f.section, f.edition or "en") for f in settings.feeds],
                self.clock(),
            )
        fanout = fanout_settings(settings)
        bot_http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=fanout.max_in_flight + 4)
        )
        feed_http = create_feed_session("newsbot-soak", concurrency=settings.fetch_concurrency)
        outlet_http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        ptb = Bot(settings.token, base_url=f"{self.urls['api']}/bot")
        await ptb.initialize()
        self.broadcaster = Broadcaster(
            self.sessions,
            BotApiClient(bot_http, settings.telegram_api_url, settings.token),
            PushRenderer("UTC", comment_button=True, default_locale="en"),
            fanout,
            clock=self.clock,
        )
        self.broadcaster.sender._per_chat = CompressedPerChatLimiter()
        poller = FeedPoller(
            self.sessions,
            feed_http,
            poll_settings(settings),
            handoff=self.handoff,
            concurrency=settings.fetch_concurrency,
            clock=self.clock,
        )
        self.relay = CommentRelay(
            self.sessions,
            outlet_http,
            relay_settings(settings),
            PSEUDONYM_KEY,
            RelayNotifier(
                ReaderCommentNotifier(ptb, settings, self.sessions),
                AdminAlerter(ptb, settings, self.sessions),
            ),
            clock=self.clock,
        )
        assert settings.comments_key == comments_secret_key(SECRET)
        await self.add_readers(args.readers)
        await self.broadcaster.start()
        await self.relay.start()
        try:
            await self.month(poller, feed_views)
        finally:
            await self.relay.stop()
            await self.broadcaster.stop()
            await poller.stop()
            await ptb.shutdown()
            for http in (bot_http, feed_http, outlet_http):
                await http.close()
            await self.engine.dispose()

    async def month(self, poller: FeedPoller, feed_views: list[FeedView]) -> None:
        args = self.args
        per_cycle = 1 / args.polls_per_day
        by_url = {f"{self.urls['feeds']}{f.path}": f for f in self.feeds}
        states = [by_url[v.url] for v in feed_views]
        housekeeping_at = timedelta(hours=3, minutes=30)
        # The leader compacts finished deliveries every 5 minutes; once a simulated hour here.
        next_compaction = self.clock.now + timedelta(hours=1)
        events = (
            (lambda: self.add_readers(1), args.joins_per_day),
            (self.reader_leaves, args.leaves_per_day),
            (self.reader_blocks, args.blocks_per_day),
            (self.comment, args.comments_per_day),
        )
        owed = [0.5, 0.0, 0.25, 0.5]  # offsets: a join comes before a departure
        print_header()
        await self.sample(0, 0.0)
        for day in range(1, args.days + 1):
            began = time.perf_counter()
            midnight = self.clock.now
            kept = False
            for _ in range(args.polls_per_day):
                self.clock.now += self.step
                cycle_began = time.perf_counter()
                for state in states:
                    changed = False
                    if self.random.random() < args.stories_per_day * per_cycle / len(states):
                        state.items.insert(0, self.new_item(state))
                        changed = True
                    if self.random.random() < args.corrections_per_day * per_cycle / len(states):
                        item = state.items[self.random.randrange(min(5, len(state.items)))]
                        item.title = item.title.replace(" (corrected)", "") + " (corrected)"
                        changed = True
                    if changed:
                        del state.items[20:]
                        await self.publish(state)
                # Readers and comments at a steady pace (stories come at random): the
                # audience stays the same size, so the last week's latency is comparable.
                for n, (event, per_day) in enumerate(events):
                    owed[n] += per_day * per_cycle
                    while owed[n] >= 1:
                        owed[n] -= 1
                        await event()
                polls_began = time.perf_counter()
                await asyncio.gather(*(poller.poll_due(view.id) for view in feed_views))
                if args.verbose and time.perf_counter() - cycle_began > 1:
                    print(
                        f"    slow cycle at {self.clock.now:%d %H:%M}: "
                        f"{polls_began - cycle_began:.1f} s before the polls, "
                        f"{time.perf_counter() - polls_began:.1f} s polling",
                        flush=True,
                    )
                if self.clock.now >= next_compaction:
                    next_compaction = self.clock.now + timedelta(hours=1)
                    await compact_deliveries(self.sessions, clock=self.clock)
                if not kept and self.clock.now - midnight >= housekeeping_at:
                    kept = True
                    started = time.perf_counter()
                    await housekeeping(
                        self.sessions,
                        comment_window=timedelta(days=args.comment_window_days),
                        retention_period=timedelta(days=args.retention_days),
                        clock=self.clock,
                    )
                    self.housekeeping_s = time.perf_counter() - started
                    if self.vacuum:
                        await self.stand_in_for_autovacuum()
                if args.cycle_pause:
                    await asyncio.sleep(args.cycle_pause)
            gc.collect()
            await self.sample(day, time.perf_counter() - began)
            if args.trace_memory and day == 2:
                tracemalloc.start(4)
                baseline = tracemalloc.take_snapshot()
        if args.trace_memory and args.days > 2:
            grown = tracemalloc.take_snapshot().compare_to(baseline, "traceback")
            print("memory grown since day 2, by where it was allocated:")
            for stat in grown[:12]:
                print(f"  {stat.size_diff / 1024:+.1f} KiB {stat.count_diff:+d} blocks")
                for line in stat.traceback.format():
                    print("   ", line)


# --- the report ------------------------------------------------------------------------------


def print_header() -> None:
    print(
        f"{'day':>3} {'RSS MB':>7} {'blocks k':>8} {'tasks':>5} {'conns':>5} {'DB MB':>6} "
        f"{'stories':>7} {'deliv.':>7} {'bcast':>6} {'comm.':>5} {'outbox':>6} {'readers':>7} "
        f"{'new':>4} {'corr':>4} {'pushes':>6} {'edits':>5} {'relayed':>7} {'p50 ms':>6} "
        f"{'p95 ms':>6} {'hk s':>5} {'wall s':>6}",
        flush=True,
    )


def print_row(row: DayRow) -> None:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    tasks = f"{row.tasks}-{row.tasks_max}"
    conns = f"{row.conns}-{row.conns_max}"
    print(
        f"{row.day:>3} {row.rss_mb:>7.1f} {row.blocks_k:>8.1f} {tasks:>5} {conns:>5} "
        f"{row.db_mb:>6.2f} {row.rows['story']:>7} {row.rows['delivery']:>7} "
        f"{row.rows['broadcast']:>6} {row.rows['comment']:>5} {row.rows['outlet_event']:>6} "
        f"{row.readers:>7} {row.stories:>4} {row.corrected:>4} {row.pushes:>6} {row.edits:>5} "
        f"{row.comments:>7} "
        f"{ms(row.p50_ms):>6} {ms(row.p95_ms):>6} {row.housekeeping_s:>5.2f} {row.wall_s:>6.1f}",
        flush=True,
    )


def verdict(rows: list[DayRow], args: argparse.Namespace) -> None:
    days = [r for r in rows if r.day >= 1]
    if len(days) < 2:
        return
    span = min(7, len(days) // 2)
    first, last = days[:span], days[-span:]
    label = f"days {first[0].day}-{first[-1].day} vs {last[0].day}-{last[-1].day}"

    def mean(values: list[float]) -> float:
        return statistics.fmean(values)

    def slope(values: list[float]) -> float:  # per day, least squares
        if len(values) < 2:
            return 0.0
        xs = range(len(values))
        mx, my = mean(list(xs)), mean(values)
        den = sum((x - mx) ** 2 for x in xs)
        return sum((x - mx) * (y - my) for x, y in zip(xs, values, strict=True)) / den

    rss_first, rss_last = mean([r.rss_mb for r in first]), mean([r.rss_mb for r in last])
    print(
        f"memory ({label}): RSS {rss_first:.1f} → {rss_last:.1f} MB "
        f"({rss_last - rss_first:+.1f} MB), last days' slope "
        f"{slope([r.rss_mb for r in last]):+.2f} MB/day; Python blocks "
        f"{mean([r.blocks_k for r in first]):.0f}k → {mean([r.blocks_k for r in last]):.0f}k"
    )
    settled = args.retention_days + 1
    after = [r for r in days if r.day >= settled]
    if len(after) >= 2:
        tail = after[-min(len(after), 7) :]
        print(
            f"database (retention {args.retention_days:g} days, comment window "
            f"{args.comment_window_days:g}): {tail[0].db_mb:.2f} MB on day {tail[0].day} → "
            f"{tail[-1].db_mb:.2f} MB on day {tail[-1].day} "
            f"({tail[-1].db_mb - tail[0].db_mb:+.2f} MB); stories "
            f"{tail[0].rows['story']} → {tail[-1].rows['story']}, deliveries "
            f"{tail[0].rows['delivery']} → {tail[-1].rows['delivery']}, comments "
            f"{tail[0].rows['comment']} → {tail[-1].rows['comment']}"
        )
    else:
        print(
            f"database: {days[0].db_mb:.2f} → {days[-1].db_mb:.2f} MB "
            f"(retention of {args.retention_days:g} days not reached for a settled curve)"
        )
    for name, attr in (("asyncio tasks", "tasks"), ("database connections", "conns")):
        # The fewest of each day's looks (a leak never goes away), and the most seen.
        a = [getattr(r, attr) for r in first]
        b = [getattr(r, attr) for r in last]
        peak_a = max(getattr(r, f"{attr}_max") for r in first)
        peak_b = max(getattr(r, f"{attr}_max") for r in last)
        judged = f"GROWN by {min(b) - max(a)}" if min(b) > max(a) else "no growth"
        print(
            f"{name} ({label}, the fewest of 5 looks a day): {min(a)}-{max(a)} vs "
            f"{min(b)}-{max(b)}: {judged} (most seen: {peak_a} vs {peak_b})"
        )
    extra = last[-1].task_names - first[0].task_names
    gone = first[0].task_names - last[-1].task_names
    print(
        f"tasks at day {first[0].day}: {dict(sorted(first[0].task_names.items()))}; at day "
        f"{last[-1].day}: more {dict(extra) or 'none'}, fewer {dict(gone) or 'none'}"
    )
    p50a = [r.p50_ms for r in first if r.p50_ms is not None]
    p50b = [r.p50_ms for r in last if r.p50_ms is not None]
    p95a = [r.p95_ms for r in first if r.p95_ms is not None]
    p95b = [r.p95_ms for r in last if r.p95_ms is not None]
    if p50a and p50b:
        print(
            f"push latency: p50 {statistics.median(p50a):.0f} → {statistics.median(p50b):.0f} ms "
            f"(ratio {statistics.median(p50b) / statistics.median(p50a):.2f}), p95 "
            f"{statistics.median(p95a):.0f} → {statistics.median(p95b):.0f} ms "
            f"(ratio {statistics.median(p95b) / statistics.median(p95a):.2f}) "
            f"(medians of the daily figures)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--days", type=int, default=30, help="simulated days")
    parser.add_argument(
        "--polls-per-day",
        type=int,
        default=288,
        help="poll cycles per simulated day (288: every 5 simulated minutes; 1440: every minute)",
    )
    parser.add_argument("--feeds", type=int, default=5)
    parser.add_argument("--readers", type=int, default=12, help="readers at the start")
    parser.add_argument("--stories-per-day", type=float, default=30)
    parser.add_argument("--corrections-per-day", type=float, default=8)
    parser.add_argument("--joins-per-day", type=float, default=3)
    parser.add_argument("--leaves-per-day", type=float, default=1.5)
    parser.add_argument("--blocks-per-day", type=float, default=1.5)
    parser.add_argument("--comments-per-day", type=float, default=30)
    parser.add_argument("--retention-days", type=float, default=10, help="RETENTION_DAYS")
    parser.add_argument("--comment-window-days", type=float, default=3, help="COMMENT_WINDOW_DAYS")
    parser.add_argument("--rate", type=int, default=100, help="SEND_RATE and the fake's limit")
    parser.add_argument("--cycle-pause", type=float, default=0.0, help="real s between cycles")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument(
        "--trace-memory", action="store_true", help="where memory grew after day 2 (slow)"
    )
    parser.add_argument("--verbose", action="store_true", help="the workers' counters daily")
    parser.add_argument("--smoke", action="store_true", help="3 simulated days of 96 polls")
    args = parser.parse_args()
    if args.smoke:
        args.days, args.polls_per_day = 3, 96
        args.retention_days, args.comment_window_days = 1, 0.5
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.ERROR)
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    helper = context.Process(target=world_main, args=(child, args.rate), daemon=True)
    helper.start()
    urls = parent.recv()
    started = time.perf_counter()
    try:
        rows = asyncio.run(Soak(args, urls).run())
    finally:
        parent.send("stop")
        helper.join(10)
    print(
        f"{args.days} simulated days, {args.polls_per_day} polls a day of {args.feeds} feeds "
        f"({args.days * args.polls_per_day * args.feeds} feed polls), {args.database}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    verdict(rows, args)


if __name__ == "__main__":
    main()
