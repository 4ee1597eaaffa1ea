"""The comment relay's surroundings in tests: the outlet's signing secret, a recording stand-in
for the bot side, and a story with queued comments stored the way the bot stores them."""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import Callable
from datetime import timedelta

from bot.admin_alert_texts import alert_text
from bot.i18n import texts
from jobs.comment_relay import CommentRelay
from news.admin_alerts import AdminAlert
from news.clock import utcnow
from news.story_draft import StoryDraft
from storage import comments as comment_store
from storage import feeds as feed_store
from storage import stories as story_store
from storage.comments import CommentDraft, CommentView
from storage.engine import SessionFactory, writing
from storage.records import StoryView

# The outlet's webhook signing secret (what COMMENTS_SECRET holds), and the pseudonym key.
SECRET = "whsec_" + base64.b64encode(b"the outlet's shared signing key!").decode()
KEY = b"k" * 32
READER = 987654321
# make_relay (tests/conftest.py): ``make_relay(notifier, **settings)`` gives a started-later relay.
RelayFactory = Callable[..., CommentRelay]


class RecordingNotifier:
    """The bot side, recorded: what readers and admins would have been told."""

    def __init__(self, *, fail: bool = False) -> None:
        self.changes: list[tuple[CommentView, bool]] = []
        self.paused: list[int] = []  # comments told they wait because relaying is paused
        self.alerts: list[str] = []  # as an English-speaking admin reads them
        self.fail = fail
        self._changed = asyncio.Condition()

    async def comment_changed(
        self, comment: CommentView, *, still_trying: bool = False, paused: bool = False
    ) -> None:
        async with self._changed:
            self.changes.append((comment, still_trying))
            if paused:
                self.paused.append(comment.id)
            self._changed.notify_all()
        if self.fail:
            raise RuntimeError("the bot could not tell the reader")

    async def alert_admins(self, alert: AdminAlert) -> None:
        async with self._changed:
            self.alerts.append(alert_text(alert, t=texts("en")))
            self._changed.notify_all()

    def final(self) -> dict[int, CommentView]:
        """Each comment's last final state."""
        return {c.id: c for c, trying in self.changes if not trying}

    def still_trying(self) -> list[int]:
        return [c.id for c, trying in self.changes if trying]

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10,  # noqa: ASYNC109 - a deadline per wait is this helper's point
    ) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)


async def add_story(sessions: SessionFactory) -> StoryView:
    """One story, stored as backlog (not news: nothing is pushed)."""
    now = utcnow()
    async with writing(sessions) as session:
        [feed] = await feed_store.register_feeds(
            session, [("https://x.example/rss", "news", "en")], now
        )
        policy = story_store.IngestPolicy(now=now)
        draft = StoryDraft(
            identity="guid:251120251",
            guid="251120251",
            title="Erbil airport reopens",
            link="https://www.rudaw.net/english/kurdistan/251120251",
            language="en",
        )
        outcome = await story_store.store_feed_items(session, feed.id, [(draft, ["news"])], policy)
    [story] = outcome.backlog + outcome.new
    return story


message_ids = itertools.count(1000)  # each comment answers its own Telegram message


async def add_comment(
    sessions: SessionFactory,
    story: StoryView,
    text: str = "Good news for the whole region.",
    *,
    user: int = READER,
    retry_for: timedelta = timedelta(hours=24),
) -> CommentView:
    """A reader's comment on ``story``, queued for the relay."""
    async with writing(sessions) as session:
        return await comment_store.add_comment(
            session,
            CommentDraft(user, user, next(message_ids), "Shilan A.", text),
            story,
            status=comment_store.QUEUED,
            now=utcnow(),
            retry_for=retry_for,
        )


async def comment(sessions: SessionFactory, comment_id: int) -> CommentView:
    """A comment as stored now."""
    async with sessions() as session:
        found = await comment_store.get_comment(session, comment_id)
    assert found is not None
    return found
