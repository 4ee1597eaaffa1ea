"""Big feeds: a real ``newsbot run`` storing a feed of N items, readers' commands meanwhile,
its peak memory, and how soon SIGTERM stops it mid-ingestion.

Smoke run (CI; 2,000 items, about half a minute)::

    python benchmarks/big_feed.py --smoke

Full run on a 2-core machine (50,000 items, an 8-9 MB document; a few minutes)::

    python benchmarks/big_feed.py [--items 50000]

What it does:

1. Writes an RSS document of N items (title, link, guid, pubDate a minute apart, like the
   issue's 8.7 MB feed) and serves it from the tests' local feed server
   (``tests/auxil/feed_server.py``); the tests' fake Bot API (``tests/fake_bot_api``) runs in
   this process too. Both stay up for every run.
2. Each run starts a real ``python -m bot run`` process (SQLite in a temp folder,
   ``POLL_INTERVAL=3600``, ``METRICS_PORT``) whose first poll is the feed's first poll: all
   backlog, stored in batches. The runs:

   * ``all N``: ``FEED_MAX_ITEMS=N``, every item stored (the hard case);
   * ``default cap``: ``FEED_MAX_ITEMS`` left at its default (only when N exceeds it);
   * ``SIGTERM parsing``: SIGTERM a second (at most a quarter of the first run's poll) after
     the feed was fetched, while feedparser works;
   * ``SIGTERM storing``: SIGTERM as soon as the first batch is committed. Then
     ``newsbot poll`` on the same database must store the rest: nothing lost, nothing new.

3. While a poll runs, two readers talk to the bot through the fake, each waiting for the
   answer before its next command: one alternates /subscribe and /unsubscribe (writes), the
   other sends /latest (reads). Their latency runs from the Update queued to the reply
   received; a "Sorry…" answer counts as an error.

Figures per run: the poll's own duration (``newsbot_feed_poll_duration_seconds`` from the
bot's /metrics: fetch, parse and store) and from the fetch to the poll counted; stories
stored; the bot's peak RSS (``VmHWM``) and RSS before the poll, and the peak RSS of the
child process that parses a document of 1 MB or more (sampled every 50 ms, so a lower
bound); readers' commands answered
during the poll with their median and worst latency, and errors; seconds from SIGTERM to
exit. Targets (issue 12): all N stored in < 10 s, worst reader latency < 1 s, peak RSS < 300
MB, SIGTERM < 5 s. It prints figures and verdicts and never fails on them; it exits 1 when a
run could not be carried out (the bot did not start, or did not poll).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from benchmarks.fanout import code_state, fmt, print_table, verdict
from benchmarks.instances import free_port
from bot.config import Settings
from tests.auxil.feed_server import FeedServer
from tests.auxil.processes import bot_environment
from tests.fake_bot_api import FakeBotApi

REPO = Path(__file__).resolve().parents[1]
STORE_TARGET = 10.0  # seconds for all N items (N = 50,000)
LATENCY_TARGET = 1.0  # seconds, worst reader command during a poll
MEMORY_TARGET = 300.0  # MB, the bot's peak RSS
STOP_TARGET = 5.0  # seconds from SIGTERM to exit
START_TIMEOUT = 60.0
DEFAULT_CAP = int(Settings.model_fields["feed_max_items"].default)


# --- the feed --------------------------------------------------------------------------------


def big_feed(items: int) -> bytes:
    """An RSS document of ``items`` stories, newest first, a minute apart."""
    now = datetime.now(UTC)
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        "<title>Big outlet</title><link>https://big.example/</link>"
    ]
    for n in range(items):
        published = format_datetime(now - timedelta(minutes=n), usegmt=True)
        parts.append(
            f"<item><title>Story {n}: Erbil talks</title>"
            f"<link>https://big.example/news/{n}</link>"
            f'<guid isPermaLink="false">big-{n}</guid><pubDate>{published}</pubDate></item>\n'
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


# --- the bot process -------------------------------------------------------------------------


@dataclass(slots=True)
class Bot:
    """One ``python -m bot run`` process with its /metrics port, database and log."""

    process: asyncio.subprocess.Process
    port: int
    database: Path
    log: Path

    @classmethod
    async def start(cls, env: dict[str, str], folder: Path) -> Bot:
        port = free_port()
        database = folder / "newsbot.db"
        log = folder / "bot.log"
        with log.open("ab") as out:  # the child keeps its own copy of the descriptor
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env={**env, "METRICS_PORT": str(port)},
                cwd=folder,  # no .env of the repository leaks into the settings
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        return cls(process, port, database, log)

    async def metrics(self, http: aiohttp.ClientSession) -> dict[str, float]:
        """The samples of its /metrics, by name with labels; empty when it does not answer."""
        try:
            async with http.get(f"http://127.0.0.1:{self.port}/metrics") as response:
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError):
            return {}
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                with contextlib.suppress(ValueError):
                    samples[name] = float(value)
        return samples

    def memory_mb(self) -> tuple[float | None, float | None]:
        """Current and peak resident set size (VmRSS, VmHWM), in MB."""
        found: dict[str, float] = {}
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    found[key] = int(value.split()[0]) / 1024
        return found.get("VmRSS"), found.get("VmHWM")

    def children_peak_mb(self, peaks: dict[int, float]) -> None:
        """Record the peak RSS of its live child processes (the parser of a big document)."""
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{self.process.pid}/task").iterdir():
                for pid in (task / "children").read_text().split():
                    with contextlib.suppress(OSError, ValueError):
                        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                            if line.startswith("VmHWM:"):
                                peak = int(line.split()[1]) / 1024
                                peaks[int(pid)] = max(peaks.get(int(pid), 0.0), peak)

    def stories(self) -> int:
        """Stories stored so far (a read-only look at the SQLite file)."""
        try:
            with contextlib.closing(
                sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=5)
            ) as db:
                return int(db.execute("SELECT count(*) FROM story").fetchone()[0])
        except sqlite3.Error:
            return 0

    async def terminate(self) -> float:
        """SIGTERM; seconds until it exited (SIGKILL after a minute)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout=60)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        return time.monotonic() - started

    def tail(self, lines: int = 12) -> str:
        with contextlib.suppress(OSError):
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
            return "\n  log: " + "\n  log: ".join(text)
        return ""


