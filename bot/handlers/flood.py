"""The flood gate's one visible act: telling a reader, once per flood, to slow down (the
dropping itself happens before any handler runs, in ``bot.pacing.GatedUpdates``)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop, TypeHandler

from bot.handlers.common import Context, texts_for
from bot.i18n import N_
from bot.pacing import GatedUpdates

SLOW_DOWN = N_(
    "You are sending commands faster than I can answer, so I skipped some. Wait a few "
    "seconds, then send the one you need again."
)


async def gate(update: Update, context: Context) -> None:
    """Answer the update the gate marked with the note, and stop every other handler."""
    processor = context.application.update_processor
    if not isinstance(processor, GatedUpdates) or not processor.take_warning(update.update_id):
        return
    t = await texts_for(update, context)
    if update.callback_query is not None:
        await update.callback_query.answer(t._(SLOW_DOWN), show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(t._(SLOW_DOWN))
    raise ApplicationHandlerStop


# Registered in group -1, ahead of every other handler.
GATE = TypeHandler(Update, gate)
