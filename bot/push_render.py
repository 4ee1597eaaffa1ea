"""Turns stories into the pre-rendered pushes the fan-out sends (the bot side of its seam)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from zoneinfo import ZoneInfo

from bot.i18n import SOURCE_LOCALE, chat_locale, texts
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
        caption = short_caption = None
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
                # A correction of a photo whose text has grown past a caption keeps the
                # headline and its line, and leaves the summary to the article.
                short = replace(story, summary="", title=trim(story.title, TITLE_IN_SHORT_CAPTION))
                short_caption = (
                    label
                    + story_message(
                        short, t=t, now=now, zone=tz, section_names=names, breaking=story.breaking
                    ).text
                )
        else:
            stories = shown_order(stories)
            rendered = story_group(stories, t=t, now=now, zone=tz, section_names=names)
        text, plain = label + rendered.text, plain_text(stories, t=t, now=now, zone=tz)
        if keywords:
            # A keyword alert says which followed words brought it, above the story.
            plain = f"{alert_label(keywords, t=t, html=False)}\n{plain}"
        if short_caption is not None and visible_length(text) <= CAPTION_LIMIT:
            caption = text
        return PushMessage(
            text=text,
            plain=plain,
            reply_markup=_markup(rendered.buttons),
            preview_url=rendered.preview_url,
            caption=caption,
            short_caption=short_caption,
        )
