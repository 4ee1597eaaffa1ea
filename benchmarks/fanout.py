"""Fan-out: newsbot's push pipeline against a plain PTB loop, on a fake Bot API that enforces R.

Smoke run (CI; about 15 s, newsbot only)::

    python benchmarks/fanout.py --smoke

Full runs on a 2-core machine (each scenario at R=30 takes about N/SEND_RATE seconds, the
naive one longer; preparing 20,000 subscribers takes a minute or so)::

    python benchmarks/fanout.py --subscribers 2000 --rate 30                     # ~7 min
    python benchmarks/fanout.py --subscribers 20000 --rate 30 --approach newsbot  # ~27 min
    python benchmarks/fanout.py --subscribers 20000 --rate 1000 --paid           # ~3 min
    python benchmarks/fanout.py --subscribers 2000 --rate 30 --approach newsbot --images

``--images`` gives the new story a picture: newsbot pushes it as a photo, which the fake's
Telegram fetches by URL (taking ``--image-fetch-delay`` seconds) once, the other sends
carrying the file id it answered with; the figures then say how many photos went and how
many were fetched.

What it does, per scenario (approach × SEND_RATE):

1. A SQLite database is prepared once per run with the real migrations, the outlet's backlog
   (one poll of a local feed server) and N subscribers to all news, created with
   ``storage.chats.touch_chat`` + ``subscribe`` as the end-to-end tests do; each scenario
   gets a fresh copy of it.
2. The tests' fake Bot API (``tests.fake_bot_api.FakeBotApi``) runs in this process on
   127.0.0.1 and enforces R as a sliding one-second window (``global_rate=R``; with
   ``--paid``, ``paid_rate=R`` for sends with ``allow_paid_broadcast`` and ``--free-rate``
   for the others). It knows the N subscribers as users and records when it accepts each
   send.
3. The bot side runs in its own process (``benchmarks/fanout_bot.py``), so its peak RSS
   (``VmHWM``) and CPU time (``time.process_time`` from publish to stop) are its own:

   * ``newsbot``: the real application, ``bot.app.running(settings)``, with
     ``DATABASE_URL`` on the copy, ``SEND_RATE`` and ``PAID_BROADCAST`` as given. The
     benchmark adds a story to the outlet's feed and has the bot poll it: ingestion hands the
     new story to the Broadcaster, as in production.
   * ``naive``: what a PTB user would write: an Application with
     ``AIORateLimiter(overall_max_rate=SEND_RATE, max_retries=--naive-retries)``, a trivial
     /latest handler reading the same database, and a loop of ``bot.send_message`` over the
     subscribers (the same rendered text and buttons as newsbot's push), errors caught,
     counted and skipped.
4. Before the broadcast each of the probe users sends /latest once (warm-up; the "idle"
   latency). During it, one probe user sends /latest every ``--probe-interval`` seconds
   through the fake (an Update the bot gets by long polling) and the time until the bot's
   reply reaches the fake is recorded. Only probes sent between the first and the last
   accepted push count as "during".
5. The scenario ends when every subscriber has a message (then 2 s more, to catch late
   duplicates), when no push was accepted for ``--stall`` seconds, or at the hard timeout.

Figures: accepted pushes per second from the first to the last one, ÷R and ÷SEND_RATE; 429s
answered to pushes; lost (subscribers without a message) and duplicated deliveries; the most
pushes accepted in any one-second window; the bot process's peak RSS and CPU seconds per
1,000 pushes; /latest p50/p95 during the broadcast; the fake's own CPU share (near 100 % means
the fake, not the bot, limited the rate). It prints figures and verdicts, and never fails on
them.

Replies are not bulk notifications: Telegram takes answers to readers' own messages far above
30/s (issue 4), while the fake meters every sendMessage. So the probe chats are left out of
the fake's window; ``--meter-replies`` puts them back (the fake's own behaviour), and their
429s are then counted apart.

Where the time goes: ``--py-spy HZ`` samples the bot process with py-spy (a dev tool, not a
dependency: ``pip install py-spy``) during the broadcast and prints busy samples per thread
kind and per function, own and inclusive; ``--profile`` runs cProfile in the bot process
instead (it slows the bot down, and counts each resumption of a coroutine as a call). The
"bot counters" column shows the Broadcaster's own counters and ``db_connects``, the database
connections the bot opened during the run (on SQLite each one is a new aiosqlite thread).

The naive approach needs aiolimiter (``pip install "python-telegram-bot[rate-limiter]"``);
``--smoke`` runs newsbot only and does not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import platform
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import load_settings
from bot.services import open_services
from news.clock import utcnow
from storage.chats import subscribe, touch_chat
from storage.deliveries import delivery_counts
from storage.engine import create_engine, create_session_factory, writing
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import Item, rss, rudaw_items
from tests.fake_bot_api import ApiError, FakeBotApi, FakeUser
from tests.fake_bot_api.models import FakeChat

BOT_SCRIPT = Path(__file__).resolve().with_name("fanout_bot.py")
TOKEN = "123456:BENCH-TOKEN"
FEED_PATH = "/english/rss"
PROBE_USERS = 20
PROBE_TIMEOUT = 10.0
SETTLE_SECONDS = 2.0
RATIO_TARGET = 0.95
LATEST_P95_TARGET_MS = 300.0
SUBSCRIBE_BATCH = 500

Params = dict[str, Any]


# --- the fake Bot API, recording what it accepts -------------------------------------------


class MeteredFakeBotApi(FakeBotApi):
    """The tests' fake, recording each accepted send and telling pushes from probe replies."""

    def __init__(self, *, meter_replies: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.meter_replies = meter_replies
        self.probe_chats: set[int] = set()
        self.accepted: list[tuple[int, float]] = []  # (chat id, monotonic time) of pushes
        self.delivered: set[int] = set()
        self.push_429 = 0
        self.reply_429 = 0

    def _check_flood(self, chat: FakeChat, params: Params, *, new_message: bool = True) -> None:
        probe = chat.id in self.probe_chats
        if probe and not self.meter_replies:
            return  # an answer to a reader's command: not a bulk notification
        try:
            super()._check_flood(chat, params, new_message=new_message)
        except ApiError as exc:
            if exc.status == 429:
                if probe:
                    self.reply_429 += 1
                else:
                    self.push_429 += 1
            raise
        if not probe:
            self.accepted.append((chat.id, time.monotonic()))
            self.delivered.add(chat.id)


def expected_user_ids(count: int) -> list[int]:
    """The ids a fresh fake gives its first ``count`` users (it numbers them in order)."""
    fake = FakeBotApi(token=TOKEN)
    return [fake.add_user().id for _ in range(count)]


# --- the outlet and the prepared database --------------------------------------------------


@dataclass(slots=True)
class Outlet:
    """The local feed server, its fixed backlog, and fresh stories to publish."""

    server: FeedServer
    backlog: list[Item]
    published: int = 0
    images: bool = False  # each new story has a picture (--images)
    image: str | None = None  # the picture of the story published last

    @property
    def url(self) -> str:
        return self.server.url(FEED_PATH)

    def reset(self) -> None:
        """Serve only the backlog (byte for byte what the template's poll saw)."""
        self.server.serve(FEED_PATH, rss(self.backlog))

    def publish(self) -> str:
        """Add one new story on top of the backlog; returns its title."""
        self.published += 1
        n = self.published
        title = f"Erbil and Baghdad sign oil export deal, round {n} ({uuid.uuid4().hex[:6]})"
        self.image = (
            f"https://www.rudaw.net/images/bench-{uuid.uuid4().hex}.jpg" if self.images else None
        )
        item = Item(
            title=title,
            link=f"https://www.rudaw.net/english/kurdistan/bench-{uuid.uuid4().hex}",
            guid=f"bench-{uuid.uuid4().hex}",
            description=(
                "ERBIL, Kurdistan Region - Baghdad and Erbil reached a deal on Tuesday to "
                "restart oil exports through Ceyhan halted for more than two years, officials "
                "from both governments said after talks in the Iraqi capital."
            ),
            categories=["Kurdistan"],
            published=datetime.now(UTC) - timedelta(minutes=1),
            image=self.image,
        )
        self.server.serve(FEED_PATH, rss([item, *self.backlog]))
        return title


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def build_template(path: Path, outlet: Outlet, subscriber_ids: Sequence[int]) -> float:
    """Migrations, the outlet's backlog and the subscribers; returns the seconds it took."""
    started = time.monotonic()
    outlet.reset()
    settings = load_settings(
        _env_file=None,
        feeds=outlet.url,
        database_url=sqlite_url(path),
        poll_interval=3600,
        log_level="WARNING",
    )
    async with open_services(settings) as services:
        for feed in services.feeds:
            await services.poller.poll(feed.id)
        now = utcnow()
        for start in range(0, len(subscriber_ids), SUBSCRIBE_BATCH):
            async with writing(services.sessions) as session:
                for chat_id in subscriber_ids[start : start + SUBSCRIBE_BATCH]:
                    await touch_chat(
                        session, chat_id, type="private", title=None, language="en", now=now
                    )
                    await subscribe(session, chat_id, ["*"], now)
    return time.monotonic() - started


def copy_database(template: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{template}{suffix}")
        if source.exists():
            shutil.copyfile(source, f"{target}{suffix}")


async def recorded_deliveries(path: Path) -> dict[str, int]:
    """Push deliveries by status in a scenario's database, after the bot stopped."""
    engine = create_engine(sqlite_url(path))
    try:
        async with create_session_factory(engine)() as session:
            return await delivery_counts(session)
    finally:
        await engine.dispose()


# --- the bot process -------------------------------------------------------------------------


class BotProcess:
    """``benchmarks/fanout_bot.py`` in a subprocess, driven over JSON lines."""

    def __init__(self, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    @classmethod
    async def start(cls, config: dict[str, Any], workdir: Path, log_path: Path) -> BotProcess:
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(BOT_SCRIPT),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                cwd=workdir,  # no .env of the repository leaks into the settings
            )
        child = cls(process, log_path)
        await child.send(config)
        return child

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        await self.process.stdin.drain()

    async def expect(self, event: str, timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
        """Wait for ``event``; raise with the log's tail on an error, an exit or a timeout."""
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    raise RuntimeError(f"the bot process exited before {event!r}{self.tail()}")
                message: dict[str, Any] = json.loads(line)
                if message.get("event") == "error":
                    raise RuntimeError(
                        f"the bot process failed: {message['message']}{self.tail()}"
                    )
                if message.get("event") == event:
                    return message

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
            return "\n  log: " + "\n  log: ".join(text) if text else ""
        return ""

    async def close(self) -> None:
        """Let it exit on its own (stdin closed), else kill it: only this process."""
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), timeout=20)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


class PySpy:
    """``py-spy record`` on the bot process from publish to the end of the broadcast."""

    def __init__(self, process: asyncio.subprocess.Process, path: Path) -> None:
        self.process = process
        self.path = path

    @classmethod
    async def start(cls, pid: int, path: Path, rate: int) -> PySpy:
        executable = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        process = await asyncio.create_subprocess_exec(
            executable,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--threads",
            "--output",
            str(path),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return cls(process, path)

    async def stop(self) -> None:
        """SIGINT makes py-spy write what it sampled; kill it if it does not."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(self.process.wait(), timeout=30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


# --- /latest probes ------------------------------------------------------------------------


@dataclass(slots=True)
class Probe:
    sent_at: float
    latency: float | None  # None: no answer within PROBE_TIMEOUT


class Prober:
    """Sends /latest from idle probe users every ``interval`` seconds; times each answer."""

    def __init__(self, api: FakeBotApi, users: Sequence[FakeUser], interval: float) -> None:
        self._api = api
        self._idle: deque[FakeUser] = deque(users)
        self._interval = interval
        self._stop = asyncio.Event()
        self.samples: list[Probe] = []
        self.skipped = 0  # ticks with every probe user still waiting for an answer

    async def ask(self, user: FakeUser) -> Probe:
        """One /latest from ``user``, timed until the bot's answer reaches the fake."""
        before = len(self._api.sent(user))
        sent_at = time.monotonic()
        self._api.send_message(user, None, "/latest")
        try:
            await self._api.wait_for_messages(user, before + 1, timeout=PROBE_TIMEOUT)
        except TimeoutError:
            return Probe(sent_at, None)
        return Probe(sent_at, time.monotonic() - sent_at)

    async def warm_up(self) -> list[Probe]:
        """Each probe user once, one after the other: the chats exist, and the idle figure."""
        samples = []
        for user in list(self._idle):
            samples.append(await self.ask(user))
            await asyncio.sleep(self._interval)
        return samples

    async def _one(self, user: FakeUser) -> None:
        try:
            self.samples.append(await self.ask(user))
        finally:
            self._idle.append(user)

    async def run(self) -> None:
        tasks: set[asyncio.Task[None]] = set()
        next_tick = time.monotonic()
        while not self._stop.is_set():
            if self._idle:
                task = asyncio.create_task(self._one(self._idle.popleft()))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            else:
                self.skipped += 1
            next_tick += self._interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stop.wait(), timeout=max(0.0, next_tick - time.monotonic())
                )
        await asyncio.gather(*tasks)

    def stop(self) -> None:
        self._stop.set()


# --- scenarios -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scenario:
    approach: str  # newsbot or naive
    subscribers: int
    limit: int  # R, what the fake enforces on these sends
    send_rate: int
    paid: bool
    images: bool = False  # newsbot pushes a story with a picture (the naive loop sends text)

    @property
    def label(self) -> str:
        paid = " paid" if self.paid else ""
        images = " images" if self.images and self.approach == "newsbot" else ""
        return f"{self.approach} SEND_RATE={self.send_rate}{paid}{images}"

    @property
    def slug(self) -> str:
        return f"{self.approach}-{self.send_rate}{'-paid' if self.paid else ''}"


@dataclass(slots=True)
class Result:
    scenario: Scenario
    ending: str = "not run"  # complete, stalled, timed out, failed
    error: str | None = None
    pushes: int = 0
    first: float = 0.0
    last: float = 0.0
    publish: float = 0.0
    lost: int = 0
    duplicates: int = 0
    unexpected: int = 0
    push_429: int = 0
    reply_429: int = 0
    peak_window: int = 0
    memory_ready: dict[str, int] = field(default_factory=dict)
    memory_done: dict[str, int] = field(default_factory=dict)
    cpu_seconds: float | None = None
    fake_cpu_share: float | None = None
    counters: dict[str, Any] = field(default_factory=dict)
    recorded: dict[str, int] = field(default_factory=dict)
    idle: list[Probe] = field(default_factory=list)
    during: list[Probe] = field(default_factory=list)
    probes_total: int = 0
    probes_skipped: int = 0
    profile_path: Path | None = None
    py_spy_path: Path | None = None
    log_path: Path | None = None
    photos: int = 0  # sendPhoto calls
    photo_fetches: int = 0  # pictures the fake's Telegram fetched by URL
    photo_fetch_delay: float = 0.0

    @property
    def span(self) -> float:
        return self.last - self.first if self.pushes > 1 else 0.0

    @property
    def rate(self) -> float:
        return (self.pushes - 1) / self.span if self.span > 0 else 0.0

    @property
    def cpu_per_1000(self) -> float | None:
        if self.cpu_seconds is None or not self.pushes:
            return None
        return self.cpu_seconds / self.pushes * 1000


def peak_in_window(times: Sequence[float], window: float = 1.0) -> int:
    """The most events in any half-open interval of ``window`` seconds (times sorted)."""
    best = 0
    start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def percentile_ms(samples: Sequence[Probe], q: float) -> float | None:
    """Nearest-rank percentile in ms; an unanswered probe counts as infinitely slow."""
    if not samples:
        return None
    ordered = sorted(math.inf if s.latency is None else s.latency for s in samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1] * 1000


def scenario_timeout(scenario: Scenario, args: argparse.Namespace) -> float:
    if args.scenario_timeout:
        return float(args.scenario_timeout)
    # Start-up plus a multiple of the time at SEND_RATE: a slow bot still finishes (at 1,000/s
    # the client's own CPU decides, so allow for a fifth of it), a stuck one does not.
    slack = 5.0 if scenario.send_rate > 30 else 2.0
    return slack * scenario.subscribers / scenario.send_rate + 60.0


async def run_scenario(
    scenario: Scenario,
    args: argparse.Namespace,
    outlet: Outlet,
    template: Path,
    subscriber_ids: list[int],
    workdir: Path,
) -> Result:
    result = Result(scenario)
    database = workdir / f"{scenario.slug}.db"
    copy_database(template, database)
    result.log_path = workdir / f"{scenario.slug}.log"
    if args.profile:
        result.profile_path = workdir / f"{scenario.slug}.prof"
    api = MeteredFakeBotApi(
        token=TOKEN,
        global_rate=args.free_rate if scenario.paid else scenario.limit,
        paid_rate=scenario.limit if scenario.paid else 1000,
        meter_replies=args.meter_replies,
    )
    async with api:
        subscribers = [api.add_user(f"Reader {n}") for n in range(scenario.subscribers)]
        if [u.id for u in subscribers] != subscriber_ids:
            raise RuntimeError("the fake numbered its users differently from the template")
        probes = [api.add_user(f"Probe {n}") for n in range(PROBE_USERS)]
        api.probe_chats = {p.id for p in probes}
        outlet.reset()
        config = {
            "approach": scenario.approach,
            "api_url": api.url,
            "token": TOKEN,
            "database_url": sqlite_url(database),
            "feed_url": outlet.url,
            "send_rate": scenario.send_rate,
            "paid": scenario.paid,
            "workers": args.naive_workers,
            "retries": args.naive_retries,
            "profile_path": str(result.profile_path) if result.profile_path else None,
        }
        child = await BotProcess.start(config, workdir, result.log_path)
        prober = Prober(api, probes, args.probe_interval)
        try:
            ready = await child.expect("ready", timeout=120)
            result.memory_ready = ready["memory"]
            result.idle = await prober.warm_up()
            if scenario.approach == "newsbot":
                outlet.publish()
                if outlet.image is not None:
                    # Telegram fetches the picture from the outlet's site: that takes a while.
                    api.add_image(outlet.image, delay=args.image_fetch_delay)
                    result.photo_fetch_delay = args.image_fetch_delay
            spy = None
            if args.py_spy:
                result.py_spy_path = workdir / f"{scenario.slug}.py-spy.txt"
                spy = await PySpy.start(child.process.pid, result.py_spy_path, args.py_spy)
            cpu_before = time.process_time()
            result.publish = time.monotonic()
            await child.send({"cmd": "publish"})
            probing = asyncio.create_task(prober.run())
            try:
                await child.expect("published", timeout=60)
                result.ending = await watch(api, scenario, args, result.publish)
                if result.ending == "complete":
                    await asyncio.sleep(SETTLE_SECONDS)
                wall = time.monotonic() - result.publish
                result.fake_cpu_share = (time.process_time() - cpu_before) / wall
            finally:
                prober.stop()
                await probing
                if spy is not None:
                    await spy.stop()
            await child.send({"cmd": "stop"})
            done = await child.expect("done", timeout=60)
            result.cpu_seconds = float(done["cpu_seconds"])
            result.memory_done = done["memory"]
            result.counters = done["counters"]
        except (RuntimeError, TimeoutError) as exc:
            result.ending = "failed"
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            await child.close()
        summarise(result, api, subscriber_ids, prober)
        result.photos = api.stats.requests["sendPhoto"]
        result.photo_fetches = api.stats.photo_url_fetches
    if scenario.approach == "newsbot" and result.ending != "failed":
        with contextlib.suppress(Exception):
            result.recorded = await recorded_deliveries(database)
    if not args.keep:
        remove_database(database)
    return result


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def watch(
    api: MeteredFakeBotApi, scenario: Scenario, args: argparse.Namespace, started: float
) -> str:
    """Until every subscriber has a message, the pushes stall, or the hard timeout."""
    deadline = started + scenario_timeout(scenario, args)
    while True:
        await asyncio.sleep(0.1)
        if len(api.delivered) >= scenario.subscribers:
            return "complete"
        now = time.monotonic()
        last = api.accepted[-1][1] if api.accepted else started
        if now - last > args.stall:
            return "stalled"
        if now > deadline:
            return "timed out"


def summarise(
    result: Result, api: MeteredFakeBotApi, subscriber_ids: list[int], prober: Prober
) -> None:
    times = sorted(t for _, t in api.accepted)
    result.pushes = len(times)
    if times:
        result.first, result.last = times[0], times[-1]
    counts = Counter(chat for chat, _ in api.accepted)
    wanted = set(subscriber_ids)
    result.lost = sum(1 for chat in subscriber_ids if not counts[chat])
    result.duplicates = sum(n - 1 for chat, n in counts.items() if chat in wanted and n > 1)
    result.unexpected = sum(n for chat, n in counts.items() if chat not in wanted)
    result.push_429 = api.push_429
    result.reply_429 = api.reply_429
    result.peak_window = peak_in_window(times)
    result.probes_total = len(prober.samples)
    result.probes_skipped = prober.skipped
    if times:
        result.during = [p for p in prober.samples if result.first <= p.sent_at <= result.last]


# --- report ----------------------------------------------------------------------------------


def fmt(value: float | None, spec: str = ".0f", missing: str = "-") -> str:
    if value is None:
        return missing
    if math.isinf(value):
        return "∞"
    return format(value, spec)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    )
    print(line)
    print("-" * len(line))
    for row in rows:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def peak_mb(memory: dict[str, int]) -> float | None:
    kb = memory.get("VmHWM") or memory.get("ru_maxrss")
    return kb / 1024 if kb else None