# --- readers ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Readers:
    """Two readers sending commands in turn, each waiting for its answer."""

    api: FakeBotApi
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"write": [], "read": []})
    errors: int = 0
    unanswered: int = 0

    async def run(self, done: asyncio.Event) -> None:
        writer, reader = self.api.add_user("Writer"), self.api.add_user("Reader")
        await asyncio.gather(
            self._loop(writer, ["/subscribe", "/unsubscribe"], "write", done),
            self._loop(reader, ["/latest"], "read", done),
        )

    async def _loop(
        self, user: object, commands: list[str], kind: str, done: asyncio.Event
    ) -> None:
        turn = 0
        while not done.is_set():
            before = len(self.api.sent(user))  # type: ignore[arg-type]
            started = time.monotonic()
            self.api.send_message(user, None, commands[turn % len(commands)])  # type: ignore[arg-type]
            turn += 1
            try:
                messages = await self.api.wait_for_messages(user, before + 1, timeout=30)  # type: ignore[arg-type]
            except TimeoutError:
                self.unanswered += 1
                continue
            self.latencies[kind].append(time.monotonic() - started)
            if (messages[before].text or "").startswith("Sorry"):
                self.errors += 1
            await asyncio.sleep(0.02)


# --- runs ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Result:
    label: str
    max_items: int
    expected: int
    poll_seconds: float | None = None  # the bot's own poll duration
    wall_seconds: float | None = None  # from the fetch to the poll counted
    stored: int | None = None
    rss_before: float | None = None
    peak_rss: float | None = None
    child_peak: float | None = None  # the parser process, for a document of 1 MB or more
    readers: Readers | None = None
    stop_seconds: float | None = None
    stopped_with: int | None = None  # stories stored when SIGTERM was sent
    resumed: str | None = None  # what `newsbot poll` did afterwards
    resumed_stored: int | None = None
    error: str | None = None


async def wait_for_fetch(server: FeedServer, path: str, bot: Bot) -> float:
    """Time the bot fetched ``path``; raises when it died or never did."""
    deadline = time.monotonic() + START_TIMEOUT
    while not server.hits(path):
        if bot.process.returncode is not None:
            raise RuntimeError(f"the bot exited with {bot.process.returncode}{bot.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the bot did not fetch the feed in {START_TIMEOUT:.0f} s")
        await asyncio.sleep(0.005)
    return time.monotonic()


