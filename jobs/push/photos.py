"""Pictures: which photo a push sends (the story's picture by URL, or the file id Telegram
gave it the first time), and what Telegram's answer taught about the picture.

Telegram fetches a URL each time it is sent one; a file id it already holds costs nothing
(its recommended way to send one file many times). So the first push of a picture goes
alone: the other workers wanting that picture wait for its answer (at most
``first_upload_wait``, then they send the URL too) and send its file id. A picture Telegram
refuses is remembered, so later readers of the story get text at once. Both are kept on the
story in storage (a restart or a new leader knows them) and here (no read per send).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TypeVar

from storage import stories as story_store
from storage.engine import SessionFactory, writing
from storage.records import StoryView

log = logging.getLogger(__name__)
T = TypeVar("T")

# Bounded: a few stories are being pushed at a time.
MAX_REMEMBERED = 10_000


@dataclass(frozen=True, slots=True)
class PhotoChoice:
    """The photo to send for a story: a file id, or the picture's URL (``by_url``).

    ``first``: this send is the picture's first; its sender must call
    ``StoryPhotos.settled`` once Telegram has answered, whatever the answer."""

    story_id: int
    image_url: str
    photo: str
    by_url: bool
    first: bool = False


class StoryPhotos:
    """What this instance knows of the pictures it pushes; one per fan-out."""

    def __init__(self, sessions: SessionFactory, *, first_upload_wait: float = 5.0) -> None:
        self._sessions = sessions
        self._first_upload_wait = first_upload_wait
        self._file_ids: dict[int, tuple[str, str]] = {}  # story id -> (picture URL, file id)
        self._refused: dict[int, str] = {}  # story id -> the picture URL Telegram refused
        self._uploading: dict[int, asyncio.Event] = {}  # story id -> its first send's answer

    async def choose(self, story: StoryView) -> PhotoChoice | None:
        """The photo to push for ``story``; None when it is to go as text (no picture, or
        one Telegram refused)."""
        url = story.image_url
        if not url:
            return None
        while True:
            if story.image_failed or self._refused.get(story.id) == url:
                return None
            known = self._file_ids.get(story.id)
            if known is not None and known[0] == url:
                return PhotoChoice(story.id, url, known[1], by_url=False)
            if story.photo_file_id:
                return PhotoChoice(story.id, url, story.photo_file_id, by_url=False)
            uploading = self._uploading.get(story.id)
            if uploading is None:
                self._uploading[story.id] = asyncio.Event()
                return PhotoChoice(story.id, url, url, by_url=True, first=True)
            try:
                await asyncio.wait_for(uploading.wait(), self._first_upload_wait)
            except TimeoutError:
                # Telegram is slow to fetch it: this reader gets the URL too (its fetch may
                # come from Telegram's cache) rather than the queue standing still.
                return PhotoChoice(story.id, url, url, by_url=True)

    def settled(self, choice: PhotoChoice) -> None:
        """The first send of a picture has its answer: the sends waiting for it go on."""
        if choice.first:
            event = self._uploading.pop(choice.story_id, None)
            if event is not None:
                event.set()

    async def sent(self, choice: PhotoChoice, file_id: str | None) -> None:
        """Telegram took the photo: keep the file id it gave a picture sent by URL."""
        if not choice.by_url or not file_id or choice.story_id in self._file_ids:
            return
        self._remember(self._file_ids, choice.story_id, (choice.image_url, file_id))
        try:
            async with writing(self._sessions) as session:
                await story_store.remember_photo(
                    session, choice.story_id, choice.image_url, file_id
                )
        except Exception:
            # Kept here all the same: this instance still sends the id.
            log.exception("story=%s could not store its photo's file id", choice.story_id)

    async def refused(self, choice: PhotoChoice, description: str) -> None:
        """Telegram refused the picture: the story goes as text from now on."""
        self._file_ids.pop(choice.story_id, None)
        self._remember(self._refused, choice.story_id, choice.image_url)
        log.warning(
            "story=%s picture refused by Telegram (%s); it is pushed as text",
            choice.story_id,
            description,
        )
        try:
            async with writing(self._sessions) as session:
                await story_store.mark_image_failed(session, choice.story_id, choice.image_url)
        except Exception:
            log.exception("story=%s could not store that its picture failed", choice.story_id)

    @staticmethod
    def _remember(table: dict[int, T], story_id: int, value: T) -> None:
        if len(table) >= MAX_REMEMBERED:
            table.clear()
        table[story_id] = value
