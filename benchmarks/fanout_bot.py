"""The bot side of ``benchmarks/fanout.py``, run as its own process so its RSS and CPU are its own.

Two bots, chosen by the JSON line it reads first on stdin:

* ``newsbot``: the real application (``bot.app.running``) on the benchmark's SQLite copy; on
  ``publish`` it polls its feeds once, and ingestion hands the new story to the Broadcaster;
* ``naive``: what a python-telegram-bot user would write — an Application with PTB's
  ``AIORateLimiter`` and a trivial /latest handler reading the same database, and on
  ``publish`` one loop of ``bot.send_message`` over the subscribers (``workers`` loops when
  asked), catching and counting Telegram's errors.

Protocol: JSON lines. The parent writes ``{"cmd": "publish"}`` then ``{"cmd": "stop"}``; this
process answers ``ready``, ``published`` and ``done`` events (or ``error``) on stdout. Logs go
to stderr, which the parent sends to a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import html
import json
import logging
import resource
import sys
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.error import RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, CommandHandler
from telegram.ext import ContextTypes as _ContextTypes

from bot.app import running
from bot.config import load_settings
from bot.deps import DEPS_KEY
from bot.push_render import PushRenderer
from storage.engine import create_engine, create_session_factory
from storage.models import Chat, Subscription
from storage.stories import latest_stories

Context = _ContextTypes.DEFAULT_TYPE


@dataclass(frozen=True, slots=True)
class BotConfig:
    """What the parent asks for (the first JSON line on stdin)."""

    approach: str  # "newsbot" or "naive"
    api_url: str
    token: str
    database_url: str
    feed_url: str
    send_rate: int
    paid: bool
    workers: int = 1
    retries: int = 3
    profile_path: str | None = None
    default_timezone: str = "Asia/Baghdad"


def emit(event: str, **fields: Any) -> None:
    """One event line for the parent."""
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def memory_kb() -> dict[str, int]:
    """Current and peak resident set size of this process, in KiB (Linux /proc)."""
    found: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    # ru_maxrss is KiB on Linux; the same peak as VmHWM, kept as a cross-check.
    found["ru_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return found


async def read_command() -> str:
    """The next command from the parent; ``stop`` when the parent went away."""
    line = await asyncio.to_thread(sys.stdin.readline)
    if not line:
        return "stop"
    return str(json.loads(line).get("cmd", "stop"))


class Measured:
    """CPU seconds (and an optional cProfile) from ``publish`` to ``stop``."""

    def __init__(self, profile_path: str | None) -> None:
        self._profile = cProfile.Profile() if profile_path else None
        self._path = profile_path
        self._started = 0.0
        self.cpu_seconds = 0.0

    @contextlib.contextmanager
    def window(self) -> Iterator[None]:
        self._started = time.process_time()
        if self._profile is not None:
            self._profile.enable()
        try:
            yield
        finally:
            if self._profile is not None:
                self._profile.disable()
                self._profile.dump_stats(str(self._path))
            self.cpu_seconds = time.process_time() - self._started


def count_connections(engine: AsyncEngine) -> list[int]:
    """A counter of new database connections (each one an aiosqlite thread on SQLite)."""
    connects = [0]

    def on_connect(*_: object) -> None:
        connects[0] += 1

    event.listen(engine.sync_engine, "connect", on_connect)
    return connects


# --- newsbot -------------------------------------------------------------------------------


async def run_newsbot(config: BotConfig) -> None:
    settings = load_settings(
        _env_file=None,
        telegram_bot_token=config.token,
        telegram_api_url=config.api_url,
        feeds=config.feed_url,
        database_url=config.database_url,
        poll_interval=3600,
        send_rate=config.send_rate,
        paid_broadcast=config.paid,
        default_timezone=config.default_timezone,
        log_level="WARNING",
    )
    measured = Measured(config.profile_path)
    async with running(settings) as application:
        services = application.bot_data[DEPS_KEY].services
        broadcaster = services.broadcaster
        assert broadcaster is not None, "running() built no Broadcaster"
        connects = count_connections(services.engine)
        emit("ready", memory=memory_kb())
        if await read_command() == "publish":
            with measured.window():
                new = 0
                for feed in services.feeds:
                    report = await services.poller.poll(feed.id)
                    new += len(report.outcome.new)
                emit("published", new_stories=new)
                await read_command()
        stats = broadcaster.stats
        counters = {
            "sent": stats.sent,
            "failed": stats.failed,
            "retried": stats.retried,
            "rate_limited": stats.rate_limited,
            "grouped": stats.grouped,
            "last_error": stats.last_error,
            "db_connects": connects[0],
        }
    emit("done", cpu_seconds=measured.cpu_seconds, memory=memory_kb(), counters=counters)


# --- the naive PTB approach ------------------------------------------------------------------


@dataclass(slots=True)
class NaiveCounters:
    sent: int = 0
    failed: int = 0
    retry_after_raised: int = 0
    last_error: str | None = None


async def naive_latest(update: Update, context: Context) -> None:
    """/latest as a PTB tutorial would write it: read five stories, reply."""
    sessions = context.bot_data["sessions"]
    async with sessions() as session:
        stories = await latest_stories(session, limit=5)
    lines = [
        f'• <a href="{html.escape(s.link or "")}">{html.escape(s.title)}</a>' for s in stories
    ]
    assert update.effective_message is not None
    await update.effective_message.reply_html(
        "Latest stories\n" + "\n".join(lines),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


async def naive_broadcast(
    application: Application[Any, Any, Any, Any, Any, Any],
    chat_ids: list[int],
    message: tuple[str, InlineKeyboardMarkup | None, str | None],
    *,
    paid: bool,
    workers: int,
    counters: NaiveCounters,
) -> None:
    """``for chat in subscribers: await bot.send_message(...)``, errors logged and skipped."""
    text, markup, preview = message
    preview_options = LinkPreviewOptions(url=preview) if preview else None
    pending = iter(chat_ids)

    async def loop() -> None:
        for chat_id in pending:
            try:
                await application.bot.send_message(
                    chat_id,
                    text,
                    parse_mode="HTML",
                    reply_markup=markup,
                    link_preview_options=preview_options,
                    allow_paid_broadcast=True if paid else None,
                )
                counters.sent += 1
            except RetryAfter as exc:  # AIORateLimiter gave up after its retries
                counters.retry_after_raised += 1
                counters.failed += 1
                counters.last_error = str(exc)
            except TelegramError as exc:
                counters.failed += 1
                counters.last_error = str(exc)

    await asyncio.gather(*(loop() for _ in range(max(1, workers))))


@contextlib.asynccontextmanager
async def naive_application(
    config: BotConfig,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    engine = create_engine(config.database_url)
    application = (
        ApplicationBuilder()
        .token(config.token)
        .base_url(f"{config.api_url}/bot")
        .base_file_url(f"{config.api_url}/file/bot")
        .rate_limiter(
            AIORateLimiter(overall_max_rate=config.send_rate, max_retries=config.retries)
        )
        .build()
    )
    application.bot_data["sessions"] = create_session_factory(engine)
    application.bot_data["connects"] = count_connections(engine)
    application.add_handler(CommandHandler("latest", naive_latest))
    try:
        async with application:
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
            try:
                yield application
            finally:
                await application.updater.stop()
                await application.stop()
    finally:
        await engine.dispose()


async def run_naive(config: BotConfig) -> None:
    counters = NaiveCounters()
    measured = Measured(config.profile_path)
    async with naive_application(config) as application:
        sessions = application.bot_data["sessions"]
        connects = application.bot_data["connects"]
        connects[0] = 0  # from here on, as for newsbot
        emit("ready", memory=memory_kb())
        if await read_command() == "publish":
            with measured.window():
                async with sessions() as session:
                    statement = (
                        select(Subscription.chat_id)
                        .join(Chat, col(Chat.id) == col(Subscription.chat_id))
                        .where(col(Chat.active))
                        .distinct()
                    )
                    chat_ids = [int(c) for c in (await session.exec(statement)).all()]
                    [story] = await latest_stories(session, limit=1)
                # The same rendering as newsbot's pushes, done once: payloads are comparable.
                rendered = PushRenderer(config.default_timezone)([story], "")
                markup = (
                    InlineKeyboardMarkup.de_json(rendered.reply_markup, None)
                    if rendered.reply_markup
                    else None
                )
                task = asyncio.create_task(
                    naive_broadcast(
                        application,
                        chat_ids,
                        (rendered.text, markup, rendered.preview_url),
                        paid=config.paid,
                        workers=config.workers,
                        counters=counters,
                    )
                )
                emit("published", recipients=len(chat_ids))
                await read_command()
                if not task.done():
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    emit(
        "done",
        cpu_seconds=measured.cpu_seconds,
        memory=memory_kb(),
        counters={
            "sent": counters.sent,
            "failed": counters.failed,
            "retry_after_raised": counters.retry_after_raised,
            "last_error": counters.last_error,
            "db_connects": connects[0],
        },
    )


def main() -> int:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    config = BotConfig(**json.loads(sys.stdin.readline()))
    runner = run_newsbot if config.approach == "newsbot" else run_naive
    try:
        asyncio.run(runner(config))
    except Exception as exc:
        traceback.print_exc()
        emit("error", message=f"{type(exc).__name__}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
