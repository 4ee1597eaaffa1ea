"""Every story message in Telegram HTML: pure functions from stories to text and buttons.

Feed text is never trusted: it is escaped here and only here, so a title holding ``<``,
``&`` or ``"`` can never make Telegram answer "can't parse entities".

Every function takes the reader's texts (``t``, bot.i18n.Texts): its labels, times and
numbers are in that language, and feed text embedded in them is isolated with ``t.isolate``
(a right-to-left interface isolates Latin headlines and names too).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.i18n import Texts
from storage.records import StoryView

SUMMARY_PUSH = 500
TITLE_MAX = 1000
# A photo's caption: 1,024 UTF-16 code units after entities are parsed.
CAPTION_LIMIT = 1024
# The title of a corrected photo push whose whole text no longer fits its caption.
TITLE_IN_SHORT_CAPTION = 700
# Telegram counts message length in UTF-16 code units after entities are parsed.
_SAFE_BUDGET = 3900


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button: a URL to open, or callback data (≤ 64 bytes) for the bot."""

    text: str
    url: str | None = None
    callback: str | None = None
    # Share: Telegram asks for a chat and types "@bot <this>" there (inline mode).
    switch_inline_query: str | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message ready to send: HTML text, its link preview and rows of buttons."""

    text: str
    preview_url: str | None = None
    buttons: tuple[tuple[Button, ...], ...] = field(default=())


def escape(text: str) -> str:
    """Text made safe for Telegram HTML (and for an attribute value)."""
    return html.escape(text, quote=True)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


_TAG = re.compile(r"<[^>]*>")


def visible_length(text: str) -> int:
    """The length of our Telegram HTML as Telegram counts it: after entities are parsed
    (tags gone, character references one character each), in UTF-16 code units."""
    return utf16_len(html.unescape(_TAG.sub("", text)).strip())


def share_query(story_id: int) -> str:
    """The inline query a Share button types: inline mode answers it with that story."""
    return f"s_{story_id}"


def trim(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut on a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


def shown_order(stories: Sequence[StoryView]) -> list[StoryView]:
    """Stories in the order a message lists them: breaking news first (a digest's rule; a
    grouped push never mixes the two), then newest first, and stories of the same second by
    id, the later one first — as /latest and search order them, so a grouped push, a digest
    and a list agree, and a reply's "which story?" numbers them alike."""
    return sorted(stories, key=lambda s: (not s.breaking, -s.sort_at.timestamp(), -s.id))


def section_label(story: StoryView, names: Mapping[str, str], *, t: Texts) -> str:
    """The story's offered sections by their names in the reader's language (``names``:
    slug → name, see bot.sections), each isolated, as plain text — escape it for HTML.

    A section missing from ``names`` is no longer offered (a category an older version filed
    as a section) and is not shown."""
    labels = [t.isolate(names[s]) for s in story.sections if s in names]
    # Translators: the section of a story that has none of its own.
    return t.join(labels) if labels else t.pgettext("section", "News")


def published(story: StoryView, *, t: Texts, now: datetime, zone: ZoneInfo, relative: bool) -> str:
    """When the story was published, as plain text: "3 hours ago, 12:00" where the text is
    read as it is sent (``relative``: a /latest list, redrawn on every tap), else an absolute
    local time that stays true in the chat ("12:00" today, "24 Nov, 12:00" before)."""
    if relative:
        return t.when(story.sort_at, now, zone)
    return t.stamp(story.sort_at, now, zone)


def _meta(
    story: StoryView,
    *,
    t: Texts,
    now: datetime,
    zone: ZoneInfo,
    names: Mapping[str, str],
    relative: bool,
) -> str:
    """The italic line under a headline, in HTML: "Kurdistan · 12:00"."""
    # Translators: under a headline: its sections, then when it was published.
    return t._("{sections} · {time}").format(
        sections=escape(section_label(story, names, t=t)),
        time=escape(published(story, t=t, now=now, zone=zone, relative=relative)),
    )


