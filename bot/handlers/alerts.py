"""Keyword alerts: /follow, /unfollow and /following, per chat and forum topic."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Message, Update
from telegram.ext import CommandHandler

from bot.deps import deps
from bot.handlers.common import Context, may_manage, remember_chat, thread_of
from bot.render import escape
from jobs.delivery_policy import MAX_FOLLOW_CHARS, MAX_FOLLOWS_PER_COMMAND, parse_follow_args
from storage import follows as follow_store
from storage.clock import utcnow
from storage.engine import writing
from storage.follows import MAX_FOLLOWS_PER_CHAT

ADMINS_ONLY = "In groups, only admins can change the keywords this chat follows."
FOLLOW_USAGE = (
    "Send /follow with a word or a phrase in quotes, for example <code>/follow kirkuk</code> "
    'or <code>/follow "oil exports"</code>. Stories that mention it reach you even from '
    f"sections you do not receive (up to {MAX_FOLLOWS_PER_COMMAND} keywords at a time)."
)
NOTHING_VALID = (
    "I found no keyword in that: use letters or digits, and at most "
    f"{MAX_FOLLOW_CHARS} characters for each word or quoted phrase."
)


def listed(phrases: Sequence[str]) -> str:
    """Keywords as one HTML list: <b>kirkuk</b>, <b>oil exports</b>."""
    return ", ".join(f"<b>{escape(p)}</b>" for p in phrases)


async def _change_request(update: Update, context: Context) -> tuple[Message, int, int] | None:
    """The message, chat and topic of a change the sender may make; None once refused."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    await remember_chat(update, context)
    if not await may_manage(update, context):
        await message.reply_text(ADMINS_ONLY)
        return None
    return message, update.effective_chat.id, thread_of(message)


async def follow_command(update: Update, context: Context) -> None:
    """/follow WORDS or "PHRASES": push stories that mention them."""
    request = await _change_request(update, context)
    if request is None:
        return
    message, chat_id, thread = request
    if not context.args:
        await message.reply_html(FOLLOW_USAGE)
        return
    phrases = parse_follow_args(" ".join(context.args))
    if not phrases:
        await message.reply_text(NOTHING_VALID)
        return
    async with writing(deps(context).sessions) as session:
        before = set(await follow_store.following(session, chat_id, thread))
        added = await follow_store.follow(session, chat_id, thread, phrases, utcnow())
    already = [p for p in phrases if p in before]
    left_out = [p for p in phrases if p not in before and p not in added]
    lines = []
    if added:
        lines.append(
            f"🔔 Now following {listed(added)}: stories that mention "
            f"{'it' if len(added) == 1 else 'them'} reach you even from sections you do not "
            "receive."
        )
    if already:
        lines.append(f"Already followed: {listed(already)}.")
    if left_out:
        lines.append(
            f"Not added: {listed(left_out)}. A chat follows at most {MAX_FOLLOWS_PER_CHAT} "
            "keywords; /unfollow some first."
        )
    lines.append("/following lists them all; /unfollow stops one or all.")
    await message.reply_html("\n".join(lines))


async def unfollow_command(update: Update, context: Context) -> None:
    """/unfollow WORDS: stop those keywords; /unfollow alone: stop all of them."""
    request = await _change_request(update, context)
    if request is None:
        return
    message, chat_id, thread = request
    phrases = parse_follow_args(" ".join(context.args)) if context.args else None
    if phrases == []:
        await message.reply_text(NOTHING_VALID)
        return
    async with writing(deps(context).sessions) as session:
        removed = await follow_store.unfollow(session, chat_id, thread, phrases)
        remaining = await follow_store.following(session, chat_id, thread)
    if phrases is None:
        if not removed:
            await message.reply_text("You follow no keywords, so there was nothing to stop.")
        else:
            await message.reply_html(f"🔕 Stopped following every keyword: {listed(removed)}.")
        return
    not_followed = [p for p in phrases if p not in removed]
    lines = []
    if removed:
        lines.append(f"🔕 Stopped following {listed(removed)}.")
    if not_followed:
        lines.append(f"You did not follow {listed(not_followed)}.")
    lines.append(
        f"Still following: {listed(remaining)}." if remaining else "You follow no keywords now."
    )
    await message.reply_html("\n".join(lines))


async def following_command(update: Update, context: Context) -> None:
    """/following: the keywords this chat (topic) follows."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    await remember_chat(update, context)
    async with deps(context).sessions() as session:
        phrases = await follow_store.following(
            session, update.effective_chat.id, thread_of(message)
        )
    if not phrases:
        await message.reply_html(f"You follow no keywords yet. {FOLLOW_USAGE}")
        return
    await message.reply_html(
        f"<b>Keywords you follow</b> ({len(phrases)}): {listed(phrases)}.\n"
        "Stories that mention any of them reach you even from sections you do not receive. "
        "/unfollow WORD stops one; /unfollow alone stops all."
    )


HANDLERS = [
    CommandHandler("follow", follow_command),
    CommandHandler("unfollow", unfollow_command),
    CommandHandler("following", following_command),
]
