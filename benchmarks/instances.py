"""Several instances on one PostgreSQL database: fan-out rate with 1, 2 and 3, and failover.

Smoke run (CI; 2,000 readers, 1 and 3 instances, then the failover run; about 30-40 s)::

    python benchmarks/instances.py --smoke

Full run on a 2-core machine (20,000 readers; 1, 2 and 3 instances, then 3 with the leader
killed; about 3 minutes)::

    python benchmarks/instances.py [--readers 20000] [--instances 1,2,3] [--no-failover]

The issue's failover run, a million readers (about 20 s to seed; the broadcast itself takes
at least 1,000 s at 1,000/s, so only the failover run)::

    python benchmarks/instances.py --readers 1000000 --failover-only

The issue's third figure, ingestion and latest/search latency at 1,000,000 stories on
PostgreSQL, is ``benchmarks/storage_latency.py --stories 1000000 --database postgres``.

What it does:

1. Makes a fresh PostgreSQL database on the server of the tests (``TEST_DATABASE_URL``, else
   ``postgres@127.0.0.1:5432``; ``tests/auxil/databases.py``) with the real migrations, the
   outlet's backlog (one poll of a local feed server: a feed's first poll is backlog, so
   nothing is pushed) and S readers of all news: one made by ``storage.chats.touch_chat``
   + ``subscribe``, the model of the others: its ``chat`` and ``subscription`` rows are
   copied once per reader, only the chat id changed, with PostgreSQL's COPY (asyncpg's
   ``copy_records_to_table``; a million readers in about 20 s, where one by one 20,000 took
   about 100 s); one copy is read back and compared with the model. Each run gets a copy of
   the database (``CREATE DATABASE ... TEMPLATE``); all are dropped at the end.
2. Per run, the tests' fake Bot API runs in this process with Telegram's limits: 1,000/s for
   paid broadcasts (``allow_paid_broadcast``), 30/s for other sends, each a sliding
   one-second window. As in ``benchmarks/fanout.py`` the bots run in other processes, and the
   fake (``MeteredFakeBotApi`` from there) records each accepted push in O(1): this process
   watches those records by polling, not with ``wait_for`` predicates the fake would re-check
   on every request. The CPU table shows what the fake used.
3. Starts N real ``python -m bot run`` processes sharing the token, ``DATABASE_URL`` and
   ``FEEDS``, with ``POLL_INTERVAL=1``, ``SEND_RATE=1000``, ``PAID_BROADCAST=true`` and each
   its own ``METRICS_PORT``; waits until all answer ``/healthz`` and exactly one leads.
4. Publishes one new story on the outlet; the leader's next poll ingests it and broadcasts it.
   The run ends when every subscriber has it (then ``--settle`` seconds more, 2 by default,
   for late duplicates), when no push was accepted for ``--stall`` seconds, or at a hard
   timeout. Before the instances are stopped (SIGTERM), each one's ``/metrics`` tells how
   many pushes it sent (``newsbot_deliveries_total{result="sent"}``): only the leader sends,
   so the total rate is the leader's, however many instances run.
5. With ``--failover`` (the default; ``--failover-only`` runs nothing else), one more run
   with 3 instances: when 30 % of the readers have the story, the leader is frozen
   (SIGSTOP), the deliveries it had claimed but not recorded are counted (status
   ``sending``: in flight; only these may be pushed twice, as a new leader sends them
   again), and it gets SIGKILL a few milliseconds later. From the kill the benchmark times
   when another PostgreSQL session holds the leader's advisory lock (``pg_locks``, asked
   every 20 ms) and when a survivor's ``/healthz`` says ``"leader": true``. The first push
   accepted after the freeze is usually one of the dead leader's last requests (its
   "tail"); every push accepted after another instance holds the lock is the new leader's,
   and the push gap runs from the kill to the first of those. The gap is the failover plus
   one rate window (1 s): a new leader waits that long before its first send, as the dead
   one may have used up the current window (``PushFanout.start`` in ``jobs/registry.py``).
   Above 100,000 readers the fake keeps no copy of its pushes (``LeanFakeBotApi``: counts
   only, gigabytes otherwise) and a progress line is printed every minute.

Figures: accepted pushes per second from the first to the last one, and ÷1,000 (the issue's
target: ≥ 0.9); the most pushes accepted in any one-second window; 429s answered to pushes;
lost (readers without the story) and duplicated deliveries; pushes sent per instance; CPU
from publish to the last push, in cores: the machine, the fake, the leader(s), the standbys,
the PostgreSQL sessions of the run's database and everything else (a shared machine's other
work shows there, and explains a low rate); for the failover run, the in-flight count at the
kill, lock and /healthz failover, the first push after the freeze and the new leader's, the
rates before the kill and after the new leader resumed, the pushes accepted, duplicates
against the in-flight count (and any to a chat that was not in flight: there must be none),
the time from the publish to the last push, and the delivery rows by status at the end. It
prints figures and verdicts and never fails on them; it exits 1 when a run could not be
carried out (an instance did not start, no leader), so that the CI smoke run catches
breakage, and 2 without a PostgreSQL server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import platform
import shutil
import signal
import socket
import sys
import tempfile
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import asyncpg
from sqlalchemy.engine import make_url

from benchmarks.fanout import (
    TOKEN,
    MeteredFakeBotApi,
    Outlet,
    code_state,
    expected_user_ids,
    fmt,
    peak_in_window,
    print_table,
    verdict,
)
from bot.config import load_settings
from bot.services import open_services
from news.clock import utcnow
from storage.chats import subscribe, touch_chat
from storage.engine import writing
from storage.leader_lock import LEADER_LOCK_KEY
from tests.auxil.databases import (
    create_postgres_database,
    drop_postgres_database,
    postgres_admin_url,
    postgres_unavailable_reason,
)
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import rudaw_items
from tests.auxil.processes import bot_environment
from tests.fake_bot_api.models import StoredMessage

PAID_RATE = 1000  # Telegram's limit for paid broadcasts, and SEND_RATE
FREE_RATE = 30  # the limit on sends without allow_paid_broadcast
RATIO_TARGET = 0.9
FAILOVER_INSTANCES = 3
KILL_FRACTION = 0.3  # of the subscribers served when the leader is killed
HEALTH_INTERVAL = 0.02  # how often survivors' /healthz is asked after the kill
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0
SEED_BATCH = 50_000  # readers per COPY
PROGRESS_EVERY = 60.0  # seconds between progress lines of a large run
LEAN_ABOVE = 100_000  # readers: the fake keeps no copy of its pushes (LeanFakeBotApi)


# --- the database ----------------------------------------------------------------------------


def _dsn(url: str) -> str:
    """asyncpg's form of a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def seed_template(outlet: Outlet, subscriber_ids: Sequence[int]) -> str:
    """A fresh database with migrations, the outlet's backlog and the subscribers."""
    url = await create_postgres_database()
    outlet.reset()
    settings = load_settings(
        _env_file=None,
        feeds=outlet.url,
        database_url=url,
        poll_interval=3600,
        log_level="WARNING",
    )
    first, *others = subscriber_ids
    async with open_services(settings) as services:
        for feed in services.feeds:
            await services.poller.poll(feed.id)
        # The one reader made by the storage functions is the model for the bulk rows.
        async with writing(services.sessions) as session:
            await touch_chat(
                session, first, type="private", title=None, language="en", now=utcnow()
            )
            await subscribe(session, first, ["*"], utcnow())
    conn = await asyncpg.connect(_dsn(url))
    try:
        await copy_readers(conn, first, others)
    finally:
        await conn.close()
    return url


