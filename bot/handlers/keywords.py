"""Keyword alerts and muted words: /follow, /unfollow, /mute, /unmute and /following, per chat
and forum topic; /unfollow and /unmute alone offer the words as buttons."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from telegram import Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.arguments import MAX_FOLLOW_CHARS, MAX_FOLLOWS_PER_COMMAND, parse_follow_args
from bot.callbacks import parse_id
from bot.deps import deps
from bot.handlers.common import (
    Context,
    chat_texts,
    is_private,
    keyboard,
    may_manage,
    redraw,
    remember_chat,
    texts_for,
    thread_of,
)
from bot.i18n import N_, Texts
from bot.render import Button, escape, trim
from news.clock import utcnow
from storage import follows as follow_store
from storage.engine import writing
from storage.follows import MAX_FOLLOWS_PER_CHAT, WordList
from storage.models import Follow, Mute

GROUP_ADMINS_KEYWORDS = N_("In groups, only admins can change the keywords this chat follows.")


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
        await message.reply_text(t._(GROUP_ADMINS_KEYWORDS))
        return None
    return message, t, update.effective_chat.id, thread_of(message)


async def _words_asked(
    update: Update, context: Context, usage: Callable[[Texts], str] | None
) -> tuple[Message, Texts, int, int, list[str]] | None:
    """A change to a chat's followed or muted words: the message, texts, chat, topic and the
    words named; None once answered (refused, the usage when nothing was named and ``usage``
    is given, or no valid word). Without ``usage`` and without words: an empty list."""
    request = await _change_request(update, context)
    if request is None:
        return None
    message, t, chat_id, thread = request
    if not context.args:
        if usage is not None:
            await message.reply_html(usage(t))
            return None
        return message, t, chat_id, thread, []
    phrases = parse_follow_args(" ".join(context.args))
    if not phrases:
        await message.reply_text(nothing_valid(t))
        return None
    return message, t, chat_id, thread, phrases


async def _add_words(
    context: Context, chat_id: int, thread: int, phrases: Sequence[str], model: WordList
) -> tuple[list[str], list[str], list[str]]:
    """Follow (or mute) ``phrases``: (added, already there, left out by the cap)."""
    async with writing(deps(context).sessions) as session:
        before = set(await follow_store.following(session, chat_id, thread, model))
        added = await follow_store.follow(session, chat_id, thread, phrases, utcnow(), model)
    already = [p for p in phrases if p in before]
    left_out = [p for p in phrases if p not in before and p not in added]
    return added, already, left_out


async def follow_command(update: Update, context: Context) -> None:
    """/follow WORDS or "PHRASES": push stories that mention them."""
    asked = await _words_asked(update, context, follow_usage)
    if asked is None:
        return
    message, t, chat_id, thread, phrases = asked
    added, already, left_out = await _add_words(context, chat_id, thread, phrases, Follow)
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
    """/unfollow WORDS: stop those keywords; /unfollow alone: the keywords as buttons."""
    asked = await _words_asked(update, context, None)
    if asked is None:
        return
    message, t, chat_id, thread, phrases = asked
    if not phrases:
        # Not "stop everything" at once: the reader picks, one tap per keyword.
        await _offer_words(message, context, t, chat_id, thread, Follow)
        return
    async with writing(deps(context).sessions) as session:
        removed = await follow_store.unfollow(session, chat_id, thread, phrases)
        remaining = await follow_store.following(session, chat_id, thread)
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
    """/following: the keywords this chat (topic) follows, and the words it mutes."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    t = chat_texts(update, context, await remember_chat(update, context))
    group = not is_private(update.effective_chat)
    async with deps(context).sessions() as session:
        chat_id, thread = update.effective_chat.id, thread_of(message)
        phrases = await follow_store.following(session, chat_id, thread)
        muted = await follow_store.following(session, chat_id, thread, Mute)
    lines = []
    if not phrases:
        lines.append(
            (
                t._("This chat follows no keywords yet.")
                if group
                else t._("You follow no keywords yet.")
            )
            + " "
            + follow_usage(t)
        )
    else:
        heading = (
            t._("<b>Keywords this chat follows</b> ({num}): {keywords}.")
            if group
            else t._("<b>Keywords you follow</b> ({num}): {keywords}.")
        )
        lines.append(heading.format(num=t.number(len(phrases)), keywords=listed(t, phrases)))
        lines.append(
            t._(
                "Stories that mention any of them are pushed even from sections not received "
                "here, labelled with the word. /unfollow WORD stops one; /unfollow alone shows "
                "them as buttons."
            )
        )
    if muted:
        lines.append(
            t._(
                "<b>Muted</b> ({num}): {keywords}. Stories that mention them are not pushed; "
                "/unmute undoes it."
            ).format(num=t.number(len(muted)), keywords=listed(t, muted))
        )
    await message.reply_html("\n".join(lines))


def mute_usage(t: Texts) -> str:
    """How to use /mute."""
    return t._(
        "Send /mute with a word or a phrase in quotes, for example <code>/mute football</code>: "
        "stories that mention it are not pushed here, whatever their section. /unmute undoes it."
    )


