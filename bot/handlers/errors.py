"""The error handler: log the failure with its update id, apologise, keep serving."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot.handlers.common import Context

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."


async def on_error(update: object, context: Context) -> None:
    """Called by PTB for any exception a handler raised; one bad update never stops the bot."""
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("update=%s failed: %r", update_id, context.error, exc_info=context.error)
    if not isinstance(update, Update):
        return
    if isinstance(context.error, Forbidden):
        return  # the reader blocked us; there is nobody to apologise to
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(APOLOGY, show_alert=True)
        elif update.effective_message is not None and update.effective_chat is not None:
            await update.effective_message.reply_text(APOLOGY)
    except TelegramError as exc:
        log.warning("update=%s could not send the apology: %s", update_id, exc)
