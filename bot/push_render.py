"""Turns stories into the pre-rendered pushes the fan-out sends (the bot side of its seam)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.i18n import N_, SOURCE_LOCALE, Texts, chat_locale, texts
from bot.render import (
    CAPTION_LIMIT,
    TITLE_IN_SHORT_CAPTION,
    Button,
    alert_label,
    plain_text,
    shown_order,
    story_group,
    story_message,
    trim,
    visible_length,
)
from bot.sections import SectionCatalogue
from jobs.push.wording import PushMessage
from news.clock import utcnow
from storage.records import StoryView


def _button(button: Button) -> dict[str, object]:
    if button.url:
        return {"text": button.text, "url": button.url}
    if button.switch_inline_query is not None:
        return {"text": button.text, "switch_inline_query": button.switch_inline_query}
    return {"text": button.text, "callback_data": button.callback}


def _short_caption(
    story: StoryView, *, t: Texts, now: datetime, zone: ZoneInfo, names: Mapping[str, str]
) -> str:
    """What a correction of a photo whose text has grown past a caption puts under it: the
    headline and its line, the summary left to the article."""
    short = replace(story, summary="", title=trim(story.title, TITLE_IN_SHORT_CAPTION))
    return story_message(
        short, t=t, now=now, zone=zone, section_names=names, breaking=story.breaking
    ).text


def _caption(text: str, short_caption: str | None) -> str | None:
    """A story with a picture (it has a short caption) goes as a photo with ``text`` as its
    caption when the text fits one; else None (text with the picture large above it)."""
    if short_caption is not None and visible_length(text) <= CAPTION_LIMIT:
        return text
    return None


def _markup(rows: Sequence[Sequence[Button]]) -> dict[str, object] | None:
    keyboard = [[_button(b) for b in row] for row in rows if row]
    return {"inline_keyboard": keyboard} if keyboard else None


class PushRenderer:
    """Renders pushes with the offered sections' names in each reader's language: the fan-out's
    ``jobs.push.wording.PushWording``."""

    def __init__(
        self,
        default_timezone: str,
        *,
        comment_button: bool = False,
        default_locale: str = SOURCE_LOCALE,
        sections: SectionCatalogue | None = None,
    ) -> None:
        self.sections = sections or SectionCatalogue()
        self._default = default_timezone
        self._default_locale = default_locale
        self._comment_button = comment_button
        self._zones: dict[str, ZoneInfo] = {}

    def _zone(self, name: str) -> ZoneInfo:
        zone = self._zones.get(name)
        if zone is None:
            try:
                zone = ZoneInfo(name)
            except (KeyError, ValueError):
                zone = ZoneInfo(self._default)
            self._zones[name] = zone
        return zone

    def language(self, locale: str | None) -> str:
        """The interface language ``locale`` (ours, or a Telegram code) renders in."""
        return chat_locale(locale, locale, self._default_locale)

    def __call__(
        self,
        stories: Sequence[StoryView],
        zone: str,
        *,
        locale: str | None = None,
        keywords: Sequence[str] = (),
    ) -> PushMessage:
        """One story as a full message, several as a grouped list, in the reader's zone and
        language: ``locale`` is one of ours (bot.i18n.LOCALES) or a Telegram language code;
        None or one we have no catalogue for gets the default (the default edition's
        language, else English)."""
        now = utcnow()
        tz = self._zone(zone)
        t = texts(self.language(locale))
        names = self.sections.names(t)
        label = f"{alert_label(keywords, t=t)}\n" if keywords else ""
        short_caption: str | None = None
        if len(stories) == 1:
            story = stories[0]
            rendered = story_message(
                story,
                t=t,
                now=now,
                zone=tz,
                section_names=names,
                breaking=story.breaking,
                comment_button=self._comment_button,
                share_button=True,
            )
            if story.image_url:
                short_caption = label + _short_caption(story, t=t, now=now, zone=tz, names=names)
        else:
            stories = shown_order(stories)
            rendered = story_group(stories, t=t, now=now, zone=tz, section_names=names)
        text, plain = label + rendered.text, plain_text(stories, t=t, now=now, zone=tz)
        if keywords:
            # A keyword alert says which followed words brought it, above the story.
            plain = f"{alert_label(keywords, t=t, html=False)}\n{plain}"
        return PushMessage(
            text=text,
            plain=plain,
            reply_markup=_markup(rendered.buttons),
            preview_url=rendered.preview_url,
            caption=_caption(text, short_caption),
            short_caption=short_caption,
        )


# Translators: the last line of a story posted in the outlet's Telegram channel; readers
# reply in the post's discussion (its comments), and those replies are sent to the website.
DISCUSSION_NOTE = N_("💬 Comments in this post's discussion appear on the website.")


class ChannelPostRenderer:
    """Renders a story as a post in the outlet's channel, in the channel's edition's language
    and the default time zone: the push's text (breaking news marked alike), the line about
    the discussion when its comments are taken, a "Read" button and a "💬 Comment" button
    that opens the bot in a private chat on the story (``/start c_<story id>``). A story with
    a picture carries its captions as a push does (the fan-out decides photo or text by the
    same rule), the discussion line at their end.

    Channels get no callback buttons: a press would be answered in the channel itself.
    """

    def __init__(
        self,
        bot_username: Callable[[], str],
        default_timezone: str,
        *,
        default_locale: str = SOURCE_LOCALE,
        comment_button: bool = True,
        discussion_note: bool = True,
        sections: SectionCatalogue | None = None,
    ) -> None:
        # Read at each render: the bot learns its name when it starts, after this is built.
        self._bot = bot_username
        self._zone = ZoneInfo(default_timezone)
        self._default_locale = default_locale
        self._comment_button = comment_button
        self._discussion_note = discussion_note
        self.sections = sections or SectionCatalogue()

    def __call__(self, story: StoryView) -> PushMessage:
        """The post for ``story`` (its edition decides the language)."""
        now = utcnow()
        t = texts(chat_locale(story.edition, story.edition, self._default_locale))
        names = self.sections.names(t)
        rendered = story_message(
            story, t=t, now=now, zone=self._zone, section_names=names, breaking=story.breaking
        )
        text = rendered.text
        plain = plain_text([story], t=t, now=now, zone=self._zone)
        short_caption = None
        if story.image_url:
            short_caption = _short_caption(story, t=t, now=now, zone=self._zone, names=names)
        row: list[Button] = []
        if story.link:
            row.append(Button(t.pgettext("button", "Read"), url=story.link))
        if self._discussion_note:
            note = f"\n\n{t._(DISCUSSION_NOTE)}"
            text, plain = text + note, plain + note
            if short_caption is not None:
                short_caption += note
        if self._comment_button:
            # Translators: a button under a story in the outlet's channel: it opens a private
            # chat with the bot, ready to write a comment on the story.
            label = t.pgettext("button", "💬 Comment")
            row.append(Button(label, url=f"https://t.me/{self._bot()}?start=c_{story.id}"))
        return PushMessage(
            text=text,
            plain=plain,
            reply_markup=_markup([row]),
            preview_url=rendered.preview_url,
            caption=_caption(text, short_caption),
            short_caption=short_caption,
        )
