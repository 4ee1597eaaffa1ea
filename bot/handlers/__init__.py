"""Handler modules, registered in one visible order."""

from __future__ import annotations

from typing import Any

from telegram import BotCommand
from telegram.ext import Application

from bot.handlers import (
    admin,
    alerts,
    comments,
    errors,
    inline,
    latest,
    membership,
    moderation,
    preferences,
    start,
    subscriptions,
)

# Order matters only between overlapping handlers: comments (which take private replies)
# before the catch-all hint, which comes last.
HANDLER_MODULES = (
    start,
    subscriptions,
    latest,
    preferences,
    alerts,
    admin,
    comments,
    moderation,
    inline,
    membership,
)

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
    BotCommand("comments", "Read a story's comments (reply it to the story)"),
    BotCommand("mycomments", "Your comments and their status"),
    BotCommand("name", "The name shown with your comments"),
    BotCommand("help", "Everything the bot can do"),
    BotCommand("privacy", "What is stored and how to delete it"),
)


def register_handlers(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add every handler module's handlers, then the fallbacks, the error handler and the
    job that re-sends moderation cards."""
    for module in HANDLER_MODULES:
        application.add_handlers(module.HANDLERS)
    application.add_handlers(latest.FALLBACK_HANDLERS)
    moderation.register_jobs(application)
    application.add_error_handler(errors.on_error)
