"""``newsbot check``: a plain report on the configuration, every feed and the Bot API."""

from __future__ import annotations

import asyncio

import telegram
from sqlalchemy.engine import make_url
from telegram.error import TelegramError

from bot.channels import check_channel
from bot.config import Settings
from bot.logs import redact_url
from bot.services import user_agent
from bot.telegram_client import build_bot
from jobs.clients.feeds import FetchError, create_feed_session, fetch_feed
from news.clock import utcnow
from news.feed_parsing import NotAFeedError, parse_feed
from storage.engine import create_engine
from storage.reachability import (
    DatabaseUnavailableError,
    ensure_reachable,
    schema_status,
    sqlite_file_missing,
    where,
)


async def _check_feed(settings: Settings, http: object, url: str) -> tuple[bool, str]:
    try:
        fetched = await fetch_feed(
            http,  # type: ignore[arg-type]
            url,
            etag=None,
            last_modified=None,
            timeout=settings.fetch_timeout,
            max_bytes=settings.fetch_max_bytes,
            now=utcnow(),
        )
        assert fetched.body is not None
        parsed = await asyncio.to_thread(
            parse_feed, fetched.body, url=fetched.url, content_type=fetched.content_type
        )
    except FetchError as exc:
        return False, exc.reason
    except NotAFeedError as exc:
        return False, f"not a feed: {exc}"
    title = parsed.title or "untitled"
    note = " (malformed, but usable)" if parsed.bozo else ""
    if parsed.replaced_bytes:
        note += f" (invalid UTF-8: {parsed.replaced_bytes} byte(s) replaced with U+FFFD)"
    return True, f"{title!r}: {len(parsed.entries)} items{note}"


async def _check_database(settings: Settings) -> tuple[bool, str]:
    url = make_url(settings.database_url)
    if sqlite_file_missing(url):
        # Connecting would create the file; a check leaves the machine as it found it.
        return True, f"{where(url)} does not exist yet; `newsbot run` creates it"
    engine = create_engine(settings.database_url)
    try:
        await ensure_reachable(engine)
        status = await schema_status(engine)
    except DatabaseUnavailableError as exc:
        return False, f"DATABASE_URL: {exc}"
    finally:
        await engine.dispose()
    upgrade = "`newsbot run` or `newsbot db upgrade`"
    if status.state == "current":
        return True, f"{where(url)}, schema {status.current} (the newest)"
    if status.state == "empty":
        return True, f"{where(url)} is empty; {upgrade} creates the schema ({status.head})"
    if status.state == "behind":
        return True, (
            f"{where(url)}, schema {status.current}; {upgrade} brings it to {status.head}"
        )
    return False, (
        f"{where(url)} has schema {status.current}, which this version of newsbot does not "
        f"know (its newest is {status.head}): a newer newsbot migrated it; run that version"
    )


async def _check_bot(settings: Settings) -> tuple[bool, str]:
    assert settings.token is not None
    bot = build_bot(settings.token, settings.telegram_api_url)
    try:
        async with bot:
            me: telegram.User = bot.bot
    except TelegramError as exc:
        # PTB quotes the token in InvalidToken's message; a check's output lands in logs too.
        message = exc.message.replace(settings.token, "<TELEGRAM_BOT_TOKEN>")
        return False, f"{type(exc).__name__}: {message}"
    except Exception as exc:  # connection refused, DNS, TLS…
        return False, f"cannot reach {settings.telegram_api_url}: {type(exc).__name__}"
    return True, f"@{me.username} ({me.first_name}) via {settings.telegram_api_url}"


async def _check_channels(settings: Settings) -> bool:
    """One line per channel of CHANNELS; True when the bot may post to every one."""
    assert settings.token is not None
    ok = True
    bot = build_bot(settings.token, settings.telegram_api_url)
    try:
        async with bot:
            for spec in settings.channels:
                state = await check_channel(bot, spec)
                ok &= state.ok
                verdict = "OK" if state.ok else "FAILED"
                print(f"Channel {spec.chat} [{spec.edition}]: {verdict} — {state.sentence()}")
    except TelegramError:
        return False  # the token line above has said why
    return ok


async def run_checks(settings: Settings) -> int:
    """Print one line per check; return 0 only when every check passed."""
    print("Configuration: OK")
    print(f"  database: {settings.database_url.split('://', 1)[0]}")
    print(f"  feeds: {len(settings.feeds)}, polled every {settings.poll_interval:g} s")
    good, detail = await _check_database(settings)
    ok = good
    print(f"Database: {'OK' if good else 'FAILED'} — {detail}")
    async with create_feed_session(user_agent(), concurrency=settings.fetch_concurrency) as http:
        results = await asyncio.gather(
            *(_check_feed(settings, http, f.url) for f in settings.feeds)
        )
    for spec, (good, detail) in zip(settings.feeds, results, strict=True):
        ok &= good
        section = f" [{spec.section}]" if spec.section else ""
        print(f"Feed {redact_url(spec.url)}{section}: {'OK' if good else 'FAILED'} — {detail}")
    if settings.token:
        good, detail = await _check_bot(settings)
        ok &= good
        print(f"Telegram Bot API: {'OK' if good else 'FAILED'} — {detail}")
        if good and settings.channels:
            ok &= await _check_channels(settings)
    else:
        print("Telegram Bot API: skipped (TELEGRAM_BOT_TOKEN is not set; `newsbot run` needs it)")
    return 0 if ok else 1
