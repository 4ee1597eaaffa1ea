"""/language: the interface language a chat hears and the outlet's editions it reads, and the
question /start asks when Telegram's language is ambiguous (``ku``: Sorani or Kurmanji?)."""

from __future__ import annotations

import logging

from telegram import BotCommandScopeChat, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.command_menu import command_menu
from bot.deps import Deps, deps
from bot.handlers.common import (
    Context,
    chat_texts,
    keyboard,
    may_manage,
    redraw,
    remember_chat,
)
from bot.i18n import (
    LOCALES,
    Texts,
    is_ambiguous_kurdish,
    language_name,
    locale_from_telegram,
    texts,
)
from bot.render import Button
from news.clock import utcnow
from storage import chats as chat_store
from storage.chats import ChatView, reading
from storage.engine import writing

log = logging.getLogger(__name__)

PREFIX = "lg"


def _language_html(t: Texts, code: str) -> str:
    """A language or edition in its own name, bold, inside a sentence."""
    return f"<b>{t.isolate(language_name(code))}</b>"


def _editions_text(t: Texts, editions: tuple[str, ...]) -> str:
    return t.join(_language_html(t, e) for e in editions)


def language_panel(t: Texts, chat: ChatView | None, d: Deps) -> tuple[str, list[list[Button]]]:
    """The /language message and keyboard for a chat in its current state."""
    offered = d.settings.editions
    editions = reading(chat, d.settings.default_edition)
    group = chat is not None and chat.type != ChatType.PRIVATE
    lines = [
        t._("<b>Language</b>: the bot speaks {language}.").format(
            language=_language_html(t, t.locale)
        )
    ]
    if len(offered) > 1:
        reads = (
            t._("This chat reads these editions: {editions}.")
            if group
            else t._("You read these editions: {editions}.")
        )
        lines.append(reads.format(editions=_editions_text(t, editions)))
        lines += [
            "",
            t._(
                "Tap a language for the bot's messages. Tap an edition to add or remove it; "
                "this chat gets the stories of every edition it reads."
            )
            if group
            else t._(
                "Tap a language for the bot's messages. Tap an edition to add or remove it; "
                "you get the stories of every edition you read."
            ),
        ]
    else:
        lines += ["", t._("Tap a language for the bot's messages.")]
    rows: list[list[Button]] = []
    row: list[Button] = []
    for code in LOCALES:
        mark = "● " if code == t.locale else ""
        row.append(Button(f"{mark}{language_name(code)}", callback=f"{PREFIX}:l:{code}"))
        if len(row) == 2:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    if len(offered) > 1:
        rows.append([Button(t.pgettext("heading", "— Editions —"), callback=f"{PREFIX}:x")])
        for code in offered:
            mark = "✅" if code in editions else "▫️"
            rows.append([Button(f"{mark} {language_name(code)}", callback=f"{PREFIX}:e:{code}")])
    return "\n".join(lines), rows


async def language_command(update: Update, context: Context) -> None:
    """/language: show the panel (only admins may change it in groups, but anyone may look)."""
    message = update.effective_message
    if message is None or update.effective_chat is None:
        return
    chat = await remember_chat(update, context)
    d = deps(context)
    t = chat_texts(update, context, chat)
    text, rows = language_panel(t, chat, d)
    await message.reply_text(text, parse_mode="HTML", reply_markup=keyboard(rows))


async def choose(
    d: Deps, chat: ChatView, *, locale: str | None = None, edition: str | None = None
) -> tuple[ChatView, str | None]:
    """Apply one tap; returns the chat's new state and a short refusal, if any.

    Choosing a language whose edition the outlet has also switches the editions of a reader
    who never chose any: a Sorani reader who picks Sorani wants the Sorani stories.
    """
    editions: list[str] | None = None
    offered = d.settings.editions
    if edition is not None:
        current = list(reading(chat, d.settings.default_edition))
        if edition in current:
            if len(current) == 1:
                return chat, "last"
            current.remove(edition)
        else:
            current.append(edition)
        editions = [e for e in offered if e in current]
    elif locale is not None and not chat.editions and locale in offered:
        editions = [locale]
    async with writing(d.sessions) as session:
        updated = await chat_store.set_language(
            session, chat.id, utcnow(), locale=locale, editions=editions
        )
    return updated or chat, None


