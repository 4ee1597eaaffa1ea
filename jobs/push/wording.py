"""What a push looks like, and the wording the bot hands the fan-out to produce it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from storage.records import StoryView


@dataclass(frozen=True, slots=True)
class PushMessage:
    """A rendered push: HTML text, a plain-text fallback, buttons and the preview link."""

    text: str
    plain: str
    reply_markup: dict[str, object] | None = None
    preview_url: str | None = None


class PushWording(Protocol):
    """Renders one story, or several for a grouped push, in a reader's time zone and language
    (``locale``: the chat's chosen language or Telegram's code for it; None: the default).

    The bot's ``bot.push_render.PushRenderer`` is the one implementation."""

    def __call__(
        self,
        stories: Sequence[StoryView],
        zone: str,
        *,
        locale: str | None = None,
        keywords: Sequence[str] = (),
    ) -> PushMessage: ...

    def language(self, locale: str | None) -> str:
        """The language ``locale`` renders in: readers whose codes render alike ("de", "fa",
        None: all the default) share one cached render."""
        ...