def report(results: Sequence[Result]) -> None:
    print()
    print_table(
        [
            "scenario",
            "N",
            "R",
            "msgs/s",
            "÷R",
            "÷SEND_RATE",
            "429s",
            "lost",
            "dup",
            "peak RSS MB",
            "/latest p50 ms",
            "p95 ms",
            "CPU s/1k msgs",
        ],
        [
            [
                r.scenario.label,
                str(r.scenario.subscribers),
                str(r.scenario.limit),
                fmt(r.rate, ".1f"),
                fmt(r.rate / r.scenario.limit, ".3f"),
                fmt(r.rate / r.scenario.send_rate, ".3f"),
                str(r.push_429),
                str(r.lost),
                str(r.duplicates),
                fmt(peak_mb(r.memory_done), ".0f"),
                fmt(percentile_ms(r.during, 50)),
                fmt(percentile_ms(r.during, 95)),
                fmt(r.cpu_per_1000, ".2f"),
            ]
            for r in results
        ],
    )
    print()
    print_table(
        [
            "scenario",
            "ending",
            "start s",
            "span s",
            "peak/1s",
            "RSS ready MB",
            "bot CPU s",
            "fake CPU",
            "/latest idle p50",
            "during n (unanswered)",
            "bot counters",
            "db deliveries",
        ],
        [
            [
                r.scenario.label,
                r.ending,
                fmt(r.first - r.publish if r.pushes else None, ".2f"),
                fmt(r.span, ".1f"),
                str(r.peak_window),
                fmt((r.memory_ready.get("VmRSS") or 0) / 1024 or None, ".0f"),
                fmt(r.cpu_seconds, ".1f"),
                fmt(r.fake_cpu_share * 100 if r.fake_cpu_share is not None else None, ".0f") + "%",
                fmt(percentile_ms(r.idle, 50)) + " ms",
                f"{len(r.during)} ({sum(p.latency is None for p in r.during)})",
                " ".join(f"{k}={v}" for k, v in r.counters.items() if v and k != "last_error")
                or "-",
                " ".join(f"{k}={v}" for k, v in sorted(r.recorded.items())) or "-",
            ]
            for r in results
        ],
    )
    print()
    for r in results:
        verdicts(r)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def verdicts(r: Result) -> None:
    s = r.scenario
    print(f"{s.label} (N={s.subscribers}, R={s.limit}/s): {r.ending}")
    if r.error:
        print(f"  error: {r.error}")
    if r.log_path is not None and r.ending != "complete":
        print(f"  log: {r.log_path}")
    if r.photos:
        print(
            f"  photos   {r.photos} sendPhoto, {r.photo_fetches} fetched by URL "
            f"(each fetch taking {r.photo_fetch_delay:g} s), the rest by file id"
        )
    ratio = r.rate / s.limit
    if s.send_rate >= s.limit:
        ok = verdict(ratio >= RATIO_TARGET)
        print(f"  rate     {ratio:.3f} of R{'':<13} {ok} (≥ {RATIO_TARGET})")
    else:
        ceiling = s.send_rate / s.limit
        of_send = r.rate / s.send_rate
        print(
            f"  rate     {ratio:.3f} of R (ceiling {ceiling:.3f} at SEND_RATE {s.send_rate}); "
            f"{of_send:.3f} of SEND_RATE {verdict(of_send >= RATIO_TARGET)} (≥ {RATIO_TARGET})"
        )
    print(f"  429s     {r.push_429:<22} {verdict(r.push_429 == 0)} (0)")
    print(f"  lost     {r.lost:<22} {verdict(r.lost == 0)} (0)")
    print(f"  dup      {r.duplicates:<22} {verdict(r.duplicates == 0)} (0)")
    p95 = percentile_ms(r.during, 95)
    if p95 is None:
        print("  /latest  no probe during the broadcast      n/a")
    else:
        print(
            f"  /latest  p95 {fmt(p95)} ms over {len(r.during)} probes"
            f"{'':<4} {verdict(p95 < LATEST_P95_TARGET_MS)} (< {LATEST_P95_TARGET_MS:.0f} ms)"
        )
    if s.paid:
        print(f"  CPU      {fmt(r.cpu_per_1000, '.2f')} s per 1,000 messages in the bot process")
    if r.unexpected:
        print(f"  note: {r.unexpected} pushes went to chats that are not subscribers")
    if r.probes_skipped:
        print(
            f"  note: {r.probes_skipped} probe ticks skipped: every probe user was still waiting"
        )
    if r.reply_429:
        print(f"  note: {r.reply_429} 429s on /latest answers (--meter-replies)")
    if r.fake_cpu_share is not None and r.fake_cpu_share > 0.85:
        print(f"  note: the fake used {r.fake_cpu_share:.0%} of a core: it may be the bottleneck")
    print()


