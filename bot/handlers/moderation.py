"""Held comments and their moderators: cards with Approve / Reject (plain, or with a reason
the reader is told), the verdict, /ban, /unban.

A card goes to MODERATION_CHAT_ID when it is set, else to each ADMIN_IDS private chat. Cards
are sent right after a comment is stored; a repeating job sends the cards a crash (or an
unreachable chat) left unsent, so no held comment waits unseen.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

import telegram
from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import comment_texts
from bot.callbacks import parse_id
from bot.comment_notify import chat_texts_by_id
from bot.deps import Deps, deps
from bot.handlers.common import (
    BOT_ADMINS_ONLY,
    NO_PREVIEW,
    Context,
    is_chat_admin,
    keyboard,
    redraw,
    texts_for,
)
from bot.i18n import Texts
from bot.render import Button
from news.clock import utcnow
from storage import comments as comment_store
from storage.comments import QUEUED, CommentView, text_version
from storage.engine import writing

log = logging.getLogger(__name__)

# A card younger than this is probably being sent by the handler that stored the comment.
CARD_GRACE = timedelta(seconds=30)


def card_buttons(comment: CommentView, *, t: Texts) -> list[list[Button]]:
    """Approve / Reject under a card, then Reject with one of the common reasons (the reader
    is told it); they name the text shown, so an edit voids them. The longest callback data,
    ``md:r:<19 digits>:<8 hex>:duplicate``, is 44 bytes."""
    version = text_version(comment.text)
    reject = f"md:r:{comment.id}:{version}"
    reasons = [
        Button(
            f"❌ {comment_texts.moderation_reason_label(code, t=t)}", callback=f"{reject}:{code}"
        )
        for code in comment_texts.MODERATION_REASONS
    ]
    return [
        [
            # Translators: a moderation card's button: publish the held comment.
            Button(t.pgettext("button", "✅ Approve"), callback=f"md:a:{comment.id}:{version}"),
            # Translators: a moderation card's button: do not publish the held comment.
            Button(t.pgettext("button", "❌ Reject"), callback=reject),
        ],
        reasons[:2],
        reasons[2:],
    ]


def card_chats(d: Deps) -> list[int]:
    """Where cards go: the moderators' chat, else every bot administrator."""
    settings = d.settings
    if settings.moderation_chat_id is not None:
        return [settings.moderation_chat_id]
    return list(settings.admin_ids)


async def card_texts(d: Deps) -> dict[int, Texts]:
    """The texts of each chat cards go to, from its own record (``card_chats``)."""
    return {
        chat_id: await chat_texts_by_id(d.sessions, d.settings.default_edition, chat_id)
        for chat_id in card_chats(d)
    }


async def send_cards(
    bot: telegram.Bot,
    d: Deps,
    comment: CommentView,
    *,
    edited: bool = False,
    texts: Mapping[int, Texts] | None = None,
) -> bool:
    """Send a held comment's card to the moderators (in each chat's language: ``texts``, as
    ``card_texts`` gives them, else read now); True (and recorded) once one arrived."""
    if texts is None:
        texts = await card_texts(d)
    delivered = False
    for chat_id, t in texts.items():
        text = comment_texts.moderation_card(comment, t=t, edited=edited)
        markup = keyboard(card_buttons(comment, t=t))
        try:
            await bot.send_message(
                chat_id,
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=NO_PREVIEW,
            )
            delivered = True
        except TelegramError as exc:
            log.warning("comment=%s card not sent to chat=%s: %s", comment.id, chat_id, exc)
    if delivered:
        async with writing(d.sessions) as session:
            await comment_store.mark_card_sent(session, comment.id)
    return delivered


async def resend_cards(bot: telegram.Bot, d: Deps) -> None:
    """Cards for held comments whose card was never sent (a crash came between); the
    background registry runs this on the leader every minute."""
    if not d.settings.comments_enabled or not card_chats(d) or not d.is_leader():
        return  # one instance re-sends, or each would send its own copy
    async with d.sessions() as session:
        waiting = await comment_store.held_without_card(session, before=utcnow() - CARD_GRACE)
    if not waiting:
        return
    texts = await card_texts(d)
    for comment in waiting:
        await send_cards(bot, d, comment, texts=texts)


async def _may_moderate(update: Update, context: Context) -> bool:
    """ADMIN_IDS anywhere; the moderators' chat admins in that chat."""
    user, chat = update.effective_user, update.effective_chat
    settings = deps(context).settings
    if user is None:
        return False
    if user.id in settings.admin_ids:
        return True
    if chat is None or chat.id != settings.moderation_chat_id:
        return False
    return await is_chat_admin(context, chat.id, user.id)


