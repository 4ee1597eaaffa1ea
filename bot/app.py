"""``newsbot run``: the composition root that builds and wires everything, then serves Telegram."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from apscheduler.schedulers.base import BaseScheduler
from telegram import Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application

from bot.channels import CHECK_EVERY, ChannelWatch, post_to_channels
from bot.command_menu import command_menu
from bot.comment_notify import TelegramCommentNotifier
from bot.config import ConfigError, Settings
from bot.deps import DEPS_KEY, Deps
from bot.handlers import register_handlers
from bot.i18n import SOURCE_LOCALE, TELEGRAM_COMMAND_CODES, texts
from bot.ops_server import OpsServer
from bot.services import Services, open_services
from bot.telegram_client import application_builder
from bot.webhook_server import WebhookServer
from jobs.admin_alerts import AlertMonitor
from jobs.leadership import Leadership, lock_for
from jobs.registry import register_poll_jobs, register_push_jobs, remove_jobs

log = logging.getLogger(__name__)

SERVICES_KEY = "newsbot.services"
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


def build_application(settings: Settings, services: Services) -> AnyApplication:
    """The PTB Application with its dependencies and handlers (the leader's jobs come later)."""
    application = application_builder(
        require_token(settings),
        settings.telegram_api_url,
        private_rate=(settings.private_chat_rate.count, settings.private_chat_rate.per),
        group_rate=(settings.group_chat_rate.count, settings.group_chat_rate.per),
    ).build()
    notifier = TelegramCommentNotifier(application.bot, settings, services.sessions)
    channels = None
    if settings.channels:
        channels = ChannelWatch(
            application.bot, settings.channels, services.sessions, notifier.alert_admins
        )
    application.bot_data[DEPS_KEY] = Deps(
        settings=settings,
        sessions=services.sessions,
        notifier=notifier,
        broadcaster=services.broadcaster,
        relay=services.relay,
        sections=services.sections,
        channels=channels,
    )
    if services.relay is not None:
        # The relay is built before the bot exists; it tells readers through this bot.
        services.relay.set_notifier(notifier)
    # For operators' tooling and end-to-end tests; handlers use Deps.
    application.bot_data[SERVICES_KEY] = services
    register_handlers(application)
    return application


class LeaderWork:
    """What exactly one instance does at a time: poll feeds, send pushes and digests, prune,
    watch for trouble — and, in long-polling mode, fetch Telegram's updates (Telegram allows
    one getUpdates caller per token; the others would only fight with 409 Conflict).

    Started when this instance is elected, stopped when it steps down or exits, so a standby
    can take over without anything being done twice.
    """

    def __init__(
        self, application: AnyApplication, services: Services, settings: Settings
    ) -> None:
        self._application = application
        self._services = services
        self._settings = settings
        self._jobs: list[str] = []
        self.polling = not settings.webhook_url

    @property
    def _scheduler(self) -> BaseScheduler:
        assert self._application.job_queue is not None
        # PTB's JobQueue wraps APScheduler: one scheduler for replies' jobs and ours.
        return self._application.job_queue.scheduler

    async def start(self) -> None:
        services, settings = self._services, self._settings
        self._jobs = register_poll_jobs(
            self._scheduler, services.poller, services.feeds, settings.poll_interval
        )
        if services.digests is not None:
            broadcaster = services.broadcaster
            notifier: TelegramCommentNotifier = self._application.bot_data[DEPS_KEY].notifier
            alerts = AlertMonitor(
                services.sessions,
                notifier.alert_admins,
                token_refused=lambda: broadcaster is not None and broadcaster.stats.unauthorized,
            )
            self._jobs += register_push_jobs(
                self._scheduler,
                services.digests,
                services.sessions,
                timedelta(days=settings.comment_window_days),
                timedelta(days=settings.retention_days),
                alerts,
                services.notices,
            )
        if services.notices is not None:
            await services.notices.warn_operator()
        if services.broadcaster is not None:
            # Telegram meters the bot, not the instance: a leader that just died may have used
            # up the current window, so the new one waits one window before its first send.
            services.broadcaster.limiter.pause(services.broadcaster.limiter.window)
            await services.broadcaster.start()
        if self.polling:
            updater = self._application.updater
            assert updater is not None
            await updater.start_polling(allowed_updates=Update.ALL_TYPES)

    async def stop(self) -> None:
        # In reverse: no new updates, no new jobs, then the sends in flight finish or go back.
        updater = self._application.updater
        if self.polling and updater is not None and updater.running:
            await updater.stop()
        remove_jobs(self._scheduler, self._jobs)
        self._jobs = []
        # A poll under way (a big feed takes seconds) ends at its next batch, or drops its
        # fetch or parse: PTB's job queue would otherwise wait for it before the exit.
        await self._services.poller.stop()
        if self._services.broadcaster is not None:
            await self._services.broadcaster.stop()


async def _start_channels(
    application: AnyApplication, services: Services, settings: Settings
) -> None:
    """Check the channels (every instance: any may take their discussion's updates), post
    to them with the fan-out, and check them again every few minutes."""
    watch = application.bot_data[DEPS_KEY].channels
    if watch is None:
        return
    await watch.check()
    if services.broadcaster is not None:
        post_to_channels(
            watch, services.broadcaster, settings, application.bot.username, services.sections
        )
    assert application.job_queue is not None

    async def check_channels(_: object) -> None:
        await watch.check()

    application.job_queue.run_repeating(
        check_channels, interval=CHECK_EVERY, first=CHECK_EVERY, name="channel-check"
    )


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
    """Start everything (database, feeds, Telegram) and stop it in reverse order on exit."""
    require_token(settings)
    async with open_services(settings, push=True) as services:
        application = build_application(settings, services)
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
        await _start_channels(application, services, settings)
        relay = services.relay
        work = LeaderWork(application, services, settings)
        leadership = Leadership(
            lock_for(services.engine), on_elected=work.start, on_lost=work.stop
        )
        ops = _ops_server(settings, services, application, leadership)
        webhook: WebhookServer | None = None
        application.bot_data[DEPS_KEY].is_leader = lambda: leadership.is_leader
        try:
            await _register_commands(application)
            await application.start()
            if ops is not None:
                await ops.start()
            if relay is not None:  # every instance relays: the outbox is claimed row by row
                await relay.start()
            if settings.webhook_url:
                # Behind a load balancer every instance takes updates; only the leader pushes.
                webhook = await _start_webhook(settings, application)
                mode = f"webhook on {settings.webhook_listen}:{webhook.port}"
            else:
                mode = "long polling"
            await leadership.start()
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
            if relay is not None:  # first: its POSTs in flight finish or go back to the outbox
                await relay.stop()
            await leadership.stop()  # stops polling, jobs and pushes, then frees the lock
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if webhook is not None:
                await webhook.stop()
            if ops is not None:
                await ops.stop()
            if application.running:
                await application.stop()
            await application.shutdown()


def _ops_server(
    settings: Settings,
    services: Services,
    application: AnyApplication,
    leadership: Leadership,
) -> OpsServer | None:
    """/healthz and /metrics when METRICS_PORT is set."""
    if settings.metrics_port is None:
        return None
    assert application.job_queue is not None
    scheduler = application.job_queue.scheduler
    broadcaster = services.broadcaster

    return OpsServer(
        services.sessions,
        listen=settings.metrics_listen,
        port=settings.metrics_port,
        scheduler_running=lambda: bool(scheduler.running),
        is_leader=lambda: leadership.is_leader,
        backoff_seconds=lambda: broadcaster.limiter.pause_remaining if broadcaster else 0.0,
    )


async def _start_webhook(settings: Settings, application: AnyApplication) -> WebhookServer:
    """Listen for Telegram's POSTs first, then tell Telegram where to send them."""
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
    return server


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
