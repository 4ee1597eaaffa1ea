"""Handler modules, registered in one visible order."""

from __future__ import annotations

from typing import Any

from telegram import BotCommand
from telegram.ext import Application

from bot.handlers import (
    admin,
    alerts,
    errors,
    inline,
    latest,
    membership,
    preferences,
    start,
    subscriptions,
)

# Order matters only between overlapping handlers: the catch-all hint comes last.
HANDLER_MODULES = (start, subscriptions, latest, preferences, alerts, admin, inline, membership)

COMMANDS = (
    BotCommand("latest", "The newest stories"),
    BotCommand("search", "Find stories by words"),
    BotCommand("subscribe", "Get new stories as they are published"),
    BotCommand("sections", "Choose sections"),
    BotCommand("unsubscribe", "Stop pushes"),
    BotCommand("settings", "Sections, delivery, quiet hours, time zone"),
    BotCommand("follow", 'Alerts for a word or a "phrase"'),
    BotCommand("following", "The keywords you follow"),
    BotCommand("unfollow", "Stop keyword alerts"),
    BotCommand("quiet", "Quiet hours, e.g. /quiet 23:00-07:00"),
    BotCommand("help", "Everything the bot can do"),
    BotCommand("privacy", "What is stored and how to delete it"),
)


def register_handlers(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add every handler module's handlers, then the fallbacks and the error handler."""
    for module in HANDLER_MODULES:
        application.add_handlers(module.HANDLERS)
    application.add_handlers(latest.FALLBACK_HANDLERS)
    application.add_error_handler(errors.on_error)