def polls_done(samples: dict[str, float]) -> float:
    return sum(v for k, v in samples.items() if k.startswith("newsbot_feed_polls_total{"))


async def ingest(
    label: str,
    max_items: int | None,
    items: int,
    api: FakeBotApi,
    server: FeedServer,
    body: bytes,
    http: aiohttp.ClientSession,
    folder: Path,
) -> Result:
    """Start a bot on a fresh database, let it store the feed while readers talk to it."""
    path = f"/{folder.name}.xml"
    server.serve(path, body)
    cap = max_items or DEFAULT_CAP
    result = Result(label, cap, min(items, cap))
    env = bot_environment(api, server.url(path), f"sqlite+aiosqlite:///{folder / 'newsbot.db'}")
    env.update(POLL_INTERVAL="3600", LOG_LEVEL="INFO")
    if max_items is not None:
        env["FEED_MAX_ITEMS"] = str(max_items)
    bot = await Bot.start(env, folder)
    try:
        fetched = await wait_for_fetch(server, path, bot)
        result.rss_before, _ = bot.memory_mb()
        readers = result.readers = Readers(api)
        done = asyncio.Event()
        talking = asyncio.create_task(readers.run(done))
        samples: dict[str, float] = {}
        children: dict[int, float] = {}
        while not polls_done(samples):
            if bot.process.returncode is not None:
                raise RuntimeError(f"the bot exited with {bot.process.returncode}{bot.tail()}")
            bot.children_peak_mb(children)
            await asyncio.sleep(0.05)
            samples = await bot.metrics(http)
        result.child_peak = max(children.values(), default=None)
        result.wall_seconds = time.monotonic() - fetched
        done.set()
        await talking
        result.poll_seconds = samples.get("newsbot_feed_poll_duration_seconds_sum")
        _, result.peak_rss = bot.memory_mb()
        result.stored = bot.stories()
        result.stop_seconds = await bot.terminate()
    except RuntimeError as exc:
        result.error = str(exc)
    finally:
        if bot.process.returncode is None:
            bot.process.kill()
            await bot.process.wait()
    return result


async def interrupt(
    label: str,
    when: str,
    items: int,
    api: FakeBotApi,
    server: FeedServer,
    body: bytes,
    folder: Path,
    parse_delay: float,
) -> Result:
    """Start a bot, SIGTERM it while parsing or storing; then `newsbot poll` finishes."""
    path = f"/{folder.name}.xml"
    server.serve(path, body)
    result = Result(label, items, items)
    database_url = f"sqlite+aiosqlite:///{folder / 'newsbot.db'}"
    env = bot_environment(api, server.url(path), database_url)
    env.update(POLL_INTERVAL="3600", LOG_LEVEL="INFO", FEED_MAX_ITEMS=str(items))
    bot = await Bot.start(env, folder)
    try:
        await wait_for_fetch(server, path, bot)
        if when == "parsing":
            await asyncio.sleep(parse_delay)
        else:
            while bot.process.returncode is None:
                if bot.stories():
                    break
                await asyncio.sleep(0.005)
        result.stopped_with = bot.stories()
        _, result.peak_rss = bot.memory_mb()
        result.stop_seconds = await bot.terminate()
    except RuntimeError as exc:
        result.error = str(exc)
        return result
    finally:
        if bot.process.returncode is None:
            bot.process.kill()
            await bot.process.wait()
    # The next poll (here `newsbot poll`, as an operator would) stores what was left.
    started = time.monotonic()
    polled = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "poll",
        env=env,
        cwd=folder,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await polled.communicate()
    summary = re.search(rb": (\d+) new, (\d+) updated, (\d+) stored as backlog", output)
    took = time.monotonic() - started
    if summary is None:
        result.resumed = f"newsbot poll failed ({polled.returncode}) after {took:.1f} s"
    else:
        new, _, backlog = (int(g) for g in summary.groups())
        result.resumed = f"{backlog} more as backlog, {new} new, in {took:.1f} s"
    result.resumed_stored = bot.stories()
    return result


# --- report ----------------------------------------------------------------------------------


def latency_cells(readers: Readers | None, kind: str) -> list[str]:
    values = readers.latencies[kind] if readers else []
    if not values:
        return ["0", "-", "-"]
    return [str(len(values)), f"{statistics.median(values) * 1000:.0f}", f"{max(values):.2f}"]


