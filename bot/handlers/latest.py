"""/latest and /search with paging buttons, "More like this", and the hint for stray text.

Each list is remembered as showing its stories, so a reply to it can become a comment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from telegram import Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.callbacks import MAX_OFFSET, Page, decode_page, encode_page, parse_id, search_page
from bot.deps import deps
from bot.handlers.common import (
    NO_PREVIEW,
    Context,
    chat_texts,
    echo,
    header_names,
    is_private,
    keyboard,
    known_chat,
    redraw,
    remember_chat,
    remember_shown,
    resolve_sections,
    section_names,
    texts_for,
    zone_of,
)
from bot.i18n import Texts
from bot.render import Button, story_list
from bot.site_comment_texts import what_you_say_button
from news.clock import utcnow
from storage import stories as story_store
from storage.chats import ChatView, reading
from storage.records import StoryView

PAGE_SIZE = 5
_QUERIES_KEY = "newsbot.search_queries"


@dataclass(frozen=True, slots=True)
class ListPage:
    """A rendered page of stories with its paging buttons."""

    text: str
    buttons: list[list[Button]]
    story_ids: tuple[int, ...] = ()  # in the order shown, so a reply can say which one


async def fetch_stories(
    context: Context, chat: ChatView | None, page: Page, query: str, limit: int = PAGE_SIZE + 1
) -> list[StoryView]:
    """The stories of one page (ask one more than shown, to know whether there is a next
    page) in the editions ``chat`` reads (its record, None when unknown): every story query
    of /latest, /search, their paging, "More like this" and inline mode is here."""
    editions = reading(chat, deps(context).settings.default_edition)
    async with deps(context).sessions() as session:
        if page.kind == "s":
            return await story_store.latest_stories(
                session,
                limit=limit,
                offset=page.offset,
                section=page.arg,
                editions=editions,
            )
        if page.kind in ("q", "h"):
            return await story_store.search_stories(
                session, query, limit=limit, offset=page.offset, editions=editions
            )
        return await story_store.latest_stories(
            session, limit=limit, offset=page.offset, editions=editions
        )


def _heading(t: Texts, page: Page, query: str, names: dict[str, str]) -> str:
    """The list's heading as plain text (story_list escapes it)."""
    if page.kind == "s":
        # Translators: a list's heading; {section} is a section's name, e.g. Kurdistan.
        return t._("Latest in {section}").format(section=t.isolate(names.get(page.arg, page.arg)))
    if page.kind in ("q", "h"):
        # Translators: a list's heading; {query} is what the reader searched for.
        return t._("Stories matching “{query}”").format(query=echo(t, query, html=False))
    return t._("Latest stories")


async def render_page(
    update: Update,
    context: Context,
    chat: ChatView | None,
    page: Page,
    query: str = "",
) -> ListPage:
    """The stories of one page for ``chat`` (its record, already read), newest first, with
    ‹ Newer / Older › where there is more, sections named in the reader's language."""
    t = chat_texts(update, context, chat)
    names = header_names(context, t)
    stories = await fetch_stories(context, chat, page, query)
    if not stories:
        if page.kind in ("q", "h"):
            text = t._("No stories match “{query}”. Try another word, or send /latest.").format(
                query=echo(t, query)
            )
        else:
            text = t._("No stories yet. They appear here as soon as they are published.")
        return ListPage(text=text, buttons=[])
    more = len(stories) > PAGE_SIZE
    text = story_list(
        _heading(t, page, query, names),
        stories[:PAGE_SIZE],
        t=t,
        now=utcnow(),
        zone=zone_of(chat, deps(context)),
        section_names=names,
        first_number=page.offset + 1,
    )
    row: list[Button] = []
    if page.offset > 0:
        newer = Page(page.kind, max(0, page.offset - PAGE_SIZE), page.arg)
        # Translators: a paging button: the previous, newer stories of a list.
        row.append(Button(t.pgettext("button", "‹ Newer"), callback=encode_page(newer)))
    if more and page.offset + PAGE_SIZE <= MAX_OFFSET:
        older = Page(page.kind, page.offset + PAGE_SIZE, page.arg)
        # Translators: a paging button: the next, older stories of a list.
        row.append(Button(t.pgettext("button", "Older ›"), callback=encode_page(older)))
    shown = tuple(s.id for s in stories[:PAGE_SIZE])
    rows = [row] if row else []
    if page.kind == "a" and deps(context).settings.comments_url:  # issue 17
        rows.append([what_you_say_button(t)])
    return ListPage(text=text, buttons=rows, story_ids=shown)


def _remember_query(context: Context, digest: str, query: str) -> None:
    queries = context.bot_data.setdefault(_QUERIES_KEY, {})
    if len(queries) > 10_000:  # bounded: old digests simply expire
        queries.clear()
    queries[digest] = query