async def decision_button(update: Update, context: Context) -> None:
    """Approve / Reject: record the verdict, mark the card, tell the reader."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, action, raw_id, version, code = [*query.data.split(":"), "", "", "", ""][:5]
    comment_id = parse_id(raw_id)
    known = not code or code in comment_texts.MODERATION_REASONS
    if comment_id is None or action not in ("a", "r") or not known:
        await query.answer()
        return
    # The card's chat (the moderators' chat, or an admin's private chat) and its language.
    chat = update.effective_chat
    d = deps(context)
    if chat is not None:
        t = await chat_texts_by_id(d.sessions, d.settings.default_edition, chat.id)
    else:
        t = await texts_for(update, context)
    if not await _may_moderate(update, context):
        await query.answer(t._(comment_texts.ONLY_MODERATORS), show_alert=True)
        return
    approve = action == "a"
    user = query.from_user
    async with writing(d.sessions) as session:
        decided = await comment_store.decide(
            session,
            comment_id,
            approve=approve,
            by=user.id,
            relay=bool(d.settings.comments_url),
            now=utcnow(),
            retry_for=timedelta(hours=d.settings.comment_retry_hours),
            reason=comment_texts.moderation_reason(code) if code and not approve else None,
            version=version or None,
        )
    if decided is None:
        async with d.sessions() as session:
            current = await comment_store.get_comment(session, comment_id)
        line = comment_texts.already_decided(current, t=t)
        await query.answer(line)
        body = comment_texts.moderation_card(current, t=t) if current else ""
        await redraw(query, f"{body}\n\n{line}".strip(), [], link_preview_options=NO_PREVIEW)
        return
    # Translators: the short notice a moderator sees after pressing Approve / Reject.
    await query.answer(t._("Approved") if approve else t._("Rejected"))
    to_site = decided.status == QUEUED
    line = comment_texts.verdict(
        approve, user.full_name, to_site=to_site, t=t, reason=code if not approve else None
    )
    card = comment_texts.moderation_card(decided, t=t)
    await redraw(query, f"{card}\n\n{line}", [], link_preview_options=NO_PREVIEW)
    log.info("comment=%s %s by moderator=%s", decided.id, decided.status, user.id)
    # The reader hears in their own language, not the moderators'.
    notifier = d.notifier
    if to_site:
        # Told before the relay is woken, so its verdict is the edit that stays.
        await notifier.approved_for_site(decided)
        if d.relay is not None:
            d.relay.wake()
    else:
        await notifier.comment_changed(decided)
        async with writing(d.sessions) as session:
            await comment_store.mark_told(session, decided.id, decided.status)


async def _ban_target(message: Message, context: Context) -> int | None:
    """The reader a /ban names: a numeric id, or the author of the card it replies to."""
    if context.args:
        raw = context.args[0]
        return int(raw) if raw.isdigit() and len(raw) <= 15 else None
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return None
    comment_id = comment_texts.card_comment_id(replied.text)
    if comment_id is None:
        return None
    async with deps(context).sessions() as session:
        comment = await comment_store.get_comment(session, comment_id)
    return comment.user_id if comment is not None else None


async def _ban(update: Update, context: Context, banned: bool) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None
    command = "ban" if banned else "unban"
    d = deps(context)
    t = await texts_for(update, context)
    if user is None or user.id not in d.settings.admin_ids:
        await message.reply_text(t._(BOT_ADMINS_ONLY).format(command=f"/{command}"))
        return
    target = await _ban_target(message, context)
    if target is None:
        replied = message.reply_to_message is not None and not context.args
        if replied:
            await message.reply_html(t._(comment_texts.CARD_UNKNOWN))
        else:
            await message.reply_html(t._(comment_texts.BAN_USAGE).format(command=command))
        return
    async with writing(d.sessions) as session:
        changed = await comment_store.set_banned(session, target, banned, utcnow())
    log.info("reader=%s %sned from commenting by admin=%s", target, command, user.id)
    answer = comment_texts.banned if banned else comment_texts.unbanned
    await message.reply_html(answer(target, changed, t=t))


async def ban_command(update: Update, context: Context) -> None:
    """/ban: refuse a reader's comments from now on (ADMIN_IDS only)."""
    await _ban(update, context, True)


async def unban_command(update: Update, context: Context) -> None:
    """/unban: let a banned reader comment again (ADMIN_IDS only)."""
    await _ban(update, context, False)


HANDLERS = [
    CommandHandler("ban", ban_command),
    CommandHandler("unban", unban_command),
    CallbackQueryHandler(decision_button, pattern=r"^md:"),
]
