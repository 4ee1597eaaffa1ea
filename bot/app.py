"""``newsbot run``: the composition root that builds and wires everything, then serves Telegram."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.config import ConfigError, Settings
from bot.deps import DEPS_KEY, Deps
from bot.handlers import register_handlers
from bot.services import open_services
from bot.telegram_client import application_builder
from jobs.registry import register_poll_jobs

log = logging.getLogger(__name__)
_STACK_KEY = "newsbot.exit_stack"


def build_application(settings: Settings) -> Application[Any, Any, Any, Any, Any, Any]:
    """The PTB Application with every handler registered; services open in ``post_init``."""
    if not settings.token:
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN is missing: get a token from @BotFather and set it in the "
            "environment or in .env."
        )
    application = (
        application_builder(settings.token, settings.telegram_api_url)
        .post_init(_start_services)
        .post_shutdown(_stop_services)
        .build()
    )
    application.bot_data["newsbot.settings"] = settings
    register_handlers(application)
    return application


async def _start_services(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    settings: Settings = application.bot_data["newsbot.settings"]
    stack = contextlib.AsyncExitStack()
    services = await stack.enter_async_context(open_services(settings))
    application.bot_data[_STACK_KEY] = stack
    application.bot_data[DEPS_KEY] = Deps(settings=settings, sessions=services.sessions)
    assert application.job_queue is not None
    register_poll_jobs(
        application.job_queue.scheduler, services.poller, services.feeds, settings.poll_interval
    )
    me = application.bot.bot
    log.info(
        "newsbot started as @%s: %d feeds every %g s, database %s",
        me.username, len(services.feeds), settings.poll_interval,
        settings.database_url.split("://", 1)[0],
    )


async def _stop_services(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    stack: contextlib.AsyncExitStack | None = application.bot_data.pop(_STACK_KEY, None)
    if stack is not None:
        await stack.aclose()


def run_bot(settings: Settings) -> int:
    """Serve until interrupted: long polling, or a webhook server when WEBHOOK_URL is set."""
    application = build_application(settings)
    if settings.webhook_url:
        from urllib.parse import urlsplit

        path = urlsplit(settings.webhook_url).path.lstrip("/")
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=path,
            webhook_url=settings.webhook_url,
            secret_token=(
                settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
            ),
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0