async def _answer_list(
    update: Update,
    context: Context,
    chat: ChatView,
    page: Page,
    query: str,
) -> None:
    message = update.effective_message
    assert message is not None
    result = await render_page(update, context, chat, page, query)
    sent = await message.reply_html(
        result.text, reply_markup=keyboard(result.buttons), link_preview_options=NO_PREVIEW
    )
    await remember_shown(context, sent, result.story_ids, "list")


def page_for_words(
    words: list[str], names: dict[str, str], find: Callable[[str], str | None]
) -> tuple[Page, str, str | None]:
    """A section page when the words name one of the ``names`` sections (its slug or a name
    in any language, as ``find`` knows them), else a search page."""
    if not words:
        return Page("a", 0), "", None
    found, unknown = resolve_sections(words, names, find)
    if found and not unknown and len(found) == 1:
        return Page("s", 0, found[0]), "", None
    query = " ".join(words)[:200]
    page, digest = search_page(query, 0)
    return page, query, digest


async def latest_command(update: Update, context: Context) -> None:
    """/latest [section | words]: the newest stories, a section's, or a search."""
    chat = await remember_chat(update, context)
    names = await section_names(context, chat_texts(update, context, chat))
    page, query, digest = page_for_words(context.args or [], names, deps(context).sections.find)
    if digest:
        _remember_query(context, digest, query)
    await _answer_list(update, context, chat, page, query)


async def search_command(update: Update, context: Context) -> None:
    """/search WORDS: stories whose title or summary hold the words."""
    message = update.effective_message
    assert message is not None
    chat = await remember_chat(update, context)
    words = context.args or []
    if not words:
        t = chat_texts(update, context, chat)
        await message.reply_text(
            # Translators: keep /search as it is; the example word may be a local place name.
            t._("Send /search followed by a word, for example: /search Kirkuk")
        )
        return
    query = " ".join(words)[:200]
    page, digest = search_page(query, 0)
    if digest:
        _remember_query(context, digest, query)
    await _answer_list(update, context, chat, page, query)


async def page_button(update: Update, context: Context) -> None:
    """‹ Newer / Next ›: redraw the list in the same message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    page = decode_page(query.data)
    chat = await known_chat(update, context)
    if page is None or update.effective_chat is None or not isinstance(query.message, Message):
        await query.answer(
            chat_texts(update, context, chat)._("This list is too old; send /latest again.")
        )
        return
    words = page.arg
    if page.kind == "h":
        words = context.bot_data.get(_QUERIES_KEY, {}).get(page.arg, "")
        if not words:
            t = chat_texts(update, context, chat)
            await query.answer(
                t._("This search has expired; please send it again."), show_alert=True
            )
            return
    result = await render_page(update, context, chat, page, words)
    await query.answer()
    await redraw(query, result.text, result.buttons, link_preview_options=NO_PREVIEW)
    await remember_shown(context, query.message, result.story_ids, "list")


async def more_like_this(update: Update, context: Context) -> None:
    """ "More like this": the latest stories of the story's first section."""
    query = update.callback_query
    assert query is not None and query.data is not None
    story_id = parse_id(query.data.removeprefix("mo:"))
    if story_id is None:
        await query.answer()
        return
    async with deps(context).sessions() as session:
        story = await story_store.get_story(session, story_id)
    chat = await known_chat(update, context)
    if story is None or update.effective_chat is None:
        await query.answer(
            chat_texts(update, context, chat)._("That story is no longer available.")
        )
        return
    await query.answer()
    # Its first section readers are offered (an older version also filed stories under
    # categories, which are no sections now), else the latest stories.
    offered = [s for s in story.sections if deps(context).sections.is_offered(s)]
    page = Page("s", 0, offered[0]) if offered else Page("a", 0)
    result = await render_page(update, context, chat, page)
    sent = await context.bot.send_message(
        update.effective_chat.id,
        result.text,
        parse_mode="HTML",
        reply_markup=keyboard(result.buttons),
        link_preview_options=NO_PREVIEW,
        message_thread_id=(
            query.message.message_thread_id
            if isinstance(query.message, Message) and query.message.is_topic_message
            else None
        ),
    )
    await remember_shown(context, sent, result.story_ids, "list")


async def stray_text(update: Update, context: Context) -> None:
    """Plain text in a private chat: say what the bot understands."""
    message = update.effective_message
    if message is None or not is_private(update.effective_chat):
        return
    t = await texts_for(update, context)
    await message.reply_text(
        t._(
            "I post the news here. Send /latest for the newest stories, "
            "/search with a word to find a story, or /help for everything I can do."
        )
    )


HANDLERS = [
    CommandHandler("latest", latest_command),
    CommandHandler("search", search_command),
    CallbackQueryHandler(page_button, pattern=r"^pg:"),
    CallbackQueryHandler(more_like_this, pattern=r"^mo:"),
]
