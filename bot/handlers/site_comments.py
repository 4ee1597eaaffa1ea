"""The site's conversation in Telegram: /comments pages as the site shows them (when
COMMENTS_URL is set), /whatyousay, "↩️ Reply" under a reply notice, and the /settings switch
for reply notices."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from telegram import ForceReply, Message, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.callbacks import MAX_OFFSET, parse_id
from bot.deps import deps
from bot.handlers import preferences
from bot.handlers.common import (
    NO_PREVIEW,
    Context,
    chat_texts,
    is_private,
    keyboard,
    known_chat,
    redraw,
    remember_chat,
    texts_for,
    zone_of,
)
from bot.i18n import Texts
from bot.render import Button
from bot.site_comment_texts import (
    REPLY_GONE,
    comment_page,
    reply_prompt,
    what_you_say,
)
from news.clock import utcnow
from storage import chats as chat_store
from storage import published_comments as site
from storage import stories as story_store
from storage.chats import reading
from storage.engine import writing

PAGE_SIZE = 10  # the site's comments per /comments page
WHAT_YOU_SAY_SIZE = 8


async def story_comment_page(
    context: Context, story_id: int, offset: int, t: Texts, zone: ZoneInfo, viewer: int | None
) -> tuple[str, list[list[Button]]] | None:
    """One page of the site's comments on a story, oldest first, with ‹ Earlier / Later ›;
    None when the story is unknown. The buttons page with ``cl:<story>:<offset>:e``."""
    async with deps(context).sessions() as session:
        story = await story_store.get_story(session, story_id)
        if story is None:
            return None
        comments, total = await site.story_page(session, story_id, offset=offset, limit=PAGE_SIZE)
    text, shown = comment_page(
        story.title, comments, zone, offset=offset, total=total, viewer=viewer, t=t
    )
    row: list[Button] = []
    if offset > 0:
        # Translators: pages back to earlier comments (the site lists them oldest first).
        earlier = t.pgettext("button", "‹ Earlier")
        row.append(Button(earlier, callback=f"cl:{story_id}:{max(0, offset - PAGE_SIZE)}:e"))
    if shown and offset + shown < total and offset + shown <= MAX_OFFSET:
        # Translators: pages on to later comments.
        later = t.pgettext("button", "Later ›")
        row.append(Button(later, callback=f"cl:{story_id}:{offset + shown}:e"))
    return text, [row] if row else []


async def _what_you_say_page(
    context: Context, update: Update, offset: int
) -> tuple[str, list[list[Button]]]:
    known = await known_chat(update, context)
    t = chat_texts(update, context, known)
    d = deps(context)
    editions = reading(known, d.settings.default_edition)
    async with d.sessions() as session:
        items = await site.latest_comments(
            session, editions, offset=offset, limit=WHAT_YOU_SAY_SIZE + 1
        )
    text = what_you_say(items[:WHAT_YOU_SAY_SIZE], zone_of(known, d), offset=offset, t=t)
    row: list[Button] = []
    if offset > 0:
        newer = t.pgettext("button", "‹ Newer")
        row.append(Button(newer, callback=f"wy:{max(0, offset - WHAT_YOU_SAY_SIZE)}"))
    if len(items) > WHAT_YOU_SAY_SIZE and offset + WHAT_YOU_SAY_SIZE <= MAX_OFFSET:
        older = t.pgettext("button", "Older ›")
        row.append(Button(older, callback=f"wy:{offset + WHAT_YOU_SAY_SIZE}"))
    return text, [row] if row else []


async def whatyousay_command(update: Update, context: Context) -> None:
    """/whatyousay: the latest comments across the site, in the reader's editions."""
    message = update.effective_message
    assert message is not None
    await remember_chat(update, context)
    text, buttons = await _what_you_say_page(context, update, 0)
    await message.reply_html(text, reply_markup=keyboard(buttons), link_preview_options=NO_PREVIEW)


async def whatyousay_button(update: Update, context: Context) -> None:
    """ "🗣 What You Say" under /latest (a new message), or its paging (in place)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    offset = parse_id(parts[1]) if len(parts) in (2, 3) else None
    await query.answer()
    if offset is None or update.effective_chat is None:
        return
    text, buttons = await _what_you_say_page(context, update, min(offset, MAX_OFFSET))
    if len(parts) == 2:
        await redraw(query, text, buttons, link_preview_options=NO_PREVIEW)
        return
    await context.bot.send_message(
        update.effective_chat.id,
        text,
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard(buttons),
        link_preview_options=NO_PREVIEW,
    )


async def reply_button(update: Update, context: Context) -> None:
    """ "↩️ Reply" under a reply notice: a prompt whose reply answers that comment on the site."""
    query = update.callback_query
    assert query is not None and query.data is not None
    published_id = parse_id(query.data.removeprefix("sr:"))
    chat = update.effective_chat
    t = await texts_for(update, context)
    if published_id is None or chat is None or not is_private(chat):
        await query.answer()
        return
    d = deps(context)
    async with d.sessions() as session:
        shown = await site.get_published(session, published_id)
    if shown is None:
        await query.answer(t._(REPLY_GONE), show_alert=True)
        return
    await query.answer()
    sent = await context.bot.send_message(
        chat.id,
        reply_prompt(shown.author, t=t),
        parse_mode=ParseMode.HTML,
        reply_markup=ForceReply(input_field_placeholder=t.pgettext("placeholder", "Your reply")),
    )
    async with writing(d.sessions) as session:
        await site.add_reply_prompt(
            session,
            chat.id,
            sent.message_id,
            story_id=shown.story_id,
            in_reply_to=shown.outlet_id,
            now=utcnow(),
        )


async def replies_toggle(update: Update, context: Context) -> None:
    """The switch under /settings: tell me (or not) when someone replies to my comments."""
    query = update.callback_query
    assert query is not None and query.data is not None
    chat = update.effective_chat
    if chat is None or not is_private(chat) or query.data not in ("rp:on", "rp:off"):
        await query.answer()
        return
    d = deps(context)
    async with writing(d.sessions) as session:
        await chat_store.set_comment_replies(session, chat.id, query.data == "rp:on", utcnow())
    await query.answer()
    known = await known_chat(update, context)
    if known is not None and isinstance(query.message, Message):
        t = chat_texts(update, context, known)
        await preferences.redraw_settings(query, context, t, known)


HANDLERS = [
    CommandHandler("whatyousay", whatyousay_command),
    CallbackQueryHandler(whatyousay_button, pattern=r"^wy:"),
    CallbackQueryHandler(reply_button, pattern=r"^sr:"),
    CallbackQueryHandler(replies_toggle, pattern=r"^rp:"),
]