async def copy_readers(conn: asyncpg.Connection, model: int, chat_ids: Sequence[int]) -> None:
    """The model reader's chat and subscription rows, once per chat id, by COPY.

    Every column is copied from the model's rows (only the chat id differs; the
    subscription's own id comes from its sequence), so the bulk readers are what
    ``touch_chat`` + ``subscribe(["*"])`` would have made. Then one bulk reader is read back
    and compared with the model, and the counts checked.
    """
    rows = {
        "chat": await conn.fetch("SELECT * FROM chat WHERE id = $1", model),
        "subscription": await conn.fetch("SELECT * FROM subscription WHERE chat_id = $1", model),
    }
    key = {"chat": "id", "subscription": "chat_id"}
    for table, found in rows.items():
        if len(found) != 1:
            raise RuntimeError(f"the model reader has {len(found)} {table} rows, not 1")
    for table in ("chat", "subscription"):  # chats first: subscriptions refer to them
        model_row = rows[table][0]
        names = model_row.keys()  # a Record iterates over its values, not its names
        columns = [c for c in names if not (table == "subscription" and c == "id")]
        at = columns.index(key[table])
        template = [model_row[c] for c in columns]
        for start in range(0, len(chat_ids), SEED_BATCH):
            records = []
            for chat_id in chat_ids[start : start + SEED_BATCH]:
                record = template.copy()
                record[at] = chat_id
                records.append(record)
            await conn.copy_records_to_table(table, records=records, columns=columns)
        if chat_ids:
            copy = await conn.fetchrow(
                f"SELECT * FROM {table} WHERE {key[table]} = $1",
                chat_ids[-1],
            )
            assert copy is not None
            differ = [c for c in columns if c != key[table] and copy[c] != model_row[c]]
            if differ:
                raise RuntimeError(f"bulk {table} rows differ from the model in {differ}")
        count = await conn.fetchval(f"SELECT count(*) FROM {table}")
        if count != len(chat_ids) + 1:
            raise RuntimeError(f"{count} {table} rows for {len(chat_ids) + 1} readers")
    await conn.execute("ANALYZE chat; ANALYZE subscription")


# --- the fake --------------------------------------------------------------------------------


