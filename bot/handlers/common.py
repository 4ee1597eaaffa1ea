"""Pieces every handler module uses: the chat's record, its topic, admin checks, keyboards."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from zoneinfo import ZoneInfo

from telegram import (
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.deps import Deps, deps
from bot.i18n import N_, Texts, chat_locale, texts
from bot.render import Button, escape, trim
from news.clock import utcnow
from storage import chats as chat_store
from storage import stories as story_store
from storage import story_messages
from storage.chats import ChatView, reading
from storage.engine import writing

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
MAX_NAME_WORDS = 6

# The one refusal of the bot's own administrators' commands (ADMIN_IDS), in groups too.
# Translators: {command} is /breaking, /stats, /ban or /unban.
BOT_ADMINS_ONLY = N_("Sorry, {command} is only for the bot's administrators.")


# A reader's own words quoted back ("No stories match “…”"): enough to recognise them, never
# enough to push an answer past Telegram's 4,096 characters, whatever the reader sent.
ECHO_MAX = 64


def echo(t: Texts, text: str, *, html: bool = True, limit: int = ECHO_MAX) -> str:
    """What a reader typed, to quote in an answer: one line of at most ``limit`` characters
    (cut at a word, with an ellipsis), direction-isolated, and escaped for HTML unless
    ``html`` is false (for text that is escaped later). Every echo of reader input uses it."""
    short = trim(text, limit)
    return t.isolate(escape(short) if html else short)


def thread_of(message: Message | None) -> int:
    """The forum topic a message was sent in, 0 outside topics."""
    if message is not None and message.is_topic_message and message.message_thread_id:
        return message.message_thread_id
    return 0


def zone_of(chat: ChatView | None, d: Deps) -> ZoneInfo:
    """The chat's own time zone, else the operator's default."""
    name = (chat.timezone if chat else None) or d.settings.default_timezone
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo(d.settings.default_timezone)


def texts_of(chat: ChatView | None, d: Deps, telegram_code: str | None = None) -> Texts:
    """The chat's interface texts: its chosen language, else its Telegram language, else
    the default edition's. A group speaks one language to everyone (the one an admin chose,
    else the default), never each sender's own."""
    if chat is not None and chat.type != ChatType.PRIVATE:
        telegram_code = None
    return texts(
        chat_locale(
            chat.locale if chat else None,
            (chat.language if chat else None) or telegram_code,
            d.settings.default_edition,
        )
    )


def chat_texts(update: Update, context: Context, chat: ChatView | None) -> Texts:
    """The texts of a chat already read (``remember_chat``), for whoever sent the update."""
    user = update.effective_user
    return texts_of(chat, deps(context), user.language_code if user else None)


async def known_chat(update: Update, context: Context) -> ChatView | None:
    """The stored record of the update's chat (for inline queries and the like, the
    reader's private chat with the bot), without creating one."""
    chat, user = update.effective_chat, update.effective_user
    chat_id = chat.id if chat is not None else (user.id if user is not None else None)
    if chat_id is None:
        return None
    async with deps(context).sessions() as session:
        return await chat_store.get_chat(session, chat_id)


async def texts_for(update: Update, context: Context) -> Texts:
    """The texts for whoever sent this update, from their chat's record."""
    return chat_texts(update, context, await known_chat(update, context))


async def remember_chat(update: Update, context: Context, *, reactivate: bool = False) -> ChatView:
    """Record the chat on first contact (and mark it reachable again after /start)."""
    chat = update.effective_chat
    assert chat is not None
    user = update.effective_user
    language = user.language_code if user and chat.type == ChatType.PRIVATE else None
    title = chat.title or chat.full_name
    if not reactivate:
        # A known chat with nothing new is only read: the write lock is taken only when
        # something changes (during a broadcast the writer is busy with the queue).
        async with deps(context).sessions() as session:
            known = await chat_store.get_chat(session, chat.id)
        unchanged = known is not None and known.active and known.title == title
        if unchanged and known is not None and (not language or known.language):
            return known
    async with writing(deps(context).sessions) as session:
        return await chat_store.touch_chat(
            session,
            chat.id,
            type=chat.type,
            title=title,
            language=language,
            now=utcnow(),
            reactivate=reactivate,
        )


