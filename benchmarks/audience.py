"""Audience: one new story to a million readers, through the real Broadcaster (issue 20).

Smoke run (CI; about 20 s, SQLite)::

    python benchmarks/audience.py --smoke

Full runs (2 cores: seeding takes seconds; the broadcast about audience/1,000 s, ~8 min)::

    python benchmarks/audience.py --readers 1000000 --database sqlite
    python benchmarks/audience.py --readers 1000000 --database postgres

What it does:

1. Makes a fresh database (a SQLite file in a temp folder, or a throwaway PostgreSQL database
   on ``--admin-url``), applies the real migrations, registers one feed and stores
   ``--stories`` backlog stories the way ingestion does (for ``/latest``).
2. Seeds N chats in bulk (SQLite ``executemany`` on the driver, PostgreSQL ``COPY``), drawn
   from a seeded generator: 3 % are groups with one to three topics; 2 % blocked the bot;
   editions (never chosen = the default "en", "en", "ckb", "en,ckb", "ar"), delivery modes
   (instant, breaking only, hourly and daily digests), a fifth with quiet hours in one of four
   zones; most topics subscribe to all news or to one to three of ten sections, 15 % follow
   one to three of 40 words, 4 % mute one of 8 words; the last 0.5 % of chats follow a word
   without subscribing (the audience goes on past the last subscriber). The generator also
   counts the expected audience of the story, so that lost and extra deliveries are known.
3. The broadcast runs in a child process, so that its peak RSS (``VmHWM``) is the bot's own:
   the real ``Broadcaster`` (``jobs.fanout``) with ``SEND_RATE=1000`` and paid broadcasts,
   its real enumerator, claimer, renderer (``bot.push_render.PushRenderer``), sender workers
   and recorder, sending through a client that answers every send at once and counts each
   (chat, topic) in a byte array (a second send is a duplicate): the paid 1,000 messages/s
   are then the only limit. While the Broadcaster idles, one story (in the "kurdistan"
   section, edition "en", matching two followed words and one muted word) is stored the way
   ingestion stores it (its broadcast in the same transaction) and the Broadcaster is woken.
   Meanwhile a loop calls ``storage.stories.latest_stories`` (what ``/latest`` reads) every
   50 ms in a fresh session, and the due backlog is sampled every 2 s. The broadcast ends
   when the audience is enumerated and nothing is due.
4. Then the enumerator alone (no sender, no backlog limit): a second story, its steps run
   back to back through the Enumerator's own step, timed.

Figures: time from ingestion to the first push; enumeration rows/s paced (audience rows ÷
time until the broadcast is enumerated) and alone; pushes/s (first to last); the lowest due
backlog sampled while enumerating (above 0: enumeration kept ahead of the sender); peak RSS;
database growth for the broadcast (SQLite: page_count × page_size; PostgreSQL:
``pg_total_relation_size`` of delivery and broadcast, and ``pg_database_size``); ``/latest``
p50/p95 during the broadcast; delivery rows vs the expected audience, keyword-labelled rows,
duplicates. It prints figures and never fails on them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.push_render import PushRenderer
from jobs.clients.telegram import SendKind, SendResult
from jobs.fanout import Broadcaster, FanoutSettings
from jobs.push.channels import Channels
from jobs.push.enumeration import Enumerator
from jobs.push.pipeline import Signals
from news.keywords import KeywordMatcher
from news.search_words import search_document
from news.story_draft import StoryDraft
from storage import deliveries as queue
from storage import feeds as feed_store
from storage import stories as story_store
from storage.deliveries import PUSH
from storage.engine import SessionFactory, create_engine, create_session_factory, writing
from storage.migrate import upgrade_database
from storage.models import Broadcast, Delivery, PushRecord

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
FEED_URL = "https://www.rudaw.net/english/rss"
SECTIONS = [
    "news", "politics", "kurdistan", "economy", "world",
    "sport", "culture", "health", "technology", "opinion",
]  # fmt: skip
STORY_SECTION = "kurdistan"
# The story matches two followed words and one muted one.
FOLLOWED = [
    "erbil", "oil", "baghdad", "election", "budget", "salary", "drone", "peshmerga",
    "kirkuk", "duhok", "sulaimani", "halabja", "zakho", "football", "parliament", "court",
    "dollar", "flood", "drought", "festival", "museum", "music", "film", "poetry",
    "refugees", "camp", "border", "airport", "bridge", "weather", "snow", "earthquake",
    "turnout", "coalition", "reform", "corruption", "protest", "teachers", "students", "bank",
]  # fmt: skip
MUTED = ["football", "league", "celebrity", "horoscope", "lottery", "fashion", "gossip", "ads"]
TITLE = "Erbil and Baghdad reach an oil deal as the football league pauses"
EDITIONS = [(None, 0.55), ("en", 0.10), ("ckb", 0.15), ("en,ckb", 0.12), ("ar", 0.08)]
MODES = [("instant", 0.70), ("breaking", 0.12), ("hourly", 0.06), ("daily", 0.12)]
ZONES = ["Asia/Baghdad", "Europe/Berlin", "America/New_York", "UTC"]
THREADS = (0, 7, 9)  # a group's topics (0: no topic)
FIRST_CHAT = 1_000_000_000
LATEST_EVERY = 0.05
BACKLOG_EVERY = 2.0


def _pick(rng: random.Random, weighted: list[tuple[Any, float]]) -> Any:
    x = rng.random()
    for value, weight in weighted:
        x -= weight
        if x < 0:
            return value
    return weighted[-1][0]


@dataclass
class Seed:
    chats: list[tuple[Any, ...]] = field(default_factory=list)
    subscriptions: list[tuple[Any, ...]] = field(default_factory=list)
    follows: list[tuple[Any, ...]] = field(default_factory=list)
    mutes: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class Expected:
    rows: int = 0  # push deliveries the story should get
    labelled: int = 0  # of which keyword alerts
    topics: int = 0  # (chat, topic) pairs seeded


def generate(readers: int, seed: int, first: int, count: int, expected: Expected) -> Seed:
    """Chats ``first .. first+count`` of ``readers`` (one generator per chunk: reproducible)."""
    rng = random.Random(seed * 7919 + first)
    out = Seed()
    document = search_document(TITLE)
    story_followed = set(KeywordMatcher(FOLLOWED).matches(document))
    story_muted = set(KeywordMatcher(MUTED).matches(document))
    tail = int(readers * 0.995)
    for i in range(first, first + count):
        group = rng.random() < 0.03
        chat_id = -(FIRST_CHAT + i) if group else FIRST_CHAT + i
        active = rng.random() >= 0.02
        editions = _pick(rng, EDITIONS)
        mode = _pick(rng, MODES)
        zone = rng.choice(ZONES) if rng.random() < 0.5 else None
        quiet = ("22:00", "07:00") if rng.random() < 0.2 else (None, None)
        if quiet[0] and zone is None:
            zone = rng.choice(ZONES)
        out.chats.append(
            (chat_id, "supergroup" if group else "private", editions, zone, active, mode, *quiet)
        )
        reads = editions is None or "en" in editions.split(",")
        threads = THREADS[: rng.randint(1, 3)] if group else (0,)
        for thread in threads:
            expected.topics += 1
            sections: list[str] = []
            if i < tail and rng.random() < 0.92:
                sections = (
                    ["*"] if rng.random() < 0.55 else rng.sample(SECTIONS, rng.randint(1, 3))
                )
            followed: list[str] = []
            if i >= tail:
                followed = [rng.choice(("erbil", "oil")), *rng.sample(FOLLOWED, 1)]
            elif rng.random() < 0.15:
                followed = rng.sample(FOLLOWED, rng.randint(1, 3))
            followed = sorted(set(followed))
            muted = rng.choice(MUTED) if rng.random() < 0.04 else None
            out.subscriptions.extend((chat_id, thread, s) for s in sections)
            out.follows.extend((chat_id, thread, p) for p in followed)
            if muted:
                out.mutes.append((chat_id, thread, muted))
            if not active or not reads or muted in story_muted:
                continue
            alert = bool(story_followed & set(followed))
            pushed = mode == "instant" and ("*" in sections or STORY_SECTION in sections)
            if alert or pushed:
                expected.rows += 1
                expected.labelled += alert
    return out


def _sqlite_path(url: str) -> str:
    return str(make_url(url).database)


async def seed_database(url: str, readers: int, seed: int) -> tuple[Expected, float]:
    """Bulk-inserts the readers; returns the expected audience and the seconds it took."""
    started = time.perf_counter()
    expected = Expected()
    now = datetime.now(UTC)
    chunk = 50_000
    if url.startswith("sqlite"):
        stamp = now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        db = sqlite3.connect(_sqlite_path(url), isolation_level=None)
        db.execute("PRAGMA synchronous=OFF")
        db.execute("BEGIN")
        for first in range(0, readers, chunk):
            rows = generate(readers, seed, first, min(chunk, readers - first), expected)
            db.executemany(
                "INSERT INTO chat (id, type, editions, timezone, active, delivery_mode,"
                " quiet_start, quiet_end, created_at, updated_at, comment_replies,"
                " silent_pushes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0)",
                [(*c, stamp, stamp) for c in rows.chats],
            )
            for table, data in (
                ("subscription", rows.subscriptions),
                ("follow", rows.follows),
                ("mute", rows.mutes),
            ):
                column = "section" if table == "subscription" else "phrase"
                db.executemany(
                    f"INSERT INTO {table} (chat_id, thread_id, {column}, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    [(*r, stamp) for r in data],
                )
        db.execute("COMMIT")
        db.close()
    else:
        conn = await asyncpg.connect(_dsn(url))
        try:
            for first in range(0, readers, chunk):
                rows = generate(readers, seed, first, min(chunk, readers - first), expected)
                await conn.copy_records_to_table(
                    "chat",
                    records=[(*c, now, now, True, False) for c in rows.chats],
                    columns=[
                        "id",
                        "type",
                        "editions",
                        "timezone",
                        "active",
                        "delivery_mode",
                        "quiet_start",
                        "quiet_end",
                        "created_at",
                        "updated_at",
                        "comment_replies",
                        "silent_pushes",
                    ],
                )
                for table, data in (
                    ("subscription", rows.subscriptions),
                    ("follow", rows.follows),
                    ("mute", rows.mutes),
                ):
                    column = "section" if table == "subscription" else "phrase"
                    await conn.copy_records_to_table(
                        table,
                        records=[(*r, now) for r in data],
                        columns=["chat_id", "thread_id", column, "created_at"],
                    )
            # What autovacuum would soon do after a bulk load.
            for table in ("chat", "subscription", "follow", "mute"):
                await conn.execute(f"VACUUM ANALYZE {table}")
        finally:
            await conn.close()
    return expected, time.perf_counter() - started


async def store_stories(sessions: SessionFactory, count: int) -> None:
    """Backlog stories for /latest, stored as ingestion stores them (no broadcast)."""
    now = datetime.now(UTC)
    async with writing(sessions) as session:
        (feed,) = await feed_store.register_feeds(session, [(FEED_URL, STORY_SECTION, "en")], now)
    for first in range(0, count, 500):
        drafts = [
            StoryDraft(
                identity=f"guid:backlog-{n}",
                title=f"Backlog story {n} about {FOLLOWED[n % len(FOLLOWED)]}",
                link=f"https://www.rudaw.net/english/backlog-{n}",
                published_at=now,
            )
            for n in range(first, min(count, first + 500))
        ]
        async with writing(sessions) as session:
            await story_store.store_feed_items(
                session,
                feed.id,
                [(d, [STORY_SECTION]) for d in drafts],
                story_store.IngestPolicy(now=now),
            )


async def ingest(sessions: SessionFactory, name: str) -> int:
    """One new story, stored as ingestion stores it (its broadcast in the same transaction)."""
    now = datetime.now(UTC)
    identity = f"guid:{name}"
    async with writing(sessions) as session:
        (feed,) = await feed_store.register_feeds(session, [(FEED_URL, STORY_SECTION, "en")], now)
        draft = StoryDraft(
            identity=identity,
            title=f"{TITLE} ({name})",
            link=f"https://www.rudaw.net/english/{name}",
            published_at=now,
        )
        outcome = await story_store.store_feed_items(
            session,
            feed.id,
            [(draft, [STORY_SECTION])],
            story_store.IngestPolicy(now=now, news=frozenset({identity})),
        )
        await queue.queue_broadcasts(session, [(s.id, s.breaking) for s in outcome.new], PUSH, now)
    (story,) = outcome.new
    return story.id


# ---------------------------------------------------------------------------------------------
# The child: the broadcast, in a process of its own.


class CountingClient:
    """Answers every send at once; counts each (chat, topic) in a byte array."""

    def __init__(self, readers: int) -> None:
        self.seen = bytearray(readers * len(THREADS))
        self.sent = 0
        self.duplicates = 0
        self.first: float | None = None
        self.last = 0.0
        self._next_id = 100

    async def send(self, method: str, body: bytes) -> SendResult:
        data = json.loads(body)
        key = (abs(int(data["chat_id"])) - FIRST_CHAT) * len(THREADS)
        key += THREADS.index(int(data.get("message_thread_id") or 0))
        if self.seen[key]:
            self.duplicates += 1
        self.seen[key] = 1
        self.sent += 1
        now = time.perf_counter()
        self.first = self.first or now
        self.last = now
        self._next_id += 1
        return SendResult(SendKind.SENT, status=200, message_id=self._next_id)


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def database_bytes(sessions: SessionFactory) -> dict[str, int]:
    async with sessions() as session:
        connection = await session.connection()
        if connection.dialect.name == "sqlite":
            pages = (await connection.execute(text("PRAGMA page_count"))).scalar_one()
            size = (await connection.execute(text("PRAGMA page_size"))).scalar_one()
            return {"database": int(pages) * int(size)}
        found = {}
        for table in ("delivery", "push_record", "delivery_tally", "broadcast"):
            statement = text(f"SELECT pg_total_relation_size('{table}')")
            found[table] = int((await connection.execute(statement)).scalar_one())
        statement = text("SELECT pg_database_size(current_database())")
        found["database"] = int((await connection.execute(statement)).scalar_one())
        return found


async def table_bytes(sessions: SessionFactory, tables: tuple[str, ...]) -> dict[str, int]:
    """Each table's bytes with its indexes (SQLite: pages in use, from dbstat; PostgreSQL:
    pg_total_relation_size, dead rows included until vacuum)."""
    found = {}
    async with sessions() as session:
        connection = await session.connection()
        for table in tables:
            if connection.dialect.name == "sqlite":
                statement = text(
                    "SELECT coalesce(sum(d.pgsize - d.unused), 0) FROM dbstat d "
                    "JOIN sqlite_schema s ON s.name = d.name WHERE s.tbl_name = :t"
                )
                value = (await connection.execute(statement, {"t": table})).scalar_one()
            else:
                statement = text(f"SELECT pg_total_relation_size('{table}')")
                value = (await connection.execute(statement)).scalar_one()
            found[table] = int(value)
    return found


async def _enumerated(sessions: SessionFactory, story_id: int) -> bool:
    async with sessions() as session:
        statement = select(Broadcast.enumerated).where(Broadcast.story_id == story_id)
        row = (await session.exec(statement)).first()  # type: ignore[call-overload]
    return row is not None and bool(row[0])


async def _rows(sessions: SessionFactory, story_id: int) -> tuple[int, int]:
    async with sessions() as session:
        statement = select(func.count(), func.count(Delivery.matched)).where(
            Delivery.story_id == story_id, Delivery.kind == "push"
        )
        total, labelled = (await session.exec(statement)).one()  # type: ignore[call-overload]
    return int(total), int(labelled)


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def child(url: str, readers: int, limit_s: float) -> dict[str, Any]:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    settings = FanoutSettings(send_rate=1000, paid_broadcast=True, default_timezone="UTC")
    client = CountingClient(readers)
    broadcaster = Broadcaster(sessions, client, PushRenderer("UTC"), settings)  # type: ignore[arg-type]
    await broadcaster.start()
    latencies: list[tuple[float, float]] = []
    backlog: list[tuple[float, int]] = []
    stop = asyncio.Event()

    async def latest_loop() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            async with sessions() as session:
                await story_store.latest_stories(session, limit=6, editions=["en"])
            latencies.append((started, time.perf_counter() - started))
            await asyncio.sleep(LATEST_EVERY)

    before = await database_bytes(sessions)
    rss_before = _peak_rss_mb()
    blocks_before = sys.getallocatedblocks()
    probe = asyncio.create_task(latest_loop())
    await asyncio.sleep(1)  # /latest idle, and the Broadcaster idle
    t0 = time.perf_counter()
    story_id = await ingest(sessions, "audience-1")
    ingested = time.perf_counter() - t0
    broadcaster.wake()
    enumerated_at: float | None = None
    deadline = t0 + limit_s
    next_backlog = t0
    while time.perf_counter() < deadline:
        await asyncio.sleep(0.25)
        now = time.perf_counter()
        if enumerated_at is None and await _enumerated(sessions, story_id):
            enumerated_at = now
        if enumerated_at is None and now >= next_backlog:
            async with sessions() as session:
                due, _ = await queue.queue_stats(session, datetime.now(UTC))
            backlog.append((now - t0, due))
            next_backlog = now + BACKLOG_EVERY
        if enumerated_at is not None:
            async with sessions() as session:
                due, _ = await queue.queue_stats(session, datetime.now(UTC))
            if due == 0:
                break
    finished = time.perf_counter()
    stop.set()
    await probe
    await broadcaster.stop()
    peak = _peak_rss_mb()
    rss_end = _rss_mb()
    blocks = sys.getallocatedblocks() - blocks_before
    after = await database_bytes(sessions)
    rows, labelled = await _rows(sessions, story_id)
    # The leader's compact-deliveries, as if its ten minutes had passed: what the broadcast
    # leaves behind for the comment window is its push records (and the held pushes).
    c0 = time.perf_counter()
    compacted = 0
    while True:
        async with writing(sessions) as session:
            step = await queue.compact_deliveries(session, datetime.now(UTC) + timedelta(hours=1))
        compacted += step
        if step < queue.COMPACT_BATCH:
            break
    compact_s = time.perf_counter() - c0
    kept = await table_bytes(sessions, ("delivery", "push_record"))
    async with sessions() as session:
        statement = select(func.count()).select_from(PushRecord)
        records = (await session.exec(statement)).scalar_one()  # type: ignore[call-overload]

    # The enumerator alone: a second story, its steps back to back.
    alone_id = await ingest(sessions, "audience-2")
    enumerator = Enumerator(
        sessions,
        FanoutSettings(default_timezone="UTC", max_ahead=10**9),
        Signals(),
        lambda: datetime.now(UTC),
        Channels(None),
    )
    a0 = time.perf_counter()
    first_step: float | None = None
    while True:
        async with sessions() as session:
            (broadcast,) = [
                b for b in await queue.open_broadcasts(session) if b.story_id == alone_id
            ]
        async with writing(sessions) as session:
            await enumerator._enumerate_batch(session, broadcast)
        first_step = first_step or time.perf_counter() - a0
        if await _enumerated(sessions, alone_id):
            break
    alone = time.perf_counter() - a0
    alone_rows, _ = await _rows(sessions, alone_id)
    await engine.dispose()

    first = (client.first - t0) if client.first else None
    span = (client.last - client.first) if client.first else 0.0
    during = [
        ms * 1000
        for at, ms in latencies
        if client.first is not None and client.first <= at <= client.last
    ]
    idle = [ms * 1000 for at, ms in latencies if at < t0]
    paced_seconds = (enumerated_at or finished) - t0
    enumerating = [due for at, due in backlog if at >= 2.0 and at + t0 < (enumerated_at or 0)]
    return {
        "ingested_s": ingested,
        "first_push_s": first,
        "enumerated_s": paced_seconds,
        "broadcast_s": finished - t0,
        "timed_out": finished >= deadline,
        "rows": rows,
        "labelled": labelled,
        "enumeration_paced_rows_s": rows / paced_seconds if paced_seconds else 0.0,
        "enumeration_alone_rows_s": alone_rows / alone if alone else 0.0,
        "alone_rows": alone_rows,
        "alone_first_step_s": first_step,
        "sent": client.sent,
        "duplicates": client.duplicates,
        "pushes_per_s": (client.sent - 1) / span if span else 0.0,
        "min_due_backlog": min(enumerating) if enumerating else None,
        "peak_rss_mb": peak,
        "rss_before_mb": rss_before,
        "rss_end_mb": rss_end,
        "python_blocks_added": blocks,
        "bytes_before": before,
        "bytes_after": after,
        "compacted": compacted,
        "compact_s": compact_s,
        "kept_bytes": kept,
        "push_records": int(records),
        "latest_idle_p50_ms": _percentile(idle, 0.5),
        "latest_p50_ms": _percentile(during, 0.5),
        "latest_p95_ms": _percentile(during, 0.95),
        "latest_samples": len(during),
    }


# ---------------------------------------------------------------------------------------------
# The orchestrator.


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _create_postgres(admin: str) -> str:
    name = f"newsbot_audience_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(_dsn(admin))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


async def _drop_postgres(admin: str, url: str) -> None:
    conn = await asyncpg.connect(_dsn(admin))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await conn.close()


async def prepare(url: str, args: argparse.Namespace) -> tuple[Expected, float, float]:
    engine = create_engine(url)
    await upgrade_database(engine)
    sessions = create_session_factory(engine)
    started = time.perf_counter()
    await store_stories(sessions, args.stories)
    stories_s = time.perf_counter() - started
    await engine.dispose()
    expected, seed_s = await seed_database(url, args.readers, args.seed)
    return expected, seed_s, stories_s


def report(args: argparse.Namespace, expected: Expected, seed_s: float, r: dict[str, Any]) -> None:
    before, after = r["bytes_before"], r["bytes_after"]
    growth = {k: after[k] - before.get(k, 0) for k in after}
    first = r["first_push_s"]
    first_text = f"{first:.3f} s" if first is not None else "never"
    per_row = growth.get("delivery", growth["database"]) / max(r["rows"], 1)
    lines = [
        f"audience benchmark, {args.database}, {args.readers:,} chats "
        f"({expected.topics:,} topics), seeded in {seed_s:.1f} s",
        f"expected audience {expected.rows:,} rows ({expected.labelled:,} keyword alerts)",
        f"ingestion {r['ingested_s'] * 1000:.0f} ms; first push after {first_text}; "
        f"enumerated after {r['enumerated_s']:.1f} s; broadcast {r['broadcast_s']:.1f} s"
        + (" (TIMED OUT)" if r["timed_out"] else ""),
        f"delivery rows {r['rows']:,} ({expected.rows - r['rows']:,} missing), labelled "
        f"{r['labelled']:,} (expected {expected.labelled:,}); sent {r['sent']:,}, held by "
        f"quiet hours {r['rows'] - r['sent']:,}; duplicates {r['duplicates']}",
        f"pushes/s {r['pushes_per_s']:.0f}; enumeration {r['enumeration_paced_rows_s']:,.0f} "
        f"rows/s paced, {r['enumeration_alone_rows_s']:,.0f} rows/s alone "
        f"({r['alone_rows']:,} rows, first step {r['alone_first_step_s'] * 1000:.0f} ms); "
        f"lowest due backlog while enumerating: {r['min_due_backlog']}",
        f"peak RSS {r['peak_rss_mb']:.0f} MB (before the story {r['rss_before_mb']:.0f} MB, "
        f"at the end {r['rss_end_mb']:.0f} MB; Python's own heap grew by "
        f"{r['python_blocks_added']:,} blocks)",
        "database growth for the broadcast: "
        + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in growth.items())
        + f" ({per_row:.0f} B/row)",
        f"compaction: {r['compacted']:,} finished rows in {r['compact_s']:.1f} s; kept "
        + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in r["kept_bytes"].items())
        + f" ({r['kept_bytes']['push_record'] / max(r['push_records'], 1):.0f} B a push "
        f"record, {r['push_records']:,} records)",
        f"/latest idle p50 {r['latest_idle_p50_ms']:.1f} ms; during the broadcast p50 "
        f"{r['latest_p50_ms']:.1f} ms, p95 {r['latest_p95_ms']:.1f} ms "
        f"({r['latest_samples']} calls)",
    ]
    verdicts = [
        ("first push < 1 s", first is not None and first < 1.0),
        ("peak RSS < 300 MB", r["peak_rss_mb"] < 300),
        ("/latest p95 < 300 ms", r["latest_p95_ms"] < 300),
        ("no duplicates", r["duplicates"] == 0),
        ("audience complete", r["rows"] == expected.rows),
    ]
    lines.append("; ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in verdicts))
    print("\n" + "\n  ".join(lines))


async def main(args: argparse.Namespace) -> None:
    folder = tempfile.mkdtemp(prefix="newsbot-audience-")
    admin = args.admin_url or os.environ.get("TEST_DATABASE_URL") or DEFAULT_ADMIN_URL
    if args.database == "sqlite":
        url = f"sqlite+aiosqlite:///{folder}/audience.db"
    else:
        url = await _create_postgres(admin)
    try:
        expected, seed_s, stories_s = await prepare(url, args)
        print(
            f"prepared: {args.stories} stories in {stories_s:.1f} s, "
            f"{args.readers:,} chats in {seed_s:.1f} s",
            flush=True,
        )
        command = [__file__, "--child", url, "--readers", str(args.readers)]
        process = await asyncio.create_subprocess_exec(
            sys.executable, *command, "--timeout", str(args.timeout), stdout=subprocess.PIPE
        )
        out, _ = await process.communicate()
        if process.returncode:
            raise SystemExit(f"the broadcast process failed ({process.returncode})")
        result = json.loads(out.decode().strip().splitlines()[-1])
        report(args, expected, seed_s, result)
    finally:
        if args.database == "postgres":
            await _drop_postgres(admin, url)
        shutil.rmtree(folder, ignore_errors=True)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readers", type=int, default=1_000_000)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--stories", type=int, default=2000, help="backlog for /latest")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--admin-url", default=None)
    parser.add_argument("--smoke", action="store_true", help="3,000 readers on SQLite")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.readers, args.stories, args.timeout = 3000, 200, 120.0
    return args


if __name__ == "__main__":
    arguments = parse()
    if arguments.child:
        figures = asyncio.run(child(arguments.child, arguments.readers, arguments.timeout))
        print(json.dumps(figures))
    else:
        asyncio.run(main(arguments))
