"""/start (with deep links), /help and /privacy: what the bot is and what it keeps."""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import comment_texts, help_texts
from bot.callbacks import Page, parse_id
from bot.deps import deps
from bot.handlers import language
from bot.handlers.comments import send_prompt
from bot.handlers.common import (
    Context,
    chat_texts,
    header_names,
    is_private,
    keyboard,
    may_manage,
    preview,
    redraw,
    remember_chat,
    remember_shown,
    texts_for,
    thread_of,
    zone_of,
)
from bot.handlers.latest import render_page
from bot.handlers.subscriptions import describe
from bot.i18n import N_, Texts
from bot.render import Button, escape, story_message
from news.clock import utcnow
from storage import chats as chat_store
from storage import stories as story_store
from storage.chats import ChatView
from storage.engine import writing
from storage.models import ALL_SECTIONS

GROUP_ADMINS_SUBSCRIBE = N_("In groups, only admins can subscribe the chat.")


def welcome(t: Texts, first_name: str | None) -> str:
    """The greeting /start answers with."""
    heading = (
        t._("<b>Welcome, {name}!</b>").format(name=t.isolate(escape(first_name)))
        if first_name
        else t._("<b>Welcome!</b>")
    )
    body = t._(
        "I bring you the news as soon as it is published.\n\n"
        "• <b>Subscribe</b> to all news or to chosen sections, and new stories arrive here.\n"
        "• /latest shows the newest stories; /search finds a story by a word.\n"
        "• Type my name in any chat to share a story.\n\n"
        "/help lists everything I can do."
    )
    return f"👋 {heading}\n{body}"


def start_buttons(t: Texts) -> list[list[Button]]:
    """The two actions a newcomer most wants."""
    return [
        [
            Button("🔔 " + t.pgettext("button", "Subscribe to all news"), callback="sub:*"),
            Button("📰 " + t.pgettext("button", "Latest stories"), callback="pg:a:0:"),
        ]
    ]