async def may_manage(update: Update, context: Context) -> bool:
    """In private chats anyone; in groups only the group's admins (or the bot's ADMIN_IDS)."""
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    if chat is None or chat.type == ChatType.PRIVATE:
        return True
    # An anonymous admin posts as the group itself.
    if (
        message is not None
        and message.sender_chat is not None
        and message.sender_chat.id == chat.id
    ):
        return True
    if user is None:
        return False
    if user.id in deps(context).settings.admin_ids:
        return True
    return await is_chat_admin(context, chat.id, user.id)


async def is_chat_admin(context: Context, chat_id: int, user_id: int) -> bool:
    """True when Telegram says the user administers (or owns) the chat; False when it
    cannot tell."""
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError as exc:
        log.warning("chat=%s cannot check admin rights: %s", chat_id, exc)
        return False
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


def preview(url: str | None) -> LinkPreviewOptions:
    """A preview of the article itself, or none when the story has no link."""
    return LinkPreviewOptions(url=url) if url else NO_PREVIEW


async def redraw(
    query: CallbackQuery,
    text: str,
    rows: Sequence[Sequence[Button]],
    *,
    link_preview_options: LinkPreviewOptions | None = None,
) -> None:
    """Edit the message a button sits under; a second tap that changes nothing is fine."""
    try:
        await query.edit_message_text(
            text,
            parse_mode="HTML",
            reply_markup=keyboard(rows),
            link_preview_options=link_preview_options,
        )
    except BadRequest as exc:
        if "not modified" not in exc.message:
            raise


def keyboard(rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup | None:
    """Telegram's inline keyboard for rendered buttons (None for no buttons)."""
    markup = [
        [
            InlineKeyboardButton(b.text, url=b.url)
            if b.url
            else InlineKeyboardButton(b.text, callback_data=b.callback)
            for b in row
        ]
        for row in rows
        if row
    ]
    return InlineKeyboardMarkup(markup) if markup else None


async def section_names(
    context: Context, t: Texts, chat: ChatView | None = None
) -> dict[str, str]:
    """The sections readers can choose here, slug → name in ``t``'s language, in the
    configured order: offered ones with stories in the editions ``chat`` reads (in any
    edition, without a chat)."""
    catalogue = deps(context).sections
    if not catalogue.offered:
        return {}
    editions = None if chat is None else reading(chat, deps(context).settings.default_edition)
    async with deps(context).sessions() as session:
        seen = await story_store.list_sections(session, editions, catalogue.offered)
    return catalogue.names(t, [slug for slug, _ in seen])


def header_names(context: Context, t: Texts) -> dict[str, str]:
    """Every offered section's name in ``t``'s language: what story headers, list headings
    and a reader's subscriptions are described with (sections no longer offered are not)."""
    return deps(context).sections.names(t)


def resolve_sections(
    words: Sequence[str], known: Mapping[str, str], find: Callable[[str], str | None]
) -> tuple[list[str], list[str]]:
    """Map what a reader typed to the slugs of ``known`` sections: ``(found, unknown words)``.

    ``find`` (SectionCatalogue.find) knows each section by its slug and its names in every
    language; the longest run of words that names one wins, so ``/subscribe middle east
    world`` is two sections and ``/latest ڕۆژهەڵاتی ناوەڕاست`` is one.
    """
    found: list[str] = []
    unknown: list[str] = []
    start = 0
    while start < len(words):
        # A section's name is a few words: longer runs are not tried (a pasted paragraph
        # would otherwise cost a lookup per pair of its words).
        for end in range(min(len(words), start + MAX_NAME_WORDS), start, -1):
            slug = find(" ".join(words[start:end]))
            if slug is not None and slug in known:
                found.append(slug)
                start = end
                break
        else:
            unknown.append(words[start])
            start += 1
    return list(dict.fromkeys(found)), unknown


def is_private(chat: Chat | None) -> bool:
    """True for a one-to-one chat with a reader."""
    return chat is not None and chat.type == ChatType.PRIVATE


async def remember_shown(
    context: Context, message: Message, story_ids: Sequence[int], kind: str
) -> None:
    """Record which stories a message the bot sent shows, so a reply to it is a comment on
    them (kind ``story``, ``list`` or ``prompt``). Without comments nothing needs it, and
    /latest stays a read."""
    if not deps(context).settings.comments_enabled:
        return
    async with writing(deps(context).sessions) as session:
        await story_messages.remember_story_message(
            session, message.chat_id, message.message_id, story_ids, kind, utcnow()
        )
