"""Nightly housekeeping: old stories and finished comments go; readers and open work stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import col

from jobs.maintenance import housekeeping
from news.story_draft import StoryDraft
from storage import channels as channel_store
from storage import chats as chat_store
from storage import comments as comment_store
from storage import feeds as feed_store
from storage import outbox
from storage import stories as story_store
from storage.engine import SessionFactory, writing
from storage.models import (
    ALL_SECTIONS,
    ChannelThread,
    OutletEvent,
    RefusalNotice,
    StorySection,
    Subscription,
)
from storage.story_messages import remember_story_message, stories_of_message

NOW = datetime(2026, 11, 25, 3, 30, tzinfo=UTC)
RETENTION = timedelta(days=90)
WINDOW = timedelta(days=7)


def _draft(key: str, days_ago: float, title: str) -> StoryDraft:
    return StoryDraft(
        identity=f"guid:{key}",
        guid=key,
        title=title,
        link=f"https://www.rudaw.net/english/{key}",
        published_at=NOW - timedelta(days=days_ago),
    )


async def _story_ids(sessions: SessionFactory) -> dict[str, int]:
    async with writing(sessions) as session:
        [feed] = await feed_store.register_feeds(
            session, [("https://x.example/rss", "news", "en")], NOW
        )
        policy = story_store.IngestPolicy(now=NOW)
        drafts = [
            (_draft("ancient", 200, "Dukan dam inaugurated"), ["news"]),
            (_draft("old", 91, "Old Halabja anniversary"), ["news"]),
            (_draft("recent", 10, "Recent Erbil budget"), ["news"]),
            (_draft("today", 0.1, "Today Kirkuk talks"), ["news"]),
        ]
        outcome = await story_store.store_feed_items(session, feed.id, drafts, policy)
    stories = outcome.backlog + outcome.new
    return {s.title.split()[0].lower(): s.id for s in stories}


async def _comment(
    sessions: SessionFactory, story_id: int, message_id: int, status: str
) -> comment_store.CommentView:
    async with writing(sessions) as session:
        story = await story_store.get_story(session, story_id)
        return await comment_store.add_comment(
            session,
            comment_store.CommentDraft(7, 7, message_id, "Reader", f"comment {message_id}"),
            story,
            status=status,
            now=NOW - timedelta(days=100),
            retry_for=timedelta(hours=24),
        )


async def test_housekeeping_prunes_old_and_keeps_readers_and_open_work(
    sessions: SessionFactory,
) -> None:
    ids = await _story_ids(sessions)
    async with writing(sessions) as session:
        await chat_store.touch_chat(session, 7, type="private", title=None, language=None, now=NOW)
        await chat_store.subscribe(session, 7, [ALL_SECTIONS], NOW - timedelta(days=400))
        await remember_story_message(session, 7, 1, [ids["old"]], "list", NOW - timedelta(days=8))
        await remember_story_message(session, 7, 2, [ids["today"]], "list", NOW)
    # A comment the outlet took 100 days ago (finished), and one still waiting for the outlet.
    relayed = await _comment(sessions, ids["old"], 10, comment_store.QUEUED)
    async with writing(sessions) as session:
        [job] = await outbox.claim_events(
            session, NOW - timedelta(days=100), limit=5, lease=timedelta(minutes=1)
        )
        await outbox.event_delivered(
            session,
            job.id,
            now=NOW - timedelta(days=100),
            outlet_id="c1",
            outlet_status="approved",
            published=True,
        )
    waiting = await _comment(sessions, ids["old"], 11, comment_store.QUEUED)
    async with writing(sessions) as session:  # a comment.deleted the outlet took long ago
        long_ago = NOW - timedelta(days=95)
        session.add(
            OutletEvent(
                webhook_id="msg_old",
                type=comment_store.DELETED,
                payload="{}",
                status="done",
                next_attempt_at=long_ago,
                deadline=long_ago,
                created_at=long_ago,
                updated_at=long_ago,
            )
        )

    async with writing(sessions) as session:  # channel threads, and a refusal told
        for thread, days in ((1, 31), (2, 29)):
            await channel_store.record_thread(
                session,
                -1002,
                thread,
                channel_id=-1001,
                post_id=thread,
                now=NOW - timedelta(days=days),
            )
        await channel_store.may_tell_refusal(
            session, -1002, 7, NOW - timedelta(days=2), timedelta(minutes=10)
        )

    pruned = await housekeeping(
        sessions, comment_window=WINDOW, retention_period=RETENTION, clock=lambda: NOW
    )

    # The relayed comment's own outbox row went with it; the old comment.deleted row on its own.
    assert (pruned.stories, pruned.comments, pruned.outbox, pruned.story_messages) == (2, 1, 1, 1)
    # A thread past its 30 days no longer takes comments and is forgotten; so is the refusal.
    assert pruned.channel_threads == 1
    async with sessions() as session:
        assert await channel_store.thread_story(session, -1002, 1) is None
        assert await session.get(ChannelThread, (-1002, 2)) is not None
        assert await session.get(RefusalNotice, (-1002, 7)) is None
    async with sessions() as session:
        left = await story_store.latest_stories(session, limit=10)
        assert sorted(s.title for s in left) == ["Recent Erbil budget", "Today Kirkuk talks"]
        # The search index followed the deletes (SQLite FTS triggers, PostgreSQL column).
        assert await story_store.search_stories(session, "Halabja", limit=5) == []
        assert [s.title for s in await story_store.search_stories(session, "Kirkuk", limit=5)] == [
            "Today Kirkuk talks"
        ]
        sections = (
            await session.exec(select(func.count()).select_from(StorySection))
        ).scalar_one()
        assert sections == 2
        assert await comment_store.get_comment(session, relayed.id) is None
        kept = await comment_store.get_comment(session, waiting.id)
        # Still owed to the outlet: kept, with its article, and its webhook still queued.
        assert kept is not None and kept.story_id is None
        assert kept.article_title == "Old Halabja anniversary"
        events = (
            await session.exec(
                select(OutletEvent.status).where(col(OutletEvent.comment_id) == waiting.id)
            )
        ).scalars()
        assert list(events) == ["pending"]
        assert (
            await session.exec(select(func.count()).select_from(Subscription))
        ).scalar_one() == 1
        assert (await chat_store.get_chat(session, 7)) is not None
        assert await stories_of_message(session, 7, 1) == ("", [])
        assert await stories_of_message(session, 7, 2) == ("list", [ids["today"]])


async def test_pruning_runs_in_batches_until_done(sessions: SessionFactory) -> None:
    async with writing(sessions) as session:
        [feed] = await feed_store.register_feeds(
            session, [("https://x.example/rss", "news", "en")], NOW
        )
        policy = story_store.IngestPolicy(now=NOW)
        drafts = [(_draft(f"s{n}", 100 + n / 100, f"Story {n}"), ["news"]) for n in range(1001)]
        await story_store.store_feed_items(session, feed.id, drafts, policy)

    pruned = await housekeeping(
        sessions, comment_window=WINDOW, retention_period=RETENTION, clock=lambda: NOW
    )

    assert pruned.stories == 1001
    async with sessions() as session:
        assert await story_store.latest_stories(session, limit=5) == []
