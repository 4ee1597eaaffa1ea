"""The inbox of the outlet's events, on SQLite and PostgreSQL: accepting (repeats, unknown
types, malformed data), processing (published, rejected, deleted), events waiting for their
story, a crash between accepting and processing, reply notices, paging and retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from jobs.maintenance import housekeeping
from jobs.outlet_inbox import InboxSettings, OutletInbox
from news.outlet_events import MalformedEvent
from storage import chats as chat_store
from storage import comments as comment_store
from storage import inbox
from storage import published_comments as site
from storage import stories as story_store
from storage.comments import PUBLISHED, QUEUED, REJECTED, CommentDraft, CommentView
from storage.engine import SessionFactory, writing
from storage.models import OutletEvent, PublishedComment
from storage.published_comments import ReplyNotice
from tests.auxil.stored_items import add_feed, draft, store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LINK = "https://example.org/news/erbil"


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Told:
    """The bot side, as the inbox sees it: what it was asked to tell."""

    def __init__(self) -> None:
        self.changed: list[CommentView] = []
        self.replies: list[ReplyNotice] = []

    async def comment_changed(
        self, comment: CommentView, *, still_trying: bool = False, paused: bool = False
    ) -> None:
        self.changed.append(comment)

    async def reply_received(self, notice: ReplyNotice) -> bool:
        self.replies.append(notice)
        return True


def published(comment_id: str, text: str = "Good news", **extra: Any) -> dict[str, Any]:
    return {
        "id": comment_id,
        "story": {"link": LINK + "#comments"},
        "author": extra.pop("author", "Karwan"),
        "text": text,
        "published_at": "2026-11-25T11:00:00Z",
        **extra,
    }


async def add_story(sessions: SessionFactory, key: str = "erbil", link: str = LINK) -> int:
    feed_id = await add_feed(sessions, f"https://example.org/{key}/rss")
    outcome = await store(sessions, feed_id, [(draft(key, link=link), [])], announce=False)
    return (outcome.backlog + outcome.new)[0].id


def make_inbox(sessions: SessionFactory, clock: Clock, told: Told | None = None) -> OutletInbox:
    return OutletInbox(
        sessions,
        InboxSettings(default_timezone="Asia/Baghdad", first_retry=60, max_retry=600),
        told or Told(),
        clock=clock,
    )


async def relayed_comment(
    sessions: SessionFactory, story_id: int, user_id: int, text: str = "Mine"
) -> tuple[CommentView, str]:
    """A reader's comment queued for the outlet, and the webhook-id it goes out with."""
    async with writing(sessions) as session:
        story = await story_store.get_story(session, story_id)
        await chat_store.touch_chat(
            session, user_id, type="private", title=None, language="en", now=NOW
        )
        comment = await comment_store.add_comment(
            session,
            CommentDraft(user_id, user_id, 100 + user_id, f"Reader {user_id}", text),
            story,
            status=QUEUED,
            now=NOW,
            retry_for=timedelta(hours=1),
        )
        key = (
            await session.exec(
                select(OutletEvent.webhook_id).where(OutletEvent.comment_id == comment.id)
            )
        ).one()
    return comment, key


async def shown(sessions: SessionFactory) -> list[PublishedComment]:
    async with sessions() as session:
        return list((await session.exec(select(PublishedComment))).all())


async def test_a_repeated_webhook_id_is_kept_once_and_unknown_types_are_ignored(
    sessions: SessionFactory,
) -> None:
    box = make_inbox(sessions, Clock())
    assert await box.accept("msg_1", "comment.published", published("c1")) == "new"
    assert await box.accept("msg_1", "comment.published", published("c1")) == "repeat"
    assert await box.accept("msg_2", "story.retracted", {"anything": 1}) == "ignored"
    with pytest.raises(MalformedEvent, match=r"data\.text"):
        await box.accept("msg_3", "comment.published", {**published("c3"), "text": 5})
    async with sessions() as session:
        assert await inbox.inbox_counts(session) == {"pending": 1}


async def test_published_comment_is_shown_under_its_story_and_publishes_the_readers(
    sessions: SessionFactory,
) -> None:
    story_id = await add_story(sessions)
    comment, key = await relayed_comment(sessions, story_id, 7)
    told = Told()
    box = make_inbox(sessions, Clock(), told)
    await box.accept("msg_a", "comment.published", published("site-1", author="Dilan"))
    await box.accept(
        "msg_b", "comment.published", published("site-2", "Mine", idempotency_key=key)
    )
    await box.process_due()
    rows = sorted(await shown(sessions), key=lambda r: r.outlet_id)
    assert [(r.outlet_id, r.story_id, r.author, r.user_id) for r in rows] == [
        ("site-1", story_id, "Dilan", None),
        ("site-2", story_id, "Karwan", 7),  # the name the site shows
    ]
    assert [c.id for c in told.changed] == [comment.id]
    async with sessions() as session:
        mine = await comment_store.get_comment(session, comment.id)
        assert await inbox.inbox_counts(session) == {"done": 2}
    assert mine is not None and mine.status == PUBLISHED and mine.outlet_id == "site-2"

    # Rejected later (the site took it back): its state follows, the site no longer shows it.
    await box.accept("msg_c", "comment.rejected", {"id": "site-2", "reason": "Off topic"})
    await box.accept("msg_d", "comment.deleted", {"id": "site-1"})
    await box.process_due()
    assert await shown(sessions) == []
    assert told.changed[-1].status == REJECTED and told.changed[-1].reason == "Off topic"


