"""``newsbot run``: the composition root that builds and wires everything, then serves Telegram."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import signal
import tempfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from apscheduler.schedulers.base import BaseScheduler
from telegram import Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application

from bot.command_menu import command_menu
from bot.config import ConfigError, Settings
from bot.deps import DEPS_KEY, Deps
from bot.handlers import register_handlers
from bot.handlers.moderation import resend_cards
from bot.i18n import SOURCE_LOCALE, TELEGRAM_COMMAND_CODES, texts
from bot.ops_server import OpsServer
from bot.services import Services, open_services
from bot.telegram_client import application_builder
from bot.webhook_server import WebhookServer
from jobs.feed_polling import FeedPolling
from jobs.leadership import Leadership
from jobs.registry import BackgroundParts, BackgroundRunner, background_work
from storage.leader_lock import leader_lock_for

log = logging.getLogger(__name__)

# How long a starting instance waits to be elected before it reports itself a standby.
STANDBY_AFTER = 3.0
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def require_token(settings: Settings) -> str:
    """The bot token, or a plain sentence saying it is missing."""
    if not settings.token:
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN is missing: get a token from @BotFather and set it in the "
            "environment or in .env."
        )
    return settings.token


def build_application(settings: Settings) -> AnyApplication:
    """The PTB Application with its handlers (what they use is put on ``bot_data`` by
    ``running``, once built)."""
    application = application_builder(
        require_token(settings),
        settings.telegram_api_url,
        private_rate=(settings.private_chat_rate.count, settings.private_chat_rate.per),
        group_rate=(settings.group_chat_rate.count, settings.group_chat_rate.per),
    ).build()
    register_handlers(application)
    return application


class TelegramPolling:
    """Long polling for Telegram's updates (the leader's: Telegram allows one getUpdates
    caller per token; the others would only fight with 409 Conflict)."""

    def __init__(self, application: AnyApplication) -> None:
        self._application = application

    async def start(self) -> None:
        updater = self._application.updater
        assert updater is not None
        await updater.start_polling(allowed_updates=Update.ALL_TYPES)

    async def stop(self) -> None:
        updater = self._application.updater
        if updater is not None and updater.running:
            await updater.stop()


class TelegramWebhook:
    """Listens for Telegram's POSTs first, then tells Telegram where to send them."""

    def __init__(self, settings: Settings, application: AnyApplication) -> None:
        assert settings.webhook_url is not None
        self._settings = settings
        self._application = application
        self._server: WebhookServer | None = None

    @property
    def port(self) -> int | None:
        """The port listened on, once started."""
        return self._server.port if self._server is not None else None

    async def start(self) -> None:
        settings, application = self._settings, self._application
        assert settings.webhook_url is not None
        secret = _webhook_secret(settings)
        server = WebhookServer(
            application.bot,
            application.update_queue,
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            path=urlsplit(settings.webhook_url).path,
            secret=secret,
        )
        await server.start()
        try:
            await application.bot.set_webhook(
                url=settings.webhook_url,
                secret_token=secret,
                allowed_updates=Update.ALL_TYPES,
            )
        except BaseException:
            await server.stop()
            raise
        self._server = server

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop()


