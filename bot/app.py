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

from telegram import Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application

from bot.config import ConfigError, Settings
from bot.deps import DEPS_KEY, Deps
from bot.handlers import COMMANDS, register_handlers
from bot.services import Services, open_services
from bot.telegram_client import application_builder
from jobs.registry import register_poll_jobs, register_push_jobs
from storage.stories import list_sections

log = logging.getLogger(__name__)

SERVICES_KEY = "newsbot.services"
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
    """The PTB Application with its dependencies, handlers and jobs registered."""
    application = application_builder(require_token(settings), settings.telegram_api_url).build()
    application.bot_data[DEPS_KEY] = Deps(
        settings=settings, sessions=services.sessions, broadcaster=services.broadcaster
    )
    # For operators' tooling and end-to-end tests; handlers use Deps.
    application.bot_data[SERVICES_KEY] = services
    register_handlers(application)
    assert application.job_queue is not None
    # PTB's JobQueue wraps APScheduler: one scheduler for replies' jobs and ours.
    scheduler = application.job_queue.scheduler
    register_poll_jobs(scheduler, services.poller, services.feeds, settings.poll_interval)
    if services.digests is not None:
        register_push_jobs(
            scheduler,
            services.digests,
            services.sessions,
            timedelta(days=settings.comment_window_days),
        )
    return application


async def _register_commands(application: AnyApplication) -> None:
    try:
        await application.bot.set_my_commands(list(COMMANDS))
    except TelegramError as exc:  # a menu is nice to have, never a reason not to start
        log.warning("could not register the command menu: %s", exc)


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
        broadcaster = services.broadcaster
        try:
            await _register_commands(application)
            await _refresh_section_names(services)
            assert application.job_queue is not None
            application.job_queue.scheduler.add_job(
                _refresh_section_names,
                "interval",
                seconds=60,
                args=[services],
                id="refresh-section-names",
                max_instances=1,
                coalesce=True,
                replace_existing=True,
            )
            await application.start()
            if broadcaster is not None:
                await broadcaster.start()
            updater = application.updater
            assert updater is not None
            if settings.webhook_url:
                secret = _webhook_secret(settings)
                await updater.start_webhook(
                    listen=settings.webhook_listen,
                    port=settings.webhook_port,
                    url_path=urlsplit(settings.webhook_url).path.lstrip("/"),
                    webhook_url=settings.webhook_url,
                    secret_token=secret,
                    allowed_updates=Update.ALL_TYPES,
                )
                mode = f"webhook on {settings.webhook_listen}:{settings.webhook_port}"
            else:
                await updater.start_polling(allowed_updates=Update.ALL_TYPES)
                mode = "long polling"
            log.info(
                "newsbot started as @%s (%s): %d feeds every %g s",
                application.bot.username,
                mode,
                len(services.feeds),
                settings.poll_interval,
            )
            yield application
        finally:
            if broadcaster is not None:
                await broadcaster.stop()
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            await application.shutdown()


async def _refresh_section_names(services: Services) -> None:
    """Pushes show sections by the outlet's names; new sections appear as feeds bring them."""
    if services.renderer is None:
        return
    async with services.sessions() as session:
        services.renderer.section_names = dict(await list_sections(session))


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
