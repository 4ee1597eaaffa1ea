"""Keyword alerts: /follow, /unfollow and /following, per chat and forum topic."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Message, Update
from telegram.ext import CommandHandler

from bot.deps import deps
from bot.handlers.common import Context, chat_texts, may_manage, remember_chat, thread_of
from bot.i18n import N_, Texts
from bot.render import escape
from jobs.delivery_policy import MAX_FOLLOW_CHARS, MAX_FOLLOWS_PER_COMMAND, parse_follow_args
from storage import follows as follow_store
from storage.clock import utcnow
from storage.engine import writing
from storage.follows import MAX_FOLLOWS_PER_CHAT

ADMINS_ONLY = N_("In groups, only admins can change the keywords this chat follows.")


def follow_usage(t: Texts) -> str:
    """How to use /follow."""
    return t.ngettext(
        "Send /follow with a word or a phrase in quotes, for example "
        '<code>/follow kirkuk</code> or <code>/follow "oil exports"</code>. Stories that '
        "mention it reach you even from sections you do not receive (up to {num} keyword at "
        "a time).",
        "Send /follow with a word or a phrase in quotes, for example "
        '<code>/follow kirkuk</code> or <code>/follow "oil exports"</code>. Stories that '
        "mention it reach you even from sections you do not receive (up to {num} keywords at "
        "a time).",
        MAX_FOLLOWS_PER_COMMAND,
    ).format(num=t.number(MAX_FOLLOWS_PER_COMMAND))


def nothing_valid(t: Texts) -> str:
    """A /follow or /unfollow that named no usable keyword."""
    return t.ngettext(
        "I found no keyword in that: use letters or digits, and at most {num} character for "
        "each word or quoted phrase.",
        "I found no keyword in that: use letters or digits, and at most {num} characters for "
        "each word or quoted phrase.",
        MAX_FOLLOW_CHARS,
    ).format(num=t.number(MAX_FOLLOW_CHARS))


def listed(t: Texts, phrases: Sequence[str]) -> str:
    """Keywords as one HTML list: <b>kirkuk</b>, <b>oil exports</b>."""
    return t.join(f"<b>{t.isolate(escape(p))}</b>" for p in phrases)


async def _change_request(
    update: Update, context: Context
) -> tuple[Message, Texts, int, int] | None:
    """The message, texts, chat and topic of a change the sender may make; None once
    refused."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    t = chat_texts(update, context, await remember_chat(update, context))
    if not await may_manage(update, context):
        await message.reply_text(t._(ADMINS_ONLY))
        return None
    return message, t, update.effective_chat.id, thread_of(message)


async def follow_command(update: Update, context: Context) -> None:
    """/follow WORDS or "PHRASES": push stories that mention them."""
    request = await _change_request(update, context)
    if request is None:
        return
    message, t, chat_id, thread = request
    if not context.args:
        await message.reply_html(follow_usage(t))
        return
    phrases = parse_follow_args(" ".join(context.args))
    if not phrases:
        await message.reply_text(nothing_valid(t))
        return
    async with writing(deps(context).sessions) as session:
        before = set(await follow_store.following(session, chat_id, thread))
        added = await follow_store.follow(session, chat_id, thread, phrases, utcnow())
    already = [p for p in phrases if p in before]
    left_out = [p for p in phrases if p not in before and p not in added]
    lines = []
    if added:
        lines.append(
            "🔔 "
            + t.ngettext(
                "Now following {keywords}: stories that mention it reach you even from "
                "sections you do not receive.",
                "Now following {keywords}: stories that mention them reach you even from "
                "sections you do not receive.",
                len(added),
            ).format(keywords=listed(t, added))
        )
    if already:
        lines.append(t._("Already followed: {keywords}.").format(keywords=listed(t, already)))
    if left_out:
        lines.append(
            t.ngettext(
                "Not added: {keywords}. A chat follows at most {num} keyword; /unfollow some "
                "first.",
                "Not added: {keywords}. A chat follows at most {num} keywords; /unfollow some "
                "first.",
                MAX_FOLLOWS_PER_CHAT,
            ).format(keywords=listed(t, left_out), num=t.number(MAX_FOLLOWS_PER_CHAT))
        )
    lines.append(t._("/following lists them all; /unfollow stops one or all."))
    await message.reply_html("\n".join(lines))


async def unfollow_command(update: Update, context: Context) -> None:
    """/unfollow WORDS: stop those keywords; /unfollow alone: stop all of them."""
    request = await _change_request(update, context)
    if request is None:
        return
    message, t, chat_id, thread = request
    phrases = parse_follow_args(" ".join(context.args)) if context.args else None
    if phrases == []:
        await message.reply_text(nothing_valid(t))
        return
    async with writing(deps(context).sessions) as session:
        removed = await follow_store.unfollow(session, chat_id, thread, phrases)
        remaining = await follow_store.following(session, chat_id, thread)
    if phrases is None:
        if not removed:
            await message.reply_text(t._("You follow no keywords, so there was nothing to stop."))
        else:
            await message.reply_html(
                "🔕 "
                + t._("Stopped following every keyword: {keywords}.").format(
                    keywords=listed(t, removed)
                )
            )
        return
    not_followed = [p for p in phrases if p not in removed]
    lines = []
    if removed:
        lines.append(
            "🔕 " + t._("Stopped following {keywords}.").format(keywords=listed(t, removed))
        )
    if not_followed:
        lines.append(
            t._("You did not follow {keywords}.").format(keywords=listed(t, not_followed))
        )
    lines.append(
        t._("Still following: {keywords}.").format(keywords=listed(t, remaining))
        if remaining
        else t._("You follow no keywords now.")
    )
    await message.reply_html("\n".join(lines))


async def following_command(update: Update, context: Context) -> None:
    """/following: the keywords this chat (topic) follows."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    t = chat_texts(update, context, await remember_chat(update, context))
    async with deps(context).sessions() as session:
        phrases = await follow_store.following(
            session, update.effective_chat.id, thread_of(message)
        )
    if not phrases:
        await message.reply_html(t._("You follow no keywords yet.") + " " + follow_usage(t))
        return
    await message.reply_html(
        t._("<b>Keywords you follow</b> ({num}): {keywords}.").format(
            num=t.number(len(phrases)), keywords=listed(t, phrases)
        )
        + "\n"
        + t._(
            "Stories that mention any of them reach you even from sections you do not "
            "receive. /unfollow WORD stops one; /unfollow alone stops all."
        )
    )


HANDLERS = [
    CommandHandler("follow", follow_command),
    CommandHandler("unfollow", unfollow_command),
    CommandHandler("following", following_command),
]