class LeanFakeBotApi(MeteredFakeBotApi):
    """The metered fake without a copy of each push: at a million readers the stored
    messages alone would take gigabytes. Counts stay (``wait_for_messages`` works); the
    messages themselves are not kept, so nothing can edit or reply to a push."""

    def _store(
        self,
        message: dict[str, Any],
        *,
        from_bot: bool,
        raw_text: str | None = None,
        parse_mode: str | None = None,
        silent: bool = False,
    ) -> StoredMessage:
        if not from_bot:
            return super()._store(
                message, from_bot=from_bot, raw_text=raw_text, parse_mode=parse_mode, silent=silent
            )
        self._live_sent[message["chat"]["id"]] += 1
        return StoredMessage(message, from_bot, raw_text, parse_mode, silent=silent)


# --- the instances ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(slots=True)
class Instance:
    """One ``python -m bot run`` process, its /healthz port and its log."""

    process: asyncio.subprocess.Process
    port: int
    log: Path

    @classmethod
    async def start(cls, env: dict[str, str], port: int, log: Path, workdir: Path) -> Instance:
        with log.open("wb") as out:  # the child keeps its own copy of the descriptor
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env={**env, "METRICS_PORT": str(port)},
                cwd=workdir,  # no .env of the repository leaks into the settings
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        return cls(process, port, log)

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
            return "\n  log: " + "\n  log: ".join(text) if text else ""
        return ""

    async def health(self, http: aiohttp.ClientSession) -> dict[str, object] | None:
        """/healthz's JSON (also when it answers 503), or None when nothing answers."""
        try:
            async with http.get(f"http://127.0.0.1:{self.port}/healthz") as response:
                return dict(await response.json())
        except (aiohttp.ClientError, ValueError, TimeoutError):
            return None

    async def pushes_sent(self, http: aiohttp.ClientSession) -> int | None:
        """``newsbot_deliveries_total{result="sent"}`` from its /metrics."""
        try:
            async with http.get(f"http://127.0.0.1:{self.port}/metrics") as response:
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError):
            return None
        for line in text.splitlines():
            if line.startswith('newsbot_deliveries_total{result="sent"}'):
                return int(float(line.rsplit(" ", 1)[1]))
        return 0  # the counter has no sample until the first push

    async def stop(self) -> int | None:
        """SIGTERM (sent by ``stop_all``), then kill after STOP_TIMEOUT: only this process."""
        try:
            await asyncio.wait_for(self.process.wait(), timeout=STOP_TIMEOUT)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        return self.process.returncode


async def stop_all(instances: Sequence[Instance]) -> list[int | None]:
    for instance in instances:
        if instance.alive:
            instance.process.send_signal(signal.SIGTERM)
    return list(await asyncio.gather(*(i.stop() for i in instances)))


async def wait_ready(http: aiohttp.ClientSession, instances: Sequence[Instance]) -> int:
    """Until every instance answers /healthz and exactly one leads; returns the leader."""
    async with asyncio.timeout(READY_TIMEOUT):
        while True:
            for index, instance in enumerate(instances):
                if not instance.alive:
                    raise RuntimeError(
                        f"instance {index} exited with {instance.process.returncode} before "
                        f"it was ready{instance.tail()}"
                    )
            healths = await asyncio.gather(*(i.health(http) for i in instances))
            if all(h is not None for h in healths):
                leaders = [i for i, h in enumerate(healths) if h and h.get("leader") is True]
                if len(leaders) == 1:
                    return leaders[0]
            await asyncio.sleep(0.1)


async def next_leader(
    http: aiohttp.ClientSession, instances: Sequence[Instance], exclude: int
) -> tuple[int, float]:
    """The first survivor whose /healthz says it leads, and when that was seen."""
    survivors = [(n, i) for n, i in enumerate(instances) if n != exclude]
    async with asyncio.timeout(30):
        while True:
            healths = await asyncio.gather(*(i.health(http) for _, i in survivors))
            seen = time.monotonic()
            for (index, _), health in zip(survivors, healths, strict=True):
                if health is not None and health.get("leader") is True:
                    return index, seen
            await asyncio.sleep(HEALTH_INTERVAL)


