"""COMMENTS_FEED_URL: for outlets that cannot send events, a feed of recently published
comments (RSS/Atom as WordPress and most comment systems publish one, or JSON Feed), polled
like the story feeds with conditional requests.

Each item becomes the ``comment.published`` event the outlet would have sent, kept in the
same inbox under an id made from the feed's item (so an item seen again is a repeat and
changes nothing) and processed by the same handler; its story is found by the item's link
without its ``#comment-…`` fragment. Whichever instance finds the poll due first polls
(the turn is taken in ``bot_state`` under a row lock); the others skip it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp

from jobs.clients.feeds import FetchError, fetch_feed
from jobs.outlet_inbox import OutletInbox
from news.clock import utcnow
from news.feed_parsing import NotAFeedError, parse_feed
from news.outlet_events import COMMENT_PUBLISHED, MalformedEvent, event_body, feed_comment
from storage.bot_state import get_state, set_state
from storage.engine import SessionFactory, writing

log = logging.getLogger(__name__)

STATE_KEY = "comments_feed"


@dataclass(frozen=True, slots=True)
class CommentsFeedSettings:
    """Where and how often."""

    url: str
    interval: float = 60.0
    timeout: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    max_items: int = 1000


def feed_event_id(url: str, item_id: str) -> str:
    """The inbox id of a feed item: stable for the item, distinct from the outlet's own ids."""
    return "feed_" + hashlib.sha256(f"{url}\0{item_id}".encode()).hexdigest()[:32]


class CommentsFeed:
    """Polls the comments feed into the inbox; ``poll_once()``, or ``start()`` / ``stop()``."""

    def __init__(
        self,
        sessions: SessionFactory,
        http: aiohttp.ClientSession,
        settings: CommentsFeedSettings,
        inbox: OutletInbox,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._http = http
        self._settings = settings
        self._inbox = inbox
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def _take_turn(self, now: datetime) -> dict[str, str | None] | None:
        """This instance's turn to poll (with the stored validators), or None: not due."""
        async with writing(self._sessions) as session:
            raw = await get_state(session, STATE_KEY, for_update=True)
            state = json.loads(raw) if raw else {}
            due = state.get("next_at")
            if due and datetime.fromisoformat(due) > now:
                return None
            state["next_at"] = (now + timedelta(seconds=self._settings.interval)).isoformat()
            await set_state(session, STATE_KEY, json.dumps(state), now)
        return state

    async def poll_once(self, *, force: bool = False) -> int:
        """Poll when due (or ``force``); returns how many new comments went into the inbox."""
        now = self._clock()
        state = await self._take_turn(now)
        if state is None:
            if not force:
                return 0
            async with self._sessions() as session:
                raw = await get_state(session, STATE_KEY)
            state = json.loads(raw) if raw else {}
        url = self._settings.url
        try:
            fetched = await fetch_feed(
                self._http,
                url,
                etag=state.get("etag"),
                last_modified=state.get("last_modified"),
                timeout=self._settings.timeout,
                max_bytes=self._settings.max_bytes,
                now=now,
            )
            if fetched.not_modified or fetched.body is None:
                return 0
            parsed = parse_feed(
                fetched.body,
                url=fetched.url,
                content_type=fetched.content_type,
                now=now,
                max_items=self._settings.max_items,
            )
        except (FetchError, NotAFeedError) as exc:
            log.warning("comments feed: poll failed (%s)", getattr(exc, "reason", exc))
            return 0
        new = 0
        for draft in parsed.entries:
            comment = feed_comment(draft)
            if comment is None:
                continue
            body = event_body(comment)
            try:
                accepted = await self._inbox.accept(
                    feed_event_id(url, comment.id), COMMENT_PUBLISHED, body["data"]
                )
            except MalformedEvent as exc:
                log.info("comments feed: item %s skipped (%s)", comment.id[:80], exc.reason)
                continue
            new += accepted == "new"
        async with writing(self._sessions) as session:
            raw = await get_state(session, STATE_KEY, for_update=True)
            current = json.loads(raw) if raw else {}
            current.update(etag=fetched.etag, last_modified=fetched.last_modified)
            await set_state(session, STATE_KEY, json.dumps(current), self._clock())
        log.info("comments feed: %d items, %d new", len(parsed.entries), new)
        return new

    async def start(self) -> None:
        """Poll every interval in the background."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="comments-feed")

    async def stop(self) -> None:
        """Stop polling (a poll under way is cancelled: the next one fetches it again)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:
                log.exception("comments feed: poll failed")
            # Checked more often than the interval: another instance may have polled.
            await asyncio.sleep(min(self._settings.interval, 30.0))