async def start_command(update: Update, context: Context) -> None:
    """/start: welcome, or the action a deep link names (``s_<id>``, ``c_<id>``, ``subscribe``)."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    chat = await remember_chat(update, context, reactivate=True)
    user = update.effective_user
    # A reader whose Telegram speaks one of our languages gets it (and its edition) at once;
    # "ku" could be Sorani or Kurmanji, so that reader is asked below.
    suggested, ask_kurdish = await language.start_suggestion(
        chat, deps(context), user.language_code if user else None
    )
    if suggested:
        chat = await language.adopt_suggestion(deps(context), chat, suggested)
    t = chat_texts(update, context, chat)
    if suggested:
        await language.set_chat_menu(context, chat.id, t)
    payload = context.args[0] if context.args else ""
    story_id = parse_id(payload[2:]) if payload.startswith(("s_", "c_")) else None
    if story_id is not None:
        await _show_story(update, context, chat, t, story_id, ask_comment=payload.startswith("c_"))
        return
    if payload == "subscribe":
        await _subscribe_all(update, context, t)
        return
    if payload == "latest":
        result = await render_page(update, context, chat, Page("a", 0))
        sent = await message.reply_html(result.text, reply_markup=keyboard(result.buttons))
        await remember_shown(context, sent, result.story_ids, "list")
        return
    if ask_kurdish:
        # Sorani or Kurmanji first, in both: the welcome follows in the language chosen
        # (kurdish_answer), not in English before it.
        text, rows = language.kurdish_question()
        await message.reply_html(text, reply_markup=keyboard(rows))
        return
    await message.reply_html(
        welcome(t, user.first_name if user else None), reply_markup=keyboard(start_buttons(t))
    )


async def kurdish_answer(update: Update, context: Context) -> None:
    """Sorani or Kurmanji, tapped under /start's question: adopt it (and its edition), and
    turn the question into the welcome in that language, saying what was chosen."""
    query = update.callback_query
    assert query is not None and query.data is not None
    code = query.data.rsplit(":", 1)[-1]
    chat = await remember_chat(update, context)
    if code not in language.KURDISH_CHOICES or not await may_manage(update, context):
        await query.answer()
        return
    d = deps(context)
    chat, _ = await language.choose(d, chat, locale=code)
    t = chat_texts(update, context, chat)
    await query.answer(t._("Saved."))
    await language.set_chat_menu(context, chat.id, t)
    text = f"{welcome(t, query.from_user.first_name)}\n\n{language.kurdish_chosen(t, chat, d)}"
    await redraw(query, text, start_buttons(t))


async def _show_story(
    update: Update,
    context: Context,
    chat: ChatView,
    t: Texts,
    story_id: int,
    *,
    ask_comment: bool = False,
) -> None:
    """The story a deep link names; for ``c_<id>`` (the site's "Comment via Telegram") the
    prompt that asks for a comment follows it."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    settings = deps(context).settings
    async with deps(context).sessions() as session:
        story = await story_store.get_story(session, story_id)
    if story is None:
        await message.reply_text(
            t._("That story is no longer available. Send /latest for new ones.")
        )
        return
    rendered = story_message(
        story,
        t=t,
        now=utcnow(),
        zone=zone_of(chat, deps(context)),
        section_names=header_names(context, t),
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
        await send_prompt(context, update.effective_chat.id, story, t=t)
    else:
        await message.reply_text(t._(comment_texts.NOT_ENABLED))


async def _subscribe_all(update: Update, context: Context, t: Texts) -> None:
    chat = update.effective_chat
    message = update.effective_message
    assert chat is not None and message is not None
    if not await may_manage(update, context):
        await message.reply_text(t._(GROUP_ADMINS_SUBSCRIBE))
        return
    async with writing(deps(context).sessions) as session:
        result = await chat_store.subscribe(
            session, chat.id, [ALL_SECTIONS], utcnow(), thread_of(message)
        )
    described = describe(t, result, header_names(context, t), group=not is_private(chat))
    await message.reply_html(f"✅ {described}")


async def subscribe_button(update: Update, context: Context) -> None:
    """The welcome's "Subscribe" button."""
    query = update.callback_query
    assert query is not None
    chat = update.effective_chat
    if chat is None:
        await query.answer()
        return
    t = await texts_for(update, context)
    if not await may_manage(update, context):
        await query.answer(t._(GROUP_ADMINS_SUBSCRIBE), show_alert=True)
        return
    await remember_chat(update, context, reactivate=True)
    thread = thread_of(query.message) if isinstance(query.message, Message) else 0
    async with writing(deps(context).sessions) as session:
        result = await chat_store.subscribe(session, chat.id, [ALL_SECTIONS], utcnow(), thread)
    await query.answer(t._("Subscribed to all news"))
    await context.bot.send_message(
        chat.id,
        f"✅ {describe(t, result, header_names(context, t), group=not is_private(chat))}",
        parse_mode="HTML",
        message_thread_id=thread or None,
    )


async def help_command(update: Update, context: Context) -> None:
    """/help: every command in one message."""
    message = update.effective_message
    assert message is not None
    t = chat_texts(update, context, await remember_chat(update, context))
    await message.reply_html(
        help_texts.help_text(
            t, context.bot.username or "bot", comments=deps(context).settings.comments_enabled
        )
    )


async def privacy_command(update: Update, context: Context) -> None:
    """/privacy: what is stored and how to delete it."""
    message = update.effective_message
    assert message is not None
    await message.reply_html(help_texts.privacy_text(await texts_for(update, context)))


HANDLERS = [
    CommandHandler("start", start_command),
    CommandHandler("help", help_command),
    CommandHandler("privacy", privacy_command),
    CallbackQueryHandler(subscribe_button, pattern=r"^sub:"),
    # Before bot.handlers.language's own lg: handler (start's handlers are registered first).
    CallbackQueryHandler(kurdish_answer, pattern=language.KURDISH_ANSWER),
]
