"""``my_chat_member``: a reader blocked the bot, or a group removed it — stop pushing at once."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.ext import ChatMemberHandler, MessageHandler, filters

from bot.deps import deps
from bot.handlers.common import Context, remember_chat
from news.clock import utcnow
from storage import chats as chat_store
from storage.engine import writing

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
    async with writing(deps(context).sessions) as session:
        # Stopped before any send fails: queued pushes for this chat are not attempted.
        known = await chat_store.set_active(
            session, change.chat.id, False, utcnow(), reason=f"bot status {status}"
        )
    if known:
        log.info("chat=%s inactive: bot status is now %s", change.chat.id, status)


async def group_migrated(update: Update, context: Context) -> None:
    """A group upgraded to a supergroup: its subscriptions follow it to the new chat id."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        old, new = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat.id
    else:
        return
    async with writing(deps(context).sessions) as session:
        moved = await chat_store.move_chat(session, old, new, utcnow())
    if moved:
        log.info("chat=%s migrated to chat=%s; subscriptions moved", old, new)


HANDLERS = [
    ChatMemberHandler(bot_membership_changed, ChatMemberHandler.MY_CHAT_MEMBER),
    MessageHandler(filters.StatusUpdate.MIGRATE, group_migrated),
]