def story_message(
    story: StoryView,
    *,
    t: Texts,
    now: datetime,
    zone: ZoneInfo,
    section_names: Mapping[str, str],
    breaking: bool = False,
    comment_button: bool = False,
    share_button: bool = False,
) -> Rendered:
    """One story: bold title, section and time, trimmed summary, and buttons.

    The message stays in a chat (a push, a shared or opened story), so its time is absolute.
    The article opens from the "Read" button (and the link preview): a "Read the full story"
    link in the text would say the same thing twice. ``share_button`` (a push) adds "Share",
    which offers the story to any chat through inline mode."""
    # Feeds' titles are capped at parse time; this keeps any other title within one message.
    title = escape(trim(story.title, TITLE_MAX))
    marker = "🔴 " if breaking else ""
    meta = _meta(story, t=t, now=now, zone=zone, names=section_names, relative=False)
    lines = [f"{marker}<b>{t.isolate(title)}</b>", f"<i>{meta}</i>"]
    if story.summary:
        lines += ["", t.isolate(escape(trim(story.summary, SUMMARY_PUSH)))]
    text = "\n".join(lines)
    if utf16_len(text) > _SAFE_BUDGET:  # only with absurd titles; keep the message valid
        text = "\n".join(lines[:2])
    row: list[Button] = []
    if story.link:
        row.append(Button(t.pgettext("button", "Read"), url=story.link))
    row.append(Button(t.pgettext("button", "More like this"), callback=f"mo:{story.id}"))
    rows = [tuple(row)]
    if share_button:
        # Translators: a button under a pushed story: send it to another chat.
        share = Button(t.pgettext("button", "↗️ Share"), switch_inline_query=share_query(story.id))
        rows.append((share,))
    if comment_button:
        # Write a comment (a reply prompt), or read the published ones.
        rows.append(
            (
                # Translators: a button under a story: write a comment on it. Its icon and
                # verb set it apart from the button beside it at a glance.
                Button(t.pgettext("button", "✍️ Write a comment"), callback=f"cm:{story.id}"),
                # Translators: a button under a story: read its published comments.
                Button(t.pgettext("button", "💬 Read comments"), callback=f"cl:{story.id}:0"),
            )
        )
    return Rendered(text=text, preview_url=story.link, buttons=tuple(rows))


def story_list(
    heading: str,
    stories: Sequence[StoryView],
    *,
    t: Texts,
    now: datetime,
    zone: ZoneInfo,
    section_names: Mapping[str, str],
    first_number: int = 1,
    relative: bool = True,
) -> str:
    """A numbered list of stories under a bold heading, within Telegram's length limit.

    ``heading`` is plain text already in the reader's language (it is escaped here); times
    are relative unless ``relative`` is false (a list that stays in the chat: a push)."""
    parts = [f"<b>{escape(heading)}</b>"]
    used = utf16_len(parts[0])
    for number, story in enumerate(stories, start=first_number):
        title = t.isolate(escape(story.title))
        headline = f'<a href="{escape(story.link)}">{title}</a>' if story.link else title
        meta = _meta(story, t=t, now=now, zone=zone, names=section_names, relative=relative)
        entry = f"\n\n{number}. <b>{headline}</b>\n<i>{meta}</i>"
        if used + utf16_len(entry) > _SAFE_BUDGET:
            break
        parts.append(entry)
        used += utf16_len(entry)
    return "".join(parts)


def story_group(
    stories: Sequence[StoryView],
    *,
    t: Texts,
    now: datetime,
    zone: ZoneInfo,
    section_names: Mapping[str, str],
) -> Rendered:
    """Several new stories for one reader in one message (never more than a few)."""
    breaking = any(s.breaking for s in stories)
    count = len(stories)
    # Translators: the heading of a push that brings several stories at once.
    heading = t.ngettext("{num} new story", "{num} new stories", count).format(num=t.number(count))
    if breaking:
        heading = f"🔴 {heading}"
    text = story_list(
        heading, stories, t=t, now=now, zone=zone, section_names=section_names, relative=False
    )
    return Rendered(text=text, preview_url=None, buttons=())


def alert_label(keywords: Sequence[str], *, t: Texts, html: bool = True) -> str:
    """Why a keyword alert came: "🔔 kirkuk, oil exports" (the reader's own followed words)."""
    words = [t.isolate(escape(w) if html else w) for w in keywords]
    shown = t.join(f"<b>{w}</b>" if html else w for w in words)
    return f"🔔 {shown}"


def plain_text(stories: Sequence[StoryView], *, t: Texts, now: datetime, zone: ZoneInfo) -> str:
    """The same news without any markup: the fallback when Telegram rejects a push's HTML
    (absolute times, as in the push)."""
    parts = []
    for story in stories:
        lines = [("🔴 " if story.breaking else "") + story.title]
        lines.append(published(story, t=t, now=now, zone=zone, relative=False))
        if len(stories) == 1 and story.summary:
            lines.append(trim(story.summary, SUMMARY_PUSH))
        if story.link:
            lines.append(story.link)
        parts.append("\n".join(lines))
    text = "\n\n".join(parts)
    return text if utf16_len(text) <= _SAFE_BUDGET else trim(text, _SAFE_BUDGET // 2)
