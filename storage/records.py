"""Plain records that cross the storage boundary: what goes in and what comes out.

They carry no SQL and no session, so handlers and jobs can hold them after a
transaction has ended without triggering lazy loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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
    # The picture's Telegram file id, once a push of it succeeded (sent instead of the URL).
    photo_file_id: str | None = None
    # Telegram refused the picture: the story is pushed as text.
    image_failed: bool = False


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What one feed's ingestion changed: only ``new`` stories are ever pushed."""

    new: tuple[StoryView, ...] = ()
    updated: tuple[StoryView, ...] = ()
    backlog: tuple[StoryView, ...] = ()
    unchanged: int = 0
