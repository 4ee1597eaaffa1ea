"""/start (with deep links), /help and /privacy: what the bot is and what it keeps."""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import comment_texts
from bot.callbacks import Page, parse_id
from bot.deps import deps
from bot.handlers.comments import send_prompt
from bot.handlers.common import (
    Context,
    is_private,
    keyboard,
    may_manage,
    preview,
    remember_chat,
    remember_shown,
    section_names,
    thread_of,
    zone_of,
)
from bot.handlers.latest import render_page
from bot.handlers.subscriptions import describe
from bot.render import Button, escape, story_message
from storage import chats as chat_store
from storage import stories as story_store
from storage.clock import utcnow
from storage.engine import writing
from storage.models import ALL_SECTIONS

WELCOME = (
    "👋 <b>Welcome{name}!</b>\n"
    "I bring you the outlet's news as soon as it is published.\n\n"
    "• <b>Subscribe</b> to all news or to chosen sections, and new stories arrive here.\n"
    "• /latest shows the newest stories; /search finds a story by a word.\n"
    "• Type my name in any chat to share a story.\n\n"
    "/help lists everything I can do."
)

HELP = (
    "<b>What I can do</b>\n"
    "/subscribe — get all news as it is published (/subscribe kurdistan world for some "
    "sections)\n"
    "/sections — choose sections with buttons\n"
    "/unsubscribe — stop pushes (/unsubscribe world for one section)\n"
    "/latest — the newest stories (/latest kurdistan for a section, /latest oil to search)\n"
    "/search — find stories by words\n"
    '/follow — alerts for a word or a "phrase", from any section (/following, /unfollow)\n'
    "/settings — sections, instant pushes or digests, quiet hours, time zone\n"
    "/quiet — hold pushes overnight, e.g. /quiet 23:00-07:00\n"
    "/timezone — set your time zone, e.g. /timezone Europe/Berlin\n"
    "{comments}"
    "/privacy — what I store and how to delete it\n\n"
    "In any chat, type <code>@{bot} kirkuk</code> to find and share a story."
)

PRIVACY = (
    "<b>What I store</b>\n"
    "• This chat's id and type (and a group's title), the language Telegram reports, "
    "your time zone, the sections and keywords you follow, how and when you want pushes — "
    "to send you the news you asked for.\n"
    "• Which stories were pushed to you, with the message id, for a week (so that a "
    "correction can edit the message).\n"
    f"{comment_texts.PRIVACY}"
    "• Nothing else: no phone number, no contacts, no messages beyond the commands you send "
    "and the comments you write.\n\n"
    "<b>How to delete it</b>\n"
    "/unsubscribe stops all pushes. /forget deletes everything stored about this chat, "
    "including your comments and your comment name."
)


def start_buttons() -> list[list[Button]]:
    """The two actions a newcomer most wants."""
    return [
        [
            Button("🔔 Subscribe to all news", callback="sub:*"),
            Button("📰 Latest stories", callback="pg:a:0:"),
        ]
    ]


async def start_command(update: Update, context: Context) -> None:
    """/start: welcome, or the action a deep link names (``s_<id>``, ``c_<id>``, ``subscribe``)."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    chat = await remember_chat(update, context, reactivate=True)
    payload = context.args[0] if context.args else ""
    story_id = parse_id(payload[2:]) if payload.startswith(("s_", "c_")) else None
    if story_id is not None:
        await _show_story(update, context, story_id, ask_comment=payload.startswith("c_"))
        return
    if payload == "subscribe":
        await _subscribe_all(update, context)
        return
    if payload == "latest":
        result = await render_page(context, chat.id, Page("a", 0))
        sent = await message.reply_html(result.text, reply_markup=keyboard(result.buttons))
        await remember_shown(context, sent, result.story_ids, "list")
        return
    user = update.effective_user
    name = f", {escape(user.first_name)}" if user and user.first_name else ""
    await message.reply_html(WELCOME.format(name=name), reply_markup=keyboard(start_buttons()))


async def _show_story(
    update: Update, context: Context, story_id: int, *, ask_comment: bool = False
) -> None:
    """The story a deep link names; for ``c_<id>`` (the site's "Comment via Telegram") the
    prompt that asks for a comment follows it."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    settings = deps(context).settings
    async with deps(context).sessions() as session:
        story = await story_store.get_story(session, story_id)
        chat = await chat_store.get_chat(session, update.effective_chat.id)
    if story is None:
        await message.reply_text("That story is no longer available. Send /latest for new ones.")
        return
    rendered = story_message(
        story,
        now=utcnow(),
        zone=zone_of(chat, deps(context)),
        section_names=await section_names(context),
        comment_button=settings.comments_enabled,
    )
    sent = await message.reply_html(
        rendered.text,
        reply_markup=keyboard(rendered.buttons),
        link_preview_options=preview(rendered.preview_url),
    )
    await remember_shown(context, sent, [story.id], "story")
    if not ask_comment or not is_private(update.effective_chat):
        return
    if settings.comments_enabled:
        await send_prompt(context, update.effective_chat.id, story)
    else:
        await message.reply_text(comment_texts.NOT_ENABLED)


async def _subscribe_all(update: Update, context: Context) -> None:
    chat = update.effective_chat
    message = update.effective_message
    assert chat is not None and message is not None
    if not await may_manage(update, context):
        await message.reply_text("In groups, only admins can subscribe the chat.")
        return
    async with writing(deps(context).sessions) as session:
        result = await chat_store.subscribe(
            session, chat.id, [ALL_SECTIONS], utcnow(), thread_of(message)
        )
    await message.reply_html(f"✅ {describe(result, await section_names(context))}")


async def subscribe_button(update: Update, context: Context) -> None:
    """The welcome's "Subscribe" button."""
    query = update.callback_query
    assert query is not None
    chat = update.effective_chat
    if chat is None:
        await query.answer()
        return
    if not await may_manage(update, context):
        await query.answer("In groups, only admins can subscribe the chat.", show_alert=True)
        return
    await remember_chat(update, context, reactivate=True)
    thread = thread_of(query.message) if isinstance(query.message, Message) else 0
    async with writing(deps(context).sessions) as session:
        result = await chat_store.subscribe(session, chat.id, [ALL_SECTIONS], utcnow(), thread)
    await query.answer("Subscribed to all news")
    await context.bot.send_message(
        chat.id,
        f"✅ {describe(result, await section_names(context))}",
        parse_mode="HTML",
        message_thread_id=thread or None,
    )


async def help_command(update: Update, context: Context) -> None:
    """/help: every command in one message."""
    message = update.effective_message
    assert message is not None
    await remember_chat(update, context)
    comments = comment_texts.HELP if deps(context).settings.comments_enabled else ""
    await message.reply_html(
        HELP.format(bot=escape(context.bot.username or "bot"), comments=comments)
    )


async def privacy_command(update: Update, context: Context) -> None:
    """/privacy: what is stored and how to delete it."""
    message = update.effective_message
    assert message is not None
    await message.reply_html(PRIVACY)


HANDLERS = [
    CommandHandler("start", start_command),
    CommandHandler("help", help_command),
    CommandHandler("privacy", privacy_command),
    CallbackQueryHandler(subscribe_button, pattern=r"^sub:"),
]
