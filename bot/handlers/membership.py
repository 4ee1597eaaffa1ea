"""``my_chat_member``: a reader blocked the bot, or a group removed it — stop pushing at once."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.ext import ChatMemberHandler

from bot.deps import deps
from bot.handlers.common import Context, remember_chat
from storage import chats as chat_store
from storage.clock import utcnow

log = logging.getLogger(__name__)

_GONE = (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT)


async def bot_membership_changed(update: Update, context: Context) -> None:
    """Mark the chat inactive when the bot can no longer post there, active when it can again."""
    change = update.my_chat_member
    if change is None:
        return
    status = change.new_chat_member.status
    active = status not in _GONE
    if active:
        await remember_chat(update, context, reactivate=True)
        return
    async with deps(context).sessions() as session, session.begin():
        known = await chat_store.set_active(session, change.chat.id, False, utcnow())
    if known:
        log.info("chat=%s inactive: bot status is now %s", change.chat.id, status)


HANDLERS = [ChatMemberHandler(bot_membership_changed, ChatMemberHandler.MY_CHAT_MEMBER)]