async def language_button(update: Update, context: Context) -> None:
    """A tap on the /language panel (the /start question's answers are start's)."""
    query = update.callback_query
    if query is None or query.data is None or update.effective_chat is None:
        return
    d = deps(context)
    chat = await remember_chat(update, context)
    t = chat_texts(update, context, chat)
    shown = language_panel(t, chat, d)
    parts = query.data.split(":")
    kind, code = (parts[1], parts[2]) if len(parts) == 3 else (parts[-1], "")
    if kind == "x":  # the editions heading is not a button
        await query.answer()
        return
    if not await may_manage(update, context):
        await query.answer(t._("In groups, only admins can change the language."), show_alert=True)
        return
    if kind == "l" and code in LOCALES:
        chat, _ = await choose(d, chat, locale=code)
    elif kind == "e" and code in d.settings.editions:
        chat, refusal = await choose(d, chat, edition=code)
        if refusal:
            await query.answer(t._("Keep at least one edition."), show_alert=True)
            return
    else:
        await query.answer(t._("That choice is no longer offered."), show_alert=True)
        return
    t = chat_texts(update, context, chat)
    await query.answer(t._("Saved."))
    text, rows = language_panel(t, chat, d)
    if (text, rows) == shown:  # the choice already ticked: nothing changed, nothing to send
        return
    if kind == "l":
        await set_chat_menu(context, chat.id, t)
    await redraw(query, text, rows)


async def set_chat_menu(context: Context, chat_id: int, t: Texts) -> None:
    """The command menu in the chat's new language, for that chat: Telegram has no language
    code for Sorani, so a per-language menu alone would leave Sorani readers in English."""
    try:
        await context.bot.set_my_commands(command_menu(t), scope=BotCommandScopeChat(chat_id))
    except TelegramError as exc:  # the menu is a nicety; the choice is saved either way
        log.warning("chat=%s could not set the command menu: %s", chat_id, exc)


async def start_suggestion(
    chat: ChatView, d: Deps, telegram_code: str | None
) -> tuple[str | None, bool]:
    """What /start does about language for a new reader.

    Returns ``(locale to adopt, ask)``: a private reader whose Telegram language we speak gets
    that language (and its edition, when the outlet has one); ``ku`` readers are asked to
    pick Sorani or Kurmanji; everyone else keeps the defaults. A reader who already chose, or
    who already subscribes (someone from before editions existed, opening a shared story
    link), is left as they are: their pushes never switch edition behind their back.
    """
    if chat.type != ChatType.PRIVATE or chat.locale or chat.editions:
        return None, False
    async with d.sessions() as session:
        if await chat_store.subscriptions(session, chat.id):
            return None, False
    if is_ambiguous_kurdish(telegram_code):
        return None, True
    return locale_from_telegram(telegram_code), False


async def adopt_suggestion(d: Deps, chat: ChatView, locale: str) -> ChatView:
    """Store the language (and edition) /start suggested, as if the reader had tapped it."""
    updated, _ = await choose(d, chat, locale=locale)
    log.info("chat=%s event=language_suggested locale=%s", chat.id, locale)
    return updated


def kurdish_chosen(t: Texts, chat: ChatView, d: Deps) -> str:
    """What the answer to the Kurdish question chose, and where to change it (in ``t``, the
    chosen language)."""
    return t._(
        "Editions you read: {editions}. The bot speaks {language}. /language changes both."
    ).format(
        editions=_editions_text(t, reading(chat, d.settings.default_edition)),
        language=_language_html(t, t.locale),
    )


KURDISH_CHOICES = ("ckb", "kmr")
KURDISH_ANSWER = rf"^{PREFIX}:s:"


def kurdish_question() -> tuple[str, list[list[Button]]]:
    """Sorani or Kurmanji? Asked in both, since we do not know which the reader reads; the
    answers (``lg:s:<locale>``) are handled by /start, which then welcomes the reader."""
    sorani, kurmanji = texts("ckb"), texts("kmr")
    text = "\n".join(
        [
            sorani._("Which Kurdish do you read?"),
            kurmanji._("Which Kurdish do you read?"),
        ]
    )
    rows = [
        [Button(language_name(code), callback=f"{PREFIX}:s:{code}") for code in KURDISH_CHOICES]
    ]
    return text, rows


HANDLERS = [
    CommandHandler("language", language_command),
    CallbackQueryHandler(language_button, pattern=rf"^{PREFIX}:"),
]