async def _register_commands(application: AnyApplication) -> None:
    """The menu in English for every client (no language_code), then once per language
    Telegram has a code for (Sorani has none: its readers see the default menu)."""
    menus = [(None, SOURCE_LOCALE), *((c, loc) for loc, c in TELEGRAM_COMMAND_CODES.items())]
    for code, locale in menus:
        try:
            await application.bot.set_my_commands(command_menu(texts(locale)), language_code=code)
        except TelegramError as exc:  # a menu is nice to have, never a reason not to start
            log.warning("could not register the command menu (%s): %s", code or "default", exc)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[AnyApplication]:
    """Build everything in order, start it, and stop it in reverse order on exit: the
    settings, the Telegram application, the database and HTTP sessions with the notifiers and
    workers (``open_services``), the leadership, the handlers' dependencies, then the
    background work (``jobs.registry``) and its runner."""
    application = build_application(settings)
    async with open_services(settings, bot=application.bot) as services:
        try:
            await application.initialize()
        except InvalidToken:
            raise ConfigError(
                f"TELEGRAM_BOT_TOKEN was refused by the Bot API at {settings.telegram_api_url}; "
                "check the token from @BotFather."
            ) from None
        except NetworkError as exc:
            raise ConfigError(
                f"TELEGRAM_API_URL {settings.telegram_api_url} cannot be reached ({exc.message})."
            ) from None
        assert application.job_queue is not None
        # PTB's JobQueue wraps APScheduler: one scheduler for replies' jobs and ours.
        scheduler = application.job_queue.scheduler
        leadership = Leadership(
            leader_lock_for(services.engine, scratch_dir=Path(tempfile.gettempdir()))
        )
        deps = Deps(services, is_leader=lambda: leadership.is_leader)
        application.bot_data[DEPS_KEY] = deps
        webhook = TelegramWebhook(settings, application) if settings.webhook_url else None
        work = background_work(
            BackgroundParts(
                sessions=services.sessions,
                feed_polling=FeedPolling(services.poller, services.feeds, settings.poll_interval),
                comment_window=timedelta(days=settings.comment_window_days),
                retention=timedelta(days=settings.retention_days),
                broadcaster=services.broadcaster,
                digests=services.digests,
                alerts=services.alerts,
                notices=services.notices,
                relay=services.relay,
                outlet_inbox=services.outlet_inbox,
                comments_feed=services.comments_feed,
                hooks_server=services.hooks_server,
                websub=services.websub,
                moderation_cards=functools.partial(resend_cards, application.bot, deps),
                ops_server=_ops_server(settings, services, scheduler, leadership),
                channel_check=services.channels.check if services.channels else None,
                telegram_webhook=webhook,
                telegram_polling=None if webhook else TelegramPolling(application),
            )
        )
        runner = BackgroundRunner(work, scheduler, leadership)
        try:
            await _register_commands(application)
            await application.start()
            await runner.start()
            if webhook is not None:
                mode = f"webhook on {settings.webhook_listen}:{webhook.port}"
            else:
                mode = "long polling"
            with contextlib.suppress(TimeoutError):
                # Alone, an instance leads at once; a standby says so instead of waiting.
                await asyncio.wait_for(leadership.elected.wait(), timeout=STANDBY_AFTER)
            log.info(
                "newsbot started as @%s (%s, %s): %d feeds every %g s",
                application.bot.username,
                mode,
                "leader" if leadership.is_leader else "standby: another instance leads",
                len(services.feeds),
                settings.poll_interval,
            )
            yield application
        finally:
            # The leader's work (polling Telegram, jobs, pushes), then the lock, then the
            # relay, the webhook and the operators' endpoint.
            await runner.stop()
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            await application.shutdown()


def _ops_server(
    settings: Settings, services: Services, scheduler: BaseScheduler, leadership: Leadership
) -> OpsServer | None:
    """/healthz and /metrics when METRICS_PORT is set."""
    if settings.metrics_port is None:
        return None
    broadcaster = services.broadcaster
    return OpsServer(
        services.sessions,
        listen=settings.metrics_listen,
        port=settings.metrics_port,
        scheduler_running=lambda: bool(scheduler.running),
        is_leader=lambda: leadership.is_leader,
        backoff_seconds=lambda: broadcaster.limiter.pause_remaining if broadcaster else 0.0,
    )


def _webhook_secret(settings: Settings) -> str:
    """WEBHOOK_SECRET, or a fresh random one: a webhook must never act on forged requests."""
    if settings.webhook_secret:
        return settings.webhook_secret.get_secret_value()
    log.warning(
        "WEBHOOK_SECRET is not set: using a random secret for this run; set it when several "
        "instances share the webhook"
    )
    return secrets.token_urlsafe(32)


async def _serve_until_signal(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with running(settings):
        await stop.wait()
        log.info("newsbot stopping")


def run_bot(settings: Settings) -> int:
    """Serve until SIGINT or SIGTERM: long polling, or a webhook server when WEBHOOK_URL is set."""
    asyncio.run(_serve_until_signal(settings))
    return 0