# --- where the CPU goes ----------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a live process (Linux /proc), None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The fields after the command name, which is in parentheses and may hold spaces:
    # state is the first of them, utime and stime the 12th and 13th.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_cpu() -> float:
    """CPU seconds all cores spent busy since boot (user, nice, system, irq, softirq)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = values
    return (user + nice + system + irq + softirq) / CLOCK_TICKS


class CpuMeter:
    """CPU seconds between the first and the last snapshot: the machine, this process (the
    fake), each instance and the PostgreSQL backends serving the run's database.

    The machine is shared: what is left over ("others") includes PostgreSQL's background
    processes and whatever else runs there, which is why it is printed.
    """

    def __init__(self, database: str) -> None:
        self._database = database
        self._first: dict[tuple[str, int], float] = {}
        self._last: dict[tuple[str, int], float] = {}
        self.started = self.stopped = 0.0

    async def snapshot(self, instances: Sequence[Instance], *, first: bool = False) -> None:
        now = time.monotonic()
        if first:
            self.started = now
        self.stopped = now
        values: dict[tuple[str, int], float | None] = {
            ("machine", 0): machine_cpu(),
            ("bench", 0): time.process_time(),
        }
        for n, instance in enumerate(instances):
            values[("instance", n)] = process_cpu(instance.process.pid)
        for pid in await self._backends():
            values[("postgres", pid)] = process_cpu(pid)
        for key, value in values.items():
            if value is None:
                continue
            if first:
                self._first[key] = value
            # A backend born after the first snapshot used all its CPU within the window.
            self._first.setdefault(key, 0.0)
            self._last[key] = value

    async def _backends(self) -> list[int]:
        """Process ids of the server's sessions on the run's database (a local server)."""
        if make_url(postgres_admin_url()).host not in (None, "", "127.0.0.1", "localhost", "::1"):
            return []  # another machine's process ids mean nothing here
        try:
            conn = await asyncpg.connect(_dsn(postgres_admin_url()), timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return []
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1", self._database
            )
        finally:
            await conn.close()
        return [int(row["pid"]) for row in rows]

    def used(self, kind: str, index: int | None = None) -> float:
        """CPU seconds of one kind ("machine", "bench", "instance", "postgres") in the window."""
        return sum(
            self._last[key] - self._first[key]
            for key in self._last
            if key[0] == kind and (index is None or key[1] == index)
        )

    def cores(self, seconds: float) -> float:
        return seconds / max(self.stopped - self.started, 1e-3)


# --- runs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    instances: int
    failover: bool = False

    @property
    def label(self) -> str:
        plural = "s" if self.instances > 1 else ""
        return f"{self.instances} instance{plural}" + (", leader killed" if self.failover else "")

    @property
    def slug(self) -> str:
        return f"{self.instances}{'-failover' if self.failover else ''}"


@dataclass(slots=True)
class Result:
    plan: Plan
    subscribers: int
    ending: str = "not run"  # complete, stalled, timed out, failed
    error: str | None = None
    ready_seconds: float | None = None
    stop_seconds: float | None = None  # SIGTERM → every instance exited
    leader: int | None = None
    publish: float = 0.0
    times: list[float] = field(default_factory=list)  # accepted pushes, sorted
    lost: int = 0
    duplicates: int = 0
    unexpected: int = 0
    push_429: int = 0
    peak_window: int = 0
    cpu: CpuMeter | None = None  # publish → the end of the broadcast
    sent_by: list[int | None] = field(default_factory=list)
    exit_codes: list[int | None] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)  # delivery rows at the end
    # The failover run only.
    stopped_at: float | None = None  # the leader frozen (SIGSTOP), its in-flight rows read
    killed_at: float | None = None  # then SIGKILL
    killed_after: int = 0  # subscribers with the story when the leader was frozen
    in_flight: int = 0  # its deliveries claimed but not recorded (status "sending") then
    in_flight_chats: set[int] = field(default_factory=set)
    dup_outside: int = 0  # duplicates to chats that were not in flight (must be 0)
    successor: int | None = None
    failover: float | None = None  # kill → a survivor's /healthz says leader
    lock_failover: float | None = None  # kill → another session holds the lock (pg_locks)
    first_after: float | None = None  # the first push accepted after the freeze, any sender
    resume: float | None = None  # the first accepted push after the new leader took over
    tail: int = 0  # pushes accepted from the freeze until the new leader took over

    @property
    def pushes(self) -> int:
        return len(self.times)

    @property
    def leaders(self) -> list[int]:
        return [n for n in (self.leader, self.successor) if n is not None]

    def cores(self, kind: str) -> float | None:
        """Cores used by "machine", "bench", "leader", "standby", "postgres" or "others"."""
        cpu = self.cpu
        if cpu is None or not cpu.stopped > cpu.started:
            return None
        if kind == "leader":
            return cpu.cores(sum(cpu.used("instance", n) for n in self.leaders))
        if kind == "standby":
            return cpu.cores(
                cpu.used("instance") - sum(cpu.used("instance", n) for n in self.leaders)
            )
        if kind == "others":
            ours = sum(cpu.used(k) for k in ("bench", "instance", "postgres"))
            return cpu.cores(cpu.used("machine") - ours)
        return cpu.cores(cpu.used(kind))

    @property
    def leader_ms_per_push(self) -> float | None:
        if self.cpu is None or not self.times:
            return None
        return sum(self.cpu.used("instance", n) for n in self.leaders) / self.pushes * 1000

    @property
    def rate(self) -> float:
        return rate_of(self.times)

    @property
    def gap(self) -> float | None:
        if self.resume is None or self.killed_at is None:
            return None
        return self.resume - self.killed_at

    @property
    def rate_before_kill(self) -> float | None:
        if self.stopped_at is None:
            return None
        return rate_of(self.times[: bisect_right(self.times, self.stopped_at)])

    @property
    def rate_after_resume(self) -> float | None:
        if self.resume is None:
            return None
        return rate_of(self.times[bisect_right(self.times, self.resume) - 1 :])

    @property
    def finish(self) -> float | None:
        """Publish → the last accepted push."""
        return self.times[-1] - self.publish if self.times else None


def rate_of(times: Sequence[float]) -> float:
    """Events per second from the first to the last one (sorted times)."""
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def hard_timeout(subscribers: int) -> float:
    # Start-up plus five times the broadcast at the limit: a slow bot still finishes, a
    # stuck one does not.
    return 5.0 * subscribers / PAID_RATE + 60.0


async def watch(api: MeteredFakeBotApi, subscribers: int, started: float, stall: float) -> str:
    """Until every subscriber has a message, the pushes stall, or the hard timeout."""
    deadline = started + hard_timeout(subscribers)
    while True:
        # Polled, not api.wait_for: a predicate would be checked on each of the fake's requests.
        await asyncio.sleep(0.1)
        if len(api.delivered) >= subscribers:
            return "complete"
        now = time.monotonic()
        last = api.accepted[-1][1] if api.accepted else started
        if now - last > stall:
            return "stalled"
        if now > deadline:
            return "timed out"


async def progress(api: MeteredFakeBotApi, subscribers: int, started: float) -> None:
    """A line every PROGRESS_EVERY seconds of a long broadcast: readers served, the rate."""
    before, then = 0, started
    while True:
        await asyncio.sleep(PROGRESS_EVERY)
        served, now = len(api.delivered), time.monotonic()
        print(
            f"  {now - started:6.0f} s: {served} of {subscribers} readers have it "
            f"({(served - before) / (now - then):.0f}/s over the last {now - then:.0f} s)",
            flush=True,
        )
        before, then = served, now


async def lock_holders(admin: asyncpg.Connection, database: str) -> list[int]:
    """Backend pids holding the leader's advisory lock on ``database`` (pg_locks)."""
    rows = await admin.fetch(
        "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = $1 "
        "AND l.classid = $2 AND l.objid = $3 AND l.objsubid = 1",
        database,
        (LEADER_LOCK_KEY >> 32) & 0xFFFFFFFF,
        LEADER_LOCK_KEY & 0xFFFFFFFF,
    )
    return [int(row["pid"]) for row in rows]


