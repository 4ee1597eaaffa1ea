"""How long the command line takes to answer: `newsbot --help` and `newsbot latest` (on an
SQLite database with some stories), as a reader of the README would run them.

    python benchmarks/cli_start.py [--runs 5] [--stories 2000]

Prints the median and worst wall time of each over ``--runs`` fresh processes. Goal: under
1 s for both on these 2 cores (neither loads Telegram, the scheduler or an HTTP client).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent


def feed(count: int) -> bytes:
    """An RSS document of ``count`` items, the newest first."""
    now = datetime.now(UTC)
    items = "".join(
        f"<item><title>Erbil story {n} about Kurdistan and oil</title>"
        f"<link>https://outlet.example/story/{n}</link><guid>story-{n}</guid>"
        f"<pubDate>{format_datetime(now - timedelta(minutes=n), usegmt=True)}</pubDate>"
        "<description>A summary of the story.</description></item>"
        for n in range(count)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Outlet</title>{items}</channel></rss>"
    ).encode()


async def fill(env: dict[str, str], count: int) -> None:
    """Store ``count`` stories the way an operator would: `newsbot poll` of a local feed."""
    body = feed(count)

    async def serve(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/rss", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "poll",
            env=dict(env, FEEDS=f"kurdistan=http://127.0.0.1:{port}/rss"),
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
        )
        if await process.wait() != 0:
            raise SystemExit("newsbot poll failed")
    finally:
        await runner.cleanup()


def timed(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bot", *argv],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stories", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'cli.db'}"
        env = dict(os.environ, DATABASE_URL=url, LOG_LEVEL="WARNING")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        asyncio.run(fill(env, args.stories))
        print(f"command line start-up, {args.runs} runs each, {args.stories} stories stored")
        for argv in (["--help"], ["latest"], ["latest", "oil"]):
            times = timed(argv, env, args.runs)
            print(
                f"  newsbot {' '.join(argv):<12} median {statistics.median(times):.2f} s, "
                f"worst {max(times):.2f} s"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