async def test_an_event_for_an_unknown_story_waits_for_it_then_is_dropped_after_a_day(
    sessions: SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    box = make_inbox(sessions, clock)
    await box.accept("msg_early", "comment.published", published("early"))
    await box.accept(
        "msg_never",
        "comment.published",
        {**published("never"), "story": {"link": "https://example.org/news/never"}},
    )
    await box.process_due()
    assert await shown(sessions) == []
    async with sessions() as session:
        assert await inbox.inbox_counts(session) == {"pending": 2}

    # The story arrives: the next try (after the back-off) shows the comment.
    await add_story(sessions)
    clock.now += timedelta(minutes=5)
    await box.process_due()
    assert [r.outlet_id for r in await shown(sessions)] == ["early"]

    # The other one's story never comes: a day later it is dropped, with a log line.
    clock.now = NOW + timedelta(days=1, minutes=1)
    await box.process_due()
    async with sessions() as session:
        assert await inbox.inbox_counts(session) == {"done": 1, "dropped": 1}
    assert "dropped after 1 day" in caplog.text and "msg_never" in caplog.text


async def test_a_crash_between_accepting_and_processing_loses_nothing(
    sessions: SessionFactory,
) -> None:
    await add_story(sessions)
    clock = Clock()
    first = make_inbox(sessions, clock)
    await first.accept("msg_1", "comment.published", published("c1"))
    # The process dies before processing; a second one also dies holding the row's lease.
    async with writing(sessions) as session:
        claimed = await inbox.claim_events(session, NOW, limit=5, lease=timedelta(seconds=60))
    assert [c.webhook_id for c in claimed] == ["msg_1"]
    restarted = make_inbox(sessions, clock)
    await restarted.process_due()
    assert await shown(sessions) == []  # leased by the dead one: not twice at once
    clock.now += timedelta(seconds=61)
    await restarted.process_due()
    assert [r.outlet_id for r in await shown(sessions)] == ["c1"]


async def test_a_reply_on_the_site_reaches_the_right_reader_once(
    sessions: SessionFactory,
) -> None:
    story_id = await add_story(sessions)
    _, key7 = await relayed_comment(sessions, story_id, 7, "Erbil needs this")
    _, key8 = await relayed_comment(sessions, story_id, 8, "Another view")
    told = Told()
    clock = Clock()
    box = make_inbox(sessions, clock, told)
    await box.accept(
        "m1", "comment.published", published("p7", "Erbil needs this", idempotency_key=key7)
    )
    await box.accept("m2", "comment.published", published("p8", idempotency_key=key8))
    await box.process_due()
    reply = published("r1", "I disagree", author="ئاراس", in_reply_to="p7")
    await box.accept("m3", "comment.published", reply)
    await box.process_due()
    # The same reply again (a new delivery id, an edit on the site): shown once, told once.
    await box.accept("m4", "comment.published", {**reply, "text": "I disagree, politely"})
    await box.process_due()
    await box.process_due()
    assert [(n.user_id, n.reply.outlet_id, n.parent_text) for n in told.replies] == [
        (7, "r1", "Erbil needs this")
    ]
    assert told.replies[0].reply.author == "ئاراس"
    [row] = [r for r in await shown(sessions) if r.outlet_id == "r1"]
    assert row.text == "I disagree, politely" and row.notice == "sent"


async def test_reply_notices_wait_for_quiet_hours_and_respect_the_setting(
    sessions: SessionFactory,
) -> None:
    story_id = await add_story(sessions)
    _, key7 = await relayed_comment(sessions, story_id, 7)
    _, key8 = await relayed_comment(sessions, story_id, 8)
    async with writing(sessions) as session:
        # 12:00 UTC is 15:00 in Baghdad: quiet until 16:00 there.
        await chat_store.set_quiet_hours(session, 7, "14:00", "16:00", NOW)
        await chat_store.set_comment_replies(session, 8, False, NOW)
    told = Told()
    clock = Clock()
    box = make_inbox(sessions, clock, told)
    for n, key in ((7, key7), (8, key8)):
        await box.accept(f"m{n}", "comment.published", published(f"p{n}", idempotency_key=key))
    await box.process_due()
    await box.accept("r7", "comment.published", published("r7", in_reply_to="p7"))
    await box.accept("r8", "comment.published", published("r8", in_reply_to="p8"))
    await box.process_due()
    assert told.replies == []
    clock.now = NOW + timedelta(hours=1, seconds=1)
    await box.process_due()
    assert [n.user_id for n in told.replies] == [7]
    async with sessions() as session:
        notices = dict(
            (
                await session.exec(
                    select(PublishedComment.outlet_id, PublishedComment.notice).where(
                        col(PublishedComment.in_reply_to).is_not(None)
                    )
                )
            ).all()
        )
    assert notices == {"r7": "sent", "r8": "skipped"}


async def test_500_comments_page_oldest_first_and_go_with_their_story(
    sessions: SessionFactory,
) -> None:
    story_id = await add_story(sessions)
    box = make_inbox(sessions, Clock())
    start = datetime(2026, 11, 20, tzinfo=UTC)
    for n in range(500):
        when = (start + timedelta(minutes=n)).isoformat()
        await box.accept(
            f"m{n}", "comment.published", {**published(f"c{n}"), "published_at": when}
        )
    await box.process_due()
    seen: list[str] = []
    async with sessions() as session:
        offset = 0
        while True:
            page, total = await site.story_page(session, story_id, offset=offset, limit=10)
            if not page:
                break
            seen += [c.outlet_id for c in page]
            offset += len(page)
    assert total == 500 and seen == [f"c{n}" for n in range(500)]

    # Retention prunes the story, and its comments with it.
    await housekeeping(
        sessions,
        comment_window=timedelta(days=7),
        retention_period=timedelta(days=1),
        clock=lambda: NOW + timedelta(days=30),
    )
    assert await shown(sessions) == []