async def next_lock_holder(
    admin: asyncpg.Connection, database: str, exclude: Sequence[int]
) -> float | None:
    """When a backend other than ``exclude`` was first seen holding the leader's lock."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(30):
            while True:
                holders = await lock_holders(admin, database)
                seen = time.monotonic()
                if any(pid not in exclude for pid in holders):
                    return seen
                await asyncio.sleep(HEALTH_INTERVAL)
    return None


async def kill_leader(
    api: MeteredFakeBotApi,
    http: aiohttp.ClientSession,
    instances: Sequence[Instance],
    result: Result,
    database_url: str,
) -> None:
    """SIGKILL the leader when KILL_FRACTION of the subscribers have the story; time failover.

    The leader is frozen (SIGSTOP) a moment before the SIGKILL, long enough to read which
    deliveries it had claimed but not recorded (status ``sending``): those, and only those,
    may be pushed twice. Its open transactions stay open until the SIGKILL ends them.
    """
    assert result.leader is not None
    leader = instances[result.leader]
    database = str(make_url(database_url).database)
    wanted = max(1, int(result.subscribers * KILL_FRACTION))
    conn = await asyncpg.connect(_dsn(database_url))
    admin = await asyncpg.connect(_dsn(postgres_admin_url()))
    try:
        holders = await lock_holders(admin, database)
        # O(1) predicate: cheap enough to check on each request for the first 30 %.
        await api.wait_for(
            lambda: len(api.delivered) >= wanted, timeout=hard_timeout(result.subscribers)
        )
        if result.cpu is not None:  # the leader's last figures, and its backends' (they end too)
            await result.cpu.snapshot(instances)
        leader.process.send_signal(signal.SIGSTOP)
        result.stopped_at = time.monotonic()
        result.killed_after = len(api.delivered)
        rows = await conn.fetch("SELECT chat_id FROM delivery WHERE status = 'sending'")
        result.in_flight = len(rows)
        result.in_flight_chats = {int(row["chat_id"]) for row in rows}
        leader.process.send_signal(signal.SIGKILL)
        result.killed_at = time.monotonic()
        health, locked = await asyncio.gather(
            next_leader(http, instances, exclude=result.leader),
            next_lock_holder(admin, database, holders),
        )
        result.successor, seen = health
        result.failover = seen - result.killed_at
        result.lock_failover = None if locked is None else locked - result.killed_at
    finally:
        await conn.close()
        await admin.close()


async def delivery_statuses(database_url: str) -> dict[str, int]:
    """The run's delivery rows by status, at the end."""
    conn = await asyncpg.connect(_dsn(database_url))
    try:
        rows = await conn.fetch("SELECT status, count(*) AS n FROM delivery GROUP BY status")
    finally:
        await conn.close()
    return {str(row["status"]): int(row["n"]) for row in rows}


