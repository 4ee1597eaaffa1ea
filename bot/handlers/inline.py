"""Inline mode: ``@bot kirkuk`` in any chat offers matching stories to share; ``@bot s_42``
(what a push's Share button types) offers story 42."""

from __future__ import annotations

import re

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update
from telegram.ext import InlineQueryHandler

from bot.callbacks import MAX_OFFSET, Page, parse_id
from bot.deps import deps
from bot.handlers.common import Context, header_names, keyboard, preview, texts_of, zone_of
from bot.handlers.latest import fetch_stories
from bot.render import section_label, story_message, trim
from news.clock import utcnow
from storage import chats as chat_store
from storage import stories as story_store

RESULTS_PER_PAGE = 10
# What a Share button under a push types (bot.render.share_query).
SHARED = re.compile(r"s_(\d{1,12})")


async def inline_query(update: Update, context: Context) -> None:
    """Latest stories for an empty query, else a search; paged with Telegram's offset.

    Results are in the reader's language (their private chat's, else their Telegram
    language), so Telegram must not cache them for other readers (``is_personal``)."""
    query = update.inline_query
    assert query is not None
    offset = min(parse_id(query.offset) or 0, MAX_OFFSET)
    text = query.query.strip()[:200]
    # The reader's private chat with the bot holds their language, editions and time zone.
    user = query.from_user
    async with deps(context).sessions() as session:
        chat = await chat_store.get_chat(session, user.id)
    t = texts_of(chat, deps(context), user.language_code)
    shared = SHARED.fullmatch(text)
    if shared:
        # A Share button's query: that story alone, whatever the reader's editions.
        async with deps(context).sessions() as session:
            story = await story_store.get_story(session, int(shared.group(1)))
        stories = [story] if story is not None and not offset else []
    else:
        page = Page("q" if text else "a", offset)
        stories = await fetch_stories(context, chat, page, text, limit=RESULTS_PER_PAGE + 1)
    names = header_names(context, t)
    now = utcnow()
    zone = zone_of(chat, deps(context))
    results = []
    for story in stories[:RESULTS_PER_PAGE]:
        rendered = story_message(story, t=t, now=now, zone=zone, section_names=names)
        # Translators: an inline result's description: its sections, then how long ago.
        description = t._("{sections} · {time}").format(
            sections=section_label(story, names, t=t), time=t.ago(story.sort_at, now)
        )
        if story.summary:
            # Translators: an inline result's description followed by the story's summary.
            description = t._("{description} — {summary}").format(
                description=description, summary=t.isolate(trim(story.summary, 120))
            )
        results.append(
            InlineQueryResultArticle(
                id=str(story.id),
                title=trim(story.title, 120),
                description=description,
                url=story.link,
                thumbnail_url=story.image_url,
                input_message_content=InputTextMessageContent(
                    rendered.text,
                    parse_mode="HTML",
                    link_preview_options=preview(story.link),
                ),
                reply_markup=keyboard(
                    [[b for b in rendered.buttons[0] if b.url]] if rendered.buttons else []
                ),
            )
        )
    more = len(stories) > RESULTS_PER_PAGE
    await query.answer(
        results,
        cache_time=30,
        is_personal=True,
        next_offset=str(offset + RESULTS_PER_PAGE) if more else "",
    )


HANDLERS = [InlineQueryHandler(inline_query)]
