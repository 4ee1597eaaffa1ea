"""The bot as a real process (``python -m bot …``), started and stopped as an operator would.

Every test that runs the bot as a subprocess starts it through :func:`launch_bot`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from tests.fake_bot_api import FakeBotApi

REPO = Path(__file__).resolve().parents[2]

Process = asyncio.subprocess.Process


def process_environment(**env: str) -> dict[str, str]:
    """This process's environment plus ``env``, with the repository on PYTHONPATH."""
    merged = dict(os.environ)
    merged.update(env)
    merged["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    return merged


def bot_environment(api: FakeBotApi, feed_url: str, database_url: str) -> dict[str, str]:
    """The environment of a ``bot run`` against the fake Bot API, one feed and one database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "FEEDS"))}
    env.update(
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_API_URL=api.url,
        FEEDS=feed_url,
        DATABASE_URL=database_url,
        POLL_INTERVAL="1",
        SEND_RATE="25",
        LOG_LEVEL="INFO",
        PTB_TIMEDELTA="true",
        PYTHONPATH=str(REPO),
    )
    return env


async def launch_bot(
    *argv: str,
    env: dict[str, str],
    cwd: Path,
    stdout: int | IO[Any],
    stderr: int | IO[Any],
) -> Process:
    """``python -m bot ARGV`` as a child process."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *argv,
        env=env,
        cwd=cwd,
        stdout=stdout,
        stderr=stderr,
    )


async def start_bot_process(env: dict[str, str], log: Path) -> Process:
    """``python -m bot run`` in the repository, its output appended to ``log``."""
    # The child keeps its own copy of the log's file descriptor; ours closes at once.
    with log.open("ab") as out:
        return await launch_bot(
            "run", env=env, cwd=REPO, stdout=out, stderr=asyncio.subprocess.STDOUT
        )


async def run_bot_command(*argv: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """``python -m bot ARGV`` to its end (a minute at most): exit code, stdout, stderr."""
    process = await launch_bot(
        *argv, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def stop_bot_processes(processes: Iterable[Process], grace: float) -> None:
    """SIGTERM to every process still running, all at once (a clean shutdown); then wait up to
    ``grace`` seconds for each and SIGKILL any that is still there."""
    processes = list(processes)
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), timeout=grace)
        if process.returncode is None:
            process.kill()
            await process.wait()