async def run_plan(
    plan: Plan,
    args: argparse.Namespace,
    outlet: Outlet,
    template_url: str,
    subscriber_ids: list[int],
    workdir: Path,
) -> Result:
    result = Result(plan, args.subscribers)
    database_url = await create_postgres_database(template=make_url(template_url).database)
    try:
        fake = LeanFakeBotApi if args.subscribers > LEAN_ABOVE else MeteredFakeBotApi
        api = fake(token=TOKEN, global_rate=FREE_RATE, paid_rate=PAID_RATE, meter_replies=True)
        async with api, aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            users = [api.add_user(f"Reader {n}") for n in range(args.subscribers)]
            if [u.id for u in users] != subscriber_ids:
                raise RuntimeError("the fake numbered its users differently from the template")
            del users
            gc.collect()
            gc.freeze()  # a million users: full collections would pause the fake for seconds
            outlet.reset()
            env = bot_environment(api, outlet.url, database_url)
            env.update(
                SEND_RATE=str(PAID_RATE),
                PAID_BROADCAST="true",
                LOG_LEVEL="WARNING",
            )
            instances: list[Instance] = []
            try:
                started = time.monotonic()
                for n in range(plan.instances):
                    log = workdir / f"{plan.slug}-{n}.log"
                    result.logs.append(log)
                    instances.append(await Instance.start(env, free_port(), log, workdir))
                result.leader = await wait_ready(http, instances)
                result.ready_seconds = time.monotonic() - started
                result.cpu = CpuMeter(str(make_url(database_url).database))
                await result.cpu.snapshot(instances, first=True)
                outlet.publish()
                result.publish = time.monotonic()
                reporting = asyncio.create_task(
                    progress(api, args.subscribers, result.publish)
                    if args.subscribers > LEAN_ABOVE
                    else asyncio.sleep(0)
                )
                try:
                    if plan.failover:
                        await kill_leader(api, http, instances, result, database_url)
                    result.ending = await watch(api, args.subscribers, result.publish, args.stall)
                finally:
                    reporting.cancel()
                await result.cpu.snapshot(instances)
                if result.ending == "complete":
                    await asyncio.sleep(args.settle)
                result.sent_by = list(
                    await asyncio.gather(
                        *(i.pushes_sent(http) if i.alive else _none() for i in instances)
                    )
                )
            except (RuntimeError, TimeoutError) as exc:
                result.ending = "failed"
                result.error = f"{type(exc).__name__}: {exc}"
            finally:
                stopping = time.monotonic()
                result.exit_codes = await stop_all(instances)
                result.stop_seconds = time.monotonic() - stopping
            summarise(result, api, subscriber_ids)
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                result.statuses = await delivery_statuses(database_url)
    finally:
        await drop_postgres_database(database_url)
    return result


async def _none() -> None:
    return None


def summarise(result: Result, api: MeteredFakeBotApi, subscriber_ids: list[int]) -> None:
    result.times = sorted(t for _, t in api.accepted)
    counts = Counter(chat for chat, _ in api.accepted)
    wanted = set(subscriber_ids)
    result.lost = sum(1 for chat in subscriber_ids if not counts[chat])
    result.duplicates = sum(n - 1 for chat, n in counts.items() if chat in wanted and n > 1)
    result.unexpected = sum(n for chat, n in counts.items() if chat not in wanted)
    result.push_429 = api.push_429
    result.peak_window = peak_in_window(result.times)
    if result.stopped_at is not None and result.killed_at is not None:
        frozen = bisect_right(result.times, result.stopped_at)
        if frozen < len(result.times):
            result.first_after = result.times[frozen]
        # The dead leader's last requests are answered within milliseconds of the freeze;
        # from the moment another instance holds the lock, every push is the new leader's.
        took = [
            result.killed_at + t for t in (result.failover, result.lock_failover) if t is not None
        ]
        if took:
            index = bisect_right(result.times, min(took))
            result.tail = index - frozen
            if index < len(result.times):
                result.resume = result.times[index]
        result.dup_outside = sum(
            n - 1
            for chat, n in counts.items()
            if n > 1 and chat in wanted and chat not in result.in_flight_chats
        )


# --- report ----------------------------------------------------------------------------------


def _sent_by(result: Result) -> str:
    killed = result.leader if result.killed_at is not None else None
    return "/".join(
        "killed" if n == killed else ("?" if sent is None else str(sent))
        for n, sent in enumerate(result.sent_by)
    )


