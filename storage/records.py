"""Plain records that cross the storage boundary: what goes in and what comes out.

They carry no SQL and no session, so handlers and jobs can hold them after a
transaction has ended without triggering lazy loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StoryDraft:
    """One feed item, cleaned and ready to store (the output of feed parsing).

    ``identity`` is the item's stable key: ``guid:<guid>`` when the feed gives a
    usable guid, else ``link:<absolute url>``, else ``hash:<sha1 of the title>``.
    ``link_is_key`` says the link also finds the story again (it is false when other
    stories of the same document have that link). ``jobs.story_identity`` has the rule.
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


@dataclass(frozen=True, slots=True)
class StoryView:
    """A stored story as readers and jobs see it."""

    id: int
    title: str
    link: str | None
    summary: str
    image_url: str | None
    author: str | None
    categories: tuple[str, ...]
    language: str | None
    published_at: datetime | None
    first_seen_at: datetime
    sort_at: datetime
    sections: tuple[str, ...] = field(default=())
    breaking: bool = False
    guid: str | None = None
    edition: str = "en"


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What one feed's ingestion changed: only ``new`` stories are ever pushed."""

    new: tuple[StoryView, ...] = ()
    updated: tuple[StoryView, ...] = ()
    backlog: tuple[StoryView, ...] = ()
    unchanged: int = 0
