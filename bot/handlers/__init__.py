"""Handler modules, registered in one visible order."""

from __future__ import annotations

from typing import Any

from telegram import BotCommand
from telegram.ext import Application

from bot.handlers import errors, inline, latest, membership, preferences, start, subscriptions

# Order matters only between overlapping handlers: the catch-all hint comes last.
HANDLER_MODULES = (start, subscriptions, latest, preferences, inline, membership)

COMMANDS = (
    BotCommand("latest", "The newest stories"),
    BotCommand("search", "Find stories by words"),
    BotCommand("subscribe", "Get new stories as they are published"),
    BotCommand("sections", "Choose sections"),
    BotCommand("unsubscribe", "Stop pushes"),
    BotCommand("settings", "Sections and time zone"),
    BotCommand("help", "Everything the bot can do"),
    BotCommand("privacy", "What is stored and how to delete it"),
)


def register_handlers(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add every handler module's handlers, then the fallbacks and the error handler."""
    for module in HANDLER_MODULES:
        application.add_handlers(module.HANDLERS)
    application.add_handlers(latest.FALLBACK_HANDLERS)
    application.add_error_handler(errors.on_error)
