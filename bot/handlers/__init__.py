"""Handler modules, registered in one visible order."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application

from bot.handlers import (
    admin,
    comments,
    discussion,
    errors,
    flood,
    inline,
    keywords,
    language,
    latest,
    membership,
    moderation,
    preferences,
    site_comments,
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
    language,
    keywords,
    admin,
    comments,
    site_comments,
    moderation,
    inline,
    membership,
)


def register_handlers(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the flood gate, every handler module's handlers, then the fallbacks and the error
    handler."""
    application.add_handler(flood.GATE, group=-1)
    for module in HANDLER_MODULES:
        application.add_handlers(module.HANDLERS)
    application.add_handlers(comments.FALLBACK_HANDLERS)
    # Channels' discussion groups: every message there is looked at, whatever else takes it.
    application.add_handlers(discussion.HANDLERS, group=1)
    application.add_error_handler(errors.on_error)