# Where an idle thread waits without py-spy seeing it as idle (aiosqlite's worker blocks in a
# SimpleQueue.get): such samples are counted apart, not as time spent.
IDLE_LEAVES = ("_connection_worker_thread (aiosqlite/core.py:59)",)
PROJECT_DIRS = ("(bot/", "(jobs/", "(storage/")


def _function(frame: str) -> str:
    """``name (path:line)`` -> ``name (path)``: a function's samples at all its lines."""
    head, _, where = frame.rpartition(" (")
    return f"{head} ({where.rsplit(':', 1)[0]})" if head else frame


def _thread_kind(frame: str) -> str:
    """``thread (123): Thread-4 (_connection_worker_thread)`` -> the kind of thread."""
    name = frame.partition(": ")[2] or frame
    return re.sub(r"^Thread-\d+ ", "", name)


def print_py_spy(result: Result, top: int) -> None:
    """Busy samples per thread kind, then per function (own and inclusive), from py-spy."""
    path = result.py_spy_path
    if path is None or not path.exists():
        return
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    idle = busy = 0
    thread_ids: set[str] = set()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = next((f for f in frames if f.startswith("thread ")), "thread ?")
        thread_ids.add(thread.partition(":")[0])
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        if frames[-1] in IDLE_LEAVES:
            idle += count
            continue
        busy += count
        threads[_thread_kind(thread)] += count
        own[_function(frames[-1])] += count
        functions = {_function(f) for f in frames}
        for function in functions:
            inclusive[function] += count
            if function.endswith(")") and any(d in function for d in PROJECT_DIRS):
                ours[function] += count
    if not busy:
        return
    print(
        f"--- py-spy of the bot process, {result.scenario.label}: {busy} busy samples, "
        f"{idle} idle ones left out, {len(thread_ids)} distinct threads ({path})"
    )
    for thread, count in threads.most_common():
        print(f"{count / busy:6.1%}  {thread}")
    for title, counter in (
        ("own time", own),
        ("inclusive time", inclusive),
        ("inclusive time, newsbot's code", ours),
    ):
        print(f"top {top} by {title} (share of busy samples):")
        for function, count in counter.most_common(top):
            print(f"{count / busy:6.1%}  {function}")
    print()


