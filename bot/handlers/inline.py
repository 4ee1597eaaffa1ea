"""Inline mode: ``@bot kirkuk`` in any chat offers matching stories to share."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update
from telegram.ext import InlineQueryHandler

from bot.callbacks import MAX_OFFSET, parse_id
from bot.deps import deps
from bot.handlers.common import Context, keyboard, preview, section_names
from bot.render import section_label, story_message, time_ago, trim
from storage import stories as story_store
from storage.clock import utcnow

RESULTS_PER_PAGE = 10


async def inline_query(update: Update, context: Context) -> None:
    """Latest stories for an empty query, else a search; paged with Telegram's offset."""
    query = update.inline_query
    assert query is not None
    offset = min(parse_id(query.offset) or 0, MAX_OFFSET)
    text = query.query.strip()[:200]
    async with deps(context).sessions() as session:
        if text:
            stories = await story_store.search_stories(
                session, text, limit=RESULTS_PER_PAGE + 1, offset=offset
            )
        else:
            stories = await story_store.latest_stories(
                session, limit=RESULTS_PER_PAGE + 1, offset=offset
            )
    names = await section_names(context)
    now = utcnow()
    zone = ZoneInfo(deps(context).settings.default_timezone)
    results = []
    for story in stories[:RESULTS_PER_PAGE]:
        rendered = story_message(story, now=now, zone=zone, section_names=names)
        description = f"{section_label(story, names)} · {time_ago(story.sort_at, now)}"
        if story.summary:
            description += f" — {trim(story.summary, 120)}"
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
        is_personal=False,
        next_offset=str(offset + RESULTS_PER_PAGE) if more else "",
    )


HANDLERS = [InlineQueryHandler(inline_query)]
