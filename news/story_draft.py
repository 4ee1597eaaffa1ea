"""One feed item, cleaned and ready to store: what feed parsing hands to storage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StoryDraft:
    """One feed item, cleaned and ready to store (the output of feed parsing).

    ``identity`` is the item's stable key: ``guid:<guid>`` when the feed gives a
    usable guid, else ``link:<absolute url>``, else ``hash:<sha1 of the title>``.
    ``link_is_key`` says the link also finds the story again (it is false when other
    stories of the same document have that link). ``news.story_identity`` has the rule.
    """

    identity: str
    title: str
    link: str | None
    guid: str | None = None
    summary: str = ""
    image_url: str | None = None
    author: str | None = None
    categories: tuple[str, ...] = ()
    language: str | None = None
    published_at: datetime | None = None  # aware, UTC
    link_is_key: bool = True