async def mute_command(update: Update, context: Context) -> None:
    """/mute WORDS or "PHRASES": never push stories that mention them."""
    asked = await _words_asked(update, context, mute_usage)
    if asked is None:
        return
    message, t, chat_id, thread, phrases = asked
    added, already, left_out = await _add_words(context, chat_id, thread, phrases, Mute)
    lines = []
    if added:
        lines.append(
            "🔇 "
            + t._("Muted: {keywords}. Stories that mention them are not pushed here.").format(
                keywords=listed(t, added)
            )
        )
    if already:
        lines.append(t._("Already muted: {keywords}.").format(keywords=listed(t, already)))
    if left_out:
        lines.append(
            t.ngettext(
                "Not muted: {keywords}. A chat mutes at most {num} word; /unmute some first.",
                "Not muted: {keywords}. A chat mutes at most {num} words; /unmute some first.",
                MAX_FOLLOWS_PER_CHAT,
            ).format(keywords=listed(t, left_out), num=t.number(MAX_FOLLOWS_PER_CHAT))
        )
    lines.append(t._("/following lists them; /unmute undoes it."))
    await message.reply_html("\n".join(lines))


async def unmute_command(update: Update, context: Context) -> None:
    """/unmute WORDS: push stories that mention them again; /unmute alone: buttons."""
    asked = await _words_asked(update, context, None)
    if asked is None:
        return
    message, t, chat_id, thread, phrases = asked
    if not phrases:
        await _offer_words(message, context, t, chat_id, thread, Mute)
        return
    async with writing(deps(context).sessions) as session:
        removed = await follow_store.unfollow(session, chat_id, thread, phrases, Mute)
    lines = []
    if removed:
        lines.append("🔈 " + t._("Unmuted: {keywords}.").format(keywords=listed(t, removed)))
    not_muted = [p for p in phrases if p not in removed]
    if not_muted:
        lines.append(t._("Not muted here: {keywords}.").format(keywords=listed(t, not_muted)))
    await message.reply_html("\n".join(lines))


# Button data: "uf:<follow id>" stops one followed keyword, "um:<mute id>" unmutes one word.
_BUTTON_PREFIX = {Follow: "uf", Mute: "um"}


async def _word_buttons(
    context: Context, chat_id: int, thread: int, model: WordList
) -> list[list[Button]]:
    async with deps(context).sessions() as session:
        words = await follow_store.word_ids(session, chat_id, thread, model)
    prefix = _BUTTON_PREFIX[model]
    return [
        [Button(("🔕 " if model is Follow else "🔈 ") + trim(p, 40), callback=f"{prefix}:{i}")]
        for i, p in words
    ]


def _choose_text(t: Texts, model: WordList, any_left: bool) -> str:
    if model is Follow:
        return (
            t._("Tap a keyword to stop following it.")
            if any_left
            else t._("No keywords are followed here now.")
        )
    return t._("Tap a word to unmute it.") if any_left else t._("No words are muted here now.")


async def _offer_words(
    message: Message, context: Context, t: Texts, chat_id: int, thread: int, model: WordList
) -> None:
    buttons = await _word_buttons(context, chat_id, thread, model)
    if not buttons:
        await message.reply_html(
            _choose_text(t, model, False)
            + " "
            + (follow_usage(t) if model is Follow else mute_usage(t))
        )
        return
    await message.reply_text(_choose_text(t, model, True), reply_markup=keyboard(buttons))


async def word_button(update: Update, context: Context) -> None:
    """A tap on one keyword of /unfollow's (or one word of /unmute's) buttons."""
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    prefix, _, raw = query.data.partition(":")
    model: WordList = Follow if prefix == "uf" else Mute
    t = await texts_for(update, context)
    if not await may_manage(update, context):
        await query.answer(t._(GROUP_ADMINS_KEYWORDS), show_alert=True)
        return
    word_id = parse_id(raw)
    chat_id = query.message.chat.id
    thread = thread_of(query.message) if isinstance(query.message, Message) else 0
    removed = None
    if word_id is not None:
        async with writing(deps(context).sessions) as session:
            removed = await follow_store.remove_by_id(session, chat_id, thread, word_id, model)
    if removed is None:
        await query.answer()
    elif model is Follow:
        await query.answer(t._("Stopped following {keyword}.").format(keyword=removed))
    else:
        await query.answer(t._("Unmuted {keyword}.").format(keyword=removed))
    buttons = await _word_buttons(context, chat_id, thread, model)
    await redraw(query, _choose_text(t, model, bool(buttons)), buttons)


HANDLERS = [
    CommandHandler("follow", follow_command),
    CommandHandler("unfollow", unfollow_command),
    CommandHandler("following", following_command),
    CommandHandler("mute", mute_command),
    CommandHandler("unmute", unmute_command),
    CallbackQueryHandler(word_button, pattern=r"^(uf|um):"),
]