def print_profile(result: Result, top: int) -> None:
    if result.profile_path is None or not result.profile_path.exists():
        return
    print(f"--- cProfile of the bot process, {result.scenario.label} ({result.profile_path})")
    stats = pstats.Stats(str(result.profile_path))
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--subscribers", type=int, default=2000, help="N (default 2000)")
    parser.add_argument("--rate", type=int, default=30, help="R the fake enforces (default 30)")
    parser.add_argument(
        "--paid", action="store_true", help="paid broadcasts: R is the paid rate, PAID_BROADCAST"
    )
    parser.add_argument(
        "--send-rate",
        default=None,
        help="comma-separated SEND_RATE values (default 25,30 capped at R; R when --paid)",
    )
    parser.add_argument(
        "--approach", choices=("both", "newsbot", "naive"), default="both", help="default both"
    )
    parser.add_argument(
        "--naive-workers", type=int, default=1, help="concurrent send loops of the naive bot"
    )
    parser.add_argument(
        "--naive-retries", type=int, default=3, help="AIORateLimiter max_retries (default 3)"
    )
    parser.add_argument(
        "--free-rate", type=int, default=30, help="with --paid: the limit on unpaid sends"
    )
    parser.add_argument(
        "--images",
        action="store_true",
        help="the story has a picture: newsbot pushes photos (PUSH_IMAGES)",
    )
    parser.add_argument(
        "--image-fetch-delay",
        type=float,
        default=0.5,
        help="with --images: seconds Telegram takes to fetch the picture (0.5)",
    )
    parser.add_argument("--probe-interval", type=float, default=0.1, help="seconds (0.1)")
    parser.add_argument(
        "--meter-replies", action="store_true", help="count /latest answers against R too"
    )
    parser.add_argument("--stall", type=float, default=30.0, help="seconds without a push")
    parser.add_argument("--scenario-timeout", type=float, default=0.0, help="hard limit, s")
    parser.add_argument("--profile", action="store_true", help="cProfile the bot process")
    parser.add_argument(
        "--py-spy",
        type=int,
        default=0,
        metavar="HZ",
        help="sample the bot process with py-spy at HZ during the broadcast (needs py-spy)",
    )
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    parser.add_argument(
        "--smoke", action="store_true", help="CI: 200 subscribers, R=30, newsbot at 25"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.subscribers, args.rate, args.paid = 200, 30, False
        args.approach = "newsbot"
        args.send_rate = args.send_rate or "25"
    if args.send_rate:
        args.send_rates = [int(v) for v in str(args.send_rate).split(",") if v.strip()]
    elif args.paid:
        args.send_rates = [args.rate]
    else:
        args.send_rates = sorted({min(25, args.rate), min(30, args.rate)})
    if args.paid and args.rate <= 30:
        parser.error("--paid needs --rate above 30 (the paid limit, e.g. 1000)")
    if not args.paid and max(args.send_rates) > 30:
        parser.error("SEND_RATE above 30 needs --paid (as newsbot needs PAID_BROADCAST=true)")
    return args


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    approaches = ["newsbot", "naive"] if args.approach == "both" else [args.approach]
    return [
        Scenario(approach, args.subscribers, args.rate, send_rate, args.paid, args.images)
        for approach, send_rate in itertools.product(approaches, args.send_rates)
    ]


def code_state() -> str:
    """The commit measured, and whether bot/, jobs/ or storage/ differ from it."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "bot", "jobs", "storage"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return f"{root} (not a git work tree)"
    return f"{root} at {head}" + (f", {len(changed)} files changed" if changed else "")


async def main_async(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="newsbot-fanout-"))
    planned = scenarios(args)
    print(
        f"fan-out benchmark: N={args.subscribers}, R={args.rate}/s"
        f"{' (paid; unpaid limit ' + str(args.free_rate) + '/s)' if args.paid else ''}, "
        f"{len(planned)} scenarios, probes every {args.probe_interval:g} s"
    )
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, temp {workdir}"
    )
    print(f"code: {code_state()}")
    outlet = Outlet(await FeedServer().start(), rudaw_items(30), images=args.images)
    results: list[Result] = []
    try:
        subscriber_ids = expected_user_ids(args.subscribers)
        template = workdir / "template.db"
        seconds = await build_template(template, outlet, subscriber_ids)
        print(f"database prepared in {seconds:.1f} s ({args.subscribers} subscribers)")
        for scenario in planned:
            limit = scenario_timeout(scenario, args)
            print(f"running {scenario.label} (hard timeout {limit:.0f} s) ...", flush=True)
            result = await run_scenario(scenario, args, outlet, template, subscriber_ids, workdir)
            results.append(result)
            print(
                f"  {result.ending}: {result.pushes} pushes, {result.rate:.1f}/s, "
                f"{result.push_429} 429s, lost {result.lost}, dup {result.duplicates}",
                flush=True,
            )
    finally:
        await outlet.server.stop()
        report(results)
        for result in results:
            print_profile(result, args.profile_top)
            print_py_spy(result, args.profile_top)
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        troubled = [r for r in results if r.ending != "complete"]
        if args.keep or troubled or len(results) < len(planned):
            print(f"kept {workdir} (logs, databases{', profiles' if args.profile else ''})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