def report(results: Sequence[Result]) -> None:
    print()
    print_table(
        [
            "run",
            "S",
            "ready s",
            "start s",
            "span s",
            "msgs/s",
            f"÷{PAID_RATE}",
            "peak/1s",
            "429s",
            "lost",
            "dup",
            "sent by instance",
            "stop s",
        ],
        [
            [
                r.plan.label,
                str(r.subscribers),
                fmt(r.ready_seconds, ".1f"),
                fmt(r.times[0] - r.publish if r.times else None, ".2f"),
                fmt(r.times[-1] - r.times[0] if r.times else None, ".1f"),
                fmt(r.rate, ".1f"),
                fmt(r.rate / PAID_RATE, ".3f"),
                str(r.peak_window),
                str(r.push_429),
                str(r.lost),
                str(r.duplicates),
                _sent_by(r) or "-",
                fmt(r.stop_seconds, ".1f"),
            ]
            for r in results
        ],
    )
    print()
    print(f"CPU from publish to the end of the broadcast, in cores (of {os.cpu_count()}):")
    kinds = ("machine", "bench", "leader", "standby", "postgres", "others")
    print_table(
        [
            "run",
            "machine",
            "fake (bench)",
            "leader",
            "standbys",
            "PostgreSQL",
            "others",
            "leader ms/push",
        ],
        [
            [
                r.plan.label,
                *(fmt(r.cores(kind), ".2f") for kind in kinds),
                fmt(r.leader_ms_per_push, ".2f"),
            ]
            for r in results
        ],
    )
    failovers = [r for r in results if r.plan.failover]
    if failovers:
        print()
        print_table(
            [
                "run",
                "killed after",
                "in flight",
                "lock s",
                "healthz s",
                "1st push s",
                "push gap s",
                "tail",
                "msgs/s before",
                "msgs/s after",
                "accepted",
                "lost",
                "dup",
                "finish s",
            ],
            [
                [
                    r.plan.label,
                    f"{r.killed_after} ({r.killed_after / r.subscribers:.0%})",
                    str(r.in_flight),
                    fmt(r.lock_failover, ".2f"),
                    fmt(r.failover, ".2f"),
                    fmt(_since_freeze(r, r.first_after), ".3f"),
                    fmt(r.gap, ".2f"),
                    str(r.tail),
                    fmt(r.rate_before_kill, ".1f"),
                    fmt(r.rate_after_resume, ".1f"),
                    str(r.pushes),
                    str(r.lost),
                    str(r.duplicates),
                    fmt(r.finish, ".1f"),
                ]
                for r in failovers
            ],
        )
    print()
    for r in results:
        verdicts(r)


def _since_kill(r: Result, moment: float | None) -> float | None:
    if moment is None or r.killed_at is None:
        return None
    return moment - r.killed_at


def _since_freeze(r: Result, moment: float | None) -> float | None:
    if moment is None or r.stopped_at is None:
        return None
    return moment - r.stopped_at


def _stop_to_kill_ms(r: Result) -> float | None:
    if r.stopped_at is None or r.killed_at is None:
        return None
    return (r.killed_at - r.stopped_at) * 1000