def report(results: Sequence[Result], items: int) -> None:
    print()
    rows = []
    for r in results:
        rows.append(
            [
                r.label,
                f"{r.max_items:,}",
                fmt(r.poll_seconds, ".1f"),
                fmt(r.wall_seconds, ".1f"),
                "-" if r.stored is None else f"{r.stored:,}",
                fmt(r.rss_before),
                fmt(r.peak_rss),
                fmt(r.child_peak),
                *latency_cells(r.readers, "write"),
                *latency_cells(r.readers, "read"),
                str(r.readers.errors + r.readers.unanswered) if r.readers else "-",
                fmt(r.stop_seconds, ".2f"),
            ]
        )
    print_table(
        [
            "run",
            "FEED_MAX_ITEMS",
            "poll s",
            "fetch→done s",
            "stored",
            "RSS MB",
            "peak MB",
            "parser MB",
            "writes",
            "p50 ms",
            "worst s",
            "reads",
            "p50 ms",
            "worst s",
            "errors",
            "SIGTERM s",
        ],
        rows,
    )
    print()
    for r in results:
        if r.error:
            print(f"{r.label}: could not run: {r.error}")
            continue
        if r.stopped_with is not None:
            lost = items - (r.resumed_stored or 0)
            print(
                f"{r.label}: SIGTERM with {r.stopped_with:,} stories stored, exited in "
                f"{fmt(r.stop_seconds, '.2f')} s {verdict((r.stop_seconds or 99) < STOP_TARGET)} "
                f"(< {STOP_TARGET:g} s); then newsbot poll: {r.resumed}; {r.resumed_stored:,} "
                f"stored, {lost} lost"
            )
            continue
        worst = max(
            (max(v) for v in (r.readers.latencies.values() if r.readers else ()) if v),
            default=None,
        )
        print(
            f"{r.label}: poll {fmt(r.poll_seconds, '.1f')} s"
            + (
                f" {verdict((r.poll_seconds or 99) < STORE_TARGET)} (< {STORE_TARGET:g} s)"
                if r.max_items >= items
                else ""
            )
            + f", worst reader {fmt(worst, '.2f')} s "
            f"{verdict(worst is not None and worst < LATENCY_TARGET)} (< {LATENCY_TARGET:g} s)"
            f", peak {fmt(r.peak_rss)} MB {verdict((r.peak_rss or 1e9) < MEMORY_TARGET)} "
            f"(< {MEMORY_TARGET:g} MB; its parser process {fmt(r.child_peak)} MB), "
            f"SIGTERM after it {fmt(r.stop_seconds, '.2f')} s"
        )


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--items", type=int, default=50_000, help="N (default 50000)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    parser.add_argument("--smoke", action="store_true", help="CI: 2000 items")
    args = parser.parse_args(argv)
    if args.smoke:
        args.items = 2000
    if args.items < 10:
        parser.error("need at least 10 items")
    return args


async def main_async(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="newsbot-big-feed-"))
    items = args.items
    body = big_feed(items)
    print(
        f"big feed benchmark: {items:,} items, {len(body) / 1e6:.1f} MB document, SQLite; "
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"code: {code_state()}; temp {workdir}", flush=True)
    results: list[Result] = []
    server = await FeedServer().start()
    try:
        async with FakeBotApi() as api, aiohttp.ClientSession() as http:
            runs: list[tuple[str, int | None]] = [(f"all {items:,}", items)]
            if items > DEFAULT_CAP:
                runs.append(("default cap", None))
            for number, (label, cap) in enumerate(runs):
                print(f"running {label} ...", flush=True)
                folder = workdir / f"run-{number}"
                folder.mkdir()
                results.append(await ingest(label, cap, items, api, server, body, http, folder))
            first = results[0].poll_seconds or 4.0
            for when in ("parsing", "storing"):
                label = f"SIGTERM {when}"
                print(f"running {label} ...", flush=True)
                folder = workdir / f"run-{when}"
                folder.mkdir()
                delay = min(1.0, first / 4)
                results.append(
                    await interrupt(label, when, items, api, server, body, folder, delay)
                )
    finally:
        await server.stop()
        report(results, items)
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.keep or any(r.error for r in results):
            print(f"kept {workdir} (bot logs)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if any(r.error for r in results) else 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
