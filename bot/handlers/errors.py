"""The error handler: log the failure with its update id, apologise, keep serving."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, RetryAfter, TelegramError

from bot.handlers.common import Context, texts_for
from bot.i18n import N_, SOURCE_LOCALE, Texts, texts

log = logging.getLogger(__name__)

APOLOGY = N_("Sorry, something went wrong on our side. Please try again in a moment.")


async def _texts(update: Update, context: Context) -> Texts:
    """The reader's texts, or English when even reading their chat fails (the database may
    be what broke)."""
    try:
        return await texts_for(update, context)
    except Exception as exc:  # an apology in English beats none
        log.warning("update=%s cannot read the reader's language: %r", update.update_id, exc)
        return texts(SOURCE_LOCALE)


async def on_error(update: object, context: Context) -> None:
    """Called by PTB for any exception a handler raised; one bad update never stops the bot."""
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(context.error, RetryAfter):
        # Telegram is slowing this chat down: another message now (an apology) would only
        # be refused too and lengthen the wait. The pacer already logged it.
        log.warning("update=%s not answered: Telegram asked to wait", update_id)
        return
    log.error("update=%s failed: %r", update_id, context.error, exc_info=context.error)
    if not isinstance(update, Update):
        return
    if isinstance(context.error, Forbidden):
        return  # the reader blocked us; there is nobody to apologise to
    try:
        if update.callback_query is not None:
            t = await _texts(update, context)
            await update.callback_query.answer(t._(APOLOGY), show_alert=True)
        elif update.effective_message is not None and update.effective_chat is not None:
            t = await _texts(update, context)
            await update.effective_message.reply_text(t._(APOLOGY))
    except TelegramError as exc:
        log.warning("update=%s could not send the apology: %s", update_id, exc)