def verdicts(r: Result) -> None:
    print(f"{r.plan.label} (S={r.subscribers}, R={PAID_RATE}/s): {r.ending}")
    if r.error:
        print(f"  error: {r.error}")
    if r.ending != "complete":
        print(f"  logs: {', '.join(str(p) for p in r.logs)}")
    if r.plan.failover:
        print(
            f"  leader {r.leader} frozen after {r.killed_after} readers had the story, with "
            f"{r.in_flight} deliveries claimed but not recorded, and killed "
            f"{fmt(_stop_to_kill_ms(r), '.0f')} ms later; another session held the lock "
            f"{fmt(r.lock_failover, '.2f')} s after the kill, instance {r.successor} said it led "
            f"after {fmt(r.failover, '.2f')} s; the first push after the freeze was accepted "
            f"{fmt(_since_freeze(r, r.first_after), '.3f')} s after it ({r.tail} pushes of "
            f"the dead leader's requests before the new leader took over), the new leader's "
            f"first {fmt(r.gap, '.2f')} s after it; the last push {fmt(r.finish, '.1f')} s "
            f"after the publish, {fmt(_since_kill(r, r.times[-1] if r.times else None), '.1f')} s "
            "after the kill"
        )
        bound = r.duplicates <= r.in_flight and r.dup_outside == 0
        print(
            f"  dup      {r.duplicates:<27} {verdict(bound)} (≤ {r.in_flight} in flight, "
            f"{r.dup_outside} to chats not in flight)"
        )
        after = r.rate_after_resume or 0.0
        print(
            f"  rate     {after / PAID_RATE:.3f} of R after the failover{'':<2} "
            f"{verdict(after / PAID_RATE >= RATIO_TARGET)} (≥ {RATIO_TARGET})"
        )
    else:
        ratio = r.rate / PAID_RATE
        ok = verdict(ratio >= RATIO_TARGET)
        print(f"  rate     {ratio:.3f} of R{'':<18} {ok} (≥ {RATIO_TARGET})")
        print(f"  dup      {r.duplicates:<27} {verdict(r.duplicates == 0)} (0)")
    print(f"  429s     {r.push_429:<27} {verdict(r.push_429 == 0)} (0)")
    print(f"  lost     {r.lost:<27} {verdict(r.lost == 0)} (0)")
    if r.statuses:
        rows = ", ".join(f"{n} {status}" for status, n in sorted(r.statuses.items()))
        print(f"  delivery rows at the end: {rows}")
    senders = [n for n, sent in enumerate(r.sent_by) if sent]
    if not r.plan.failover and len(senders) > 1:
        print(f"  note: {len(senders)} instances sent pushes ({_sent_by(r)})")
    if r.unexpected:
        print(f"  note: {r.unexpected} pushes went to chats that are not subscribers")
    troubled = [
        n
        for n, code in enumerate(r.exit_codes)
        if code != 0 and not (r.plan.failover and n == r.leader)
    ]
    if troubled:
        print(f"  note: exit codes {r.exit_codes}; logs: {[str(r.logs[n]) for n in troubled]}")
    bench, others = r.cores("bench"), r.cores("others")
    if bench is not None and bench > 0.85:
        print(f"  note: the fake's process used {bench:.2f} of a core: it may be what limits")
    if others is not None and others > 0.25:
        print(f"  note: other processes used {others:.2f} cores during the broadcast")
    print()


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument(
        "--readers",
        "--subscribers",
        dest="subscribers",
        metavar="N",
        type=int,
        default=20_000,
        help="S, readers of every story (20000; 1000000 with --failover-only is the issue's run)",
    )
    parser.add_argument(
        "--instances", default="1,2,3", help="comma-separated instance counts (default 1,2,3)"
    )
    parser.add_argument(
        "--failover",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"one more run with {FAILOVER_INSTANCES} instances, the leader killed (default on)",
    )
    parser.add_argument(
        "--failover-only",
        action="store_true",
        help=f"only the failover run ({FAILOVER_INSTANCES} instances, the leader killed)",
    )
    parser.add_argument("--stall", type=float, default=30.0, help="seconds without a push")
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds after the last push for late duplicates"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="CI: 2000 readers, instances 1,3, failover, 1 s settle",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.subscribers, args.instances, args.failover, args.settle = 2000, "1,3", True, 1.0
    args.counts = [int(v) for v in str(args.instances).split(",") if v.strip()]
    if args.failover_only:
        args.counts, args.failover = [], True
    if args.subscribers < 10 or any(n < 1 for n in args.counts):
        parser.error("need at least 10 subscribers and 1 instance per run")
    return args


async def main_async(args: argparse.Namespace) -> int:
    reason = await postgres_unavailable_reason()
    if reason:
        print(f"{reason}; set TEST_DATABASE_URL to a PostgreSQL server", file=sys.stderr)
        return 2
    plans = [Plan(n) for n in args.counts]
    if args.failover:
        plans.append(Plan(FAILOVER_INSTANCES, failover=True))
    workdir = Path(tempfile.mkdtemp(prefix="newsbot-instances-"))
    print(
        f"instances benchmark on PostgreSQL: S={args.subscribers}, paid R={PAID_RATE}/s "
        f"(unpaid {FREE_RATE}/s), runs: {', '.join(p.label for p in plans)}"
    )
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, temp {workdir}"
    )
    print(f"code: {code_state()}; server: {make_url(postgres_admin_url()).render_as_string()}")
    begun = time.monotonic()
    outlet = Outlet(await FeedServer().start(), rudaw_items(30))
    results: list[Result] = []
    template_url: str | None = None
    try:
        subscriber_ids = expected_user_ids(args.subscribers)
        seeding = time.monotonic()
        template_url = await seed_template(outlet, subscriber_ids)
        print(f"database seeded in {time.monotonic() - seeding:.1f} s", flush=True)
        for plan in plans:
            print(f"running {plan.label} ...", flush=True)
            result = await run_plan(plan, args, outlet, template_url, subscriber_ids, workdir)
            results.append(result)
            print(
                f"  {result.ending}: {result.pushes} pushes, {result.rate:.1f}/s, "
                f"{result.push_429} 429s, lost {result.lost}, dup {result.duplicates}"
                + (f", failover {fmt(result.failover, '.2f')} s" if plan.failover else ""),
                flush=True,
            )
    finally:
        await outlet.server.stop()
        if template_url is not None:
            await drop_postgres_database(template_url)
        if results:
            report(results)
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"total {time.monotonic() - begun:.0f} s")
        failed = [r for r in results if r.ending != "complete"]
        if args.keep or failed or len(results) < len(plans):
            print(f"kept {workdir} (instance logs)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if any(r.ending == "failed" for r in results) else 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
