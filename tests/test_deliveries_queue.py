"""The delivery queue's bulk statements on both engines: add_deliveries, claim_deliveries and
record_outcomes (one cached statement for many rows, plain columns instead of ORM objects)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from news.story_draft import StoryDraft
from storage import chats as chat_store
from storage import deliveries as queue
from storage import feeds as feed_store
from storage import stories as story_store
from storage.deliveries import EDIT, PUSH, Outcome, Recipient
from storage.engine import SessionFactory, writing
from storage.models import PRIORITY_BREAKING, PRIORITY_EDIT, PRIORITY_NEW, Delivery

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def add_story(sessions: SessionFactory, title: str) -> int:
    async with writing(sessions) as session:
        (feed,) = await feed_store.register_feeds(
            session, [("https://www.rudaw.net/english/rss", "kurdistan", "en")], NOW
        )
        policy = story_store.IngestPolicy(now=NOW, news=frozenset({f"guid:{title}"}))
        draft = StoryDraft(
            identity=f"guid:{title}",
            title=title,
            link=f"https://www.rudaw.net/english/{title.replace(' ', '-')}",
            published_at=NOW,
        )
        outcome = await story_store.store_feed_items(
            session, feed.id, [(draft, ["kurdistan"])], policy
        )
    (story,) = outcome.new
    return story.id


async def add_chat(sessions: SessionFactory, chat_id: int, timezone: str | None = None) -> None:
    async with writing(sessions) as session:
        await chat_store.touch_chat(
            session, chat_id, type="private", title=None, language="ckb", now=NOW
        )
        if timezone:
            await chat_store.set_timezone(session, chat_id, timezone, NOW)


def recipient(chat_id: int, message_id: int | None = None) -> Recipient:
    return Recipient(chat_id, 0, None, None, None, message_id)


async def rows(sessions: SessionFactory) -> dict[tuple[int, int, str], Delivery]:
    async with sessions() as session:
        found = (await session.exec(select(Delivery))).all()
    return {(d.story_id, d.chat_id, d.kind): d for d in found}


async def test_a_push_is_queued_once_and_a_later_correction_replaces_an_unsent_one(
    sessions: SessionFactory,
) -> None:
    story = await add_story(sessions, "Oil deal signed")
    readers = [recipient(chat_id) for chat_id in range(1, 251)]  # several 100-row batches
    async with writing(sessions) as session:
        await queue.add_deliveries(
            session, story, PUSH, PRIORITY_NEW, [(r, None) for r in readers], NOW
        )
    later = NOW + timedelta(minutes=1)
    held = NOW + timedelta(hours=1)
    async with writing(sessions) as session:
        # The same readers again (a reopened broadcast): nothing new, nothing changed.
        await queue.add_deliveries(
            session, story, PUSH, PRIORITY_BREAKING, [(r, held) for r in readers], later
        )
        await queue.add_deliveries(
            session, story, EDIT, PRIORITY_EDIT, [(recipient(1, message_id=10), None)], NOW
        )
    async with writing(sessions) as session:
        await queue.add_deliveries(
            session, story, EDIT, PRIORITY_EDIT, [(recipient(1, message_id=11), held)], later
        )
    found = await rows(sessions)
    pushes = [d for (_, _, kind), d in found.items() if kind == PUSH]
    assert len(pushes) == 250
    assert {(d.priority, d.not_before, d.status) for d in pushes} == {
        (PRIORITY_NEW, None, "pending")
    }
    edit = found[(story, 1, EDIT)]
    assert (edit.message_id, edit.not_before, edit.updated_at) == (11, held, later)


async def test_claiming_takes_due_deliveries_most_urgent_first_and_marks_them_in_flight(
    sessions: SessionFactory,
) -> None:
    story = await add_story(sessions, "Oil deal signed")
    for chat_id in (1, 2, 3, 4):
        await add_chat(sessions, chat_id, timezone="Asia/Baghdad" if chat_id == 2 else None)
    async with writing(sessions) as session:
        await queue.add_deliveries(
            session, story, PUSH, PRIORITY_NEW, [(recipient(1), None), (recipient(2), None)], NOW
        )
        # Held until later: not due yet.
        await queue.add_deliveries(
            session, story, PUSH, PRIORITY_NEW, [(recipient(3), NOW + timedelta(hours=1))], NOW
        )
        await chat_store.set_active(session, 4, False, NOW, reason="blocked")
        await queue.add_deliveries(session, story, PUSH, PRIORITY_NEW, [(recipient(4), None)], NOW)
        # A chat the bot never met (no chat row) is still tried.
        await queue.add_deliveries(session, story, PUSH, PRIORITY_NEW, [(recipient(5), None)], NOW)
        # Corrections are the most urgent here (a priority below PRIORITY_NEW).
        await queue.add_deliveries(
            session, story, EDIT, PRIORITY_BREAKING, [(recipient(1, message_id=7), None)], NOW
        )
    async with writing(sessions) as session:
        jobs = await queue.claim_deliveries(session, NOW, limit=10)
    assert [(j.chat_id, j.kind) for j in jobs] == [(1, EDIT), (1, PUSH), (2, PUSH), (5, PUSH)]
    by_chat = {(j.chat_id, j.kind): j for j in jobs}
    assert by_chat[(1, EDIT)].target_message_id == 7
    assert by_chat[(1, PUSH)].target_message_id is None
    assert by_chat[(2, PUSH)].timezone == "Asia/Baghdad"
    assert by_chat[(1, PUSH)].locale == "ckb"
    assert by_chat[(5, PUSH)].timezone is None and by_chat[(5, PUSH)].locale is None
    assert all(j.story_id == story and j.attempts == 0 for j in jobs)
    assert {d.status for d in (await rows(sessions)).values() if d.id in {j.id for j in jobs}} == {
        "sending"
    }
    async with writing(sessions) as session:
        assert await queue.claim_deliveries(session, NOW, limit=10) == []

    async with writing(sessions) as session:
        await queue.record_outcomes(
            session,
            [
                Outcome(by_chat[(1, PUSH)].id, "sent", message_id=42, attempts=0),
                Outcome(by_chat[(2, PUSH)].id, "pending", error="timeout", attempts=1),
            ],
            NOW,
        )
    found = await rows(sessions)
    assert (found[(story, 1, PUSH)].status, found[(story, 1, PUSH)].message_id) == ("sent", 42)
    assert (found[(story, 2, PUSH)].status, found[(story, 2, PUSH)].attempts) == ("pending", 1)


async def test_an_unreachable_chat_leaves_no_backlog_behind(sessions: SessionFactory) -> None:
    """However a chat is found unreachable (a failed push, a failed digest, the bot removed),
    its queued pushes are skipped with it: they would never be claimed, and counted as a
    backlog they would hold the next broadcast back and alert the admins."""
    story = await add_story(sessions, "Halabja memorial reopens")
    for chat_id in (1, 2):
        await add_chat(sessions, chat_id)
    async with writing(sessions) as session:
        await queue.add_deliveries(
            session, story, PUSH, PRIORITY_NEW, [(recipient(1), None), (recipient(2), None)], NOW
        )
    async with writing(sessions) as session:
        assert await chat_store.set_active(session, 1, False, NOW, reason="digest: blocked")
    async with sessions() as session:
        assert await queue.backlog_size(session, NOW, PRIORITY_NEW) == 1
    found = await rows(sessions)
    assert found[(story, 1, PUSH)].status == "skipped"
    assert found[(story, 1, PUSH)].error == "digest: blocked"
    assert found[(story, 2, PUSH)].status == "pending"


async def test_a_step_read_before_a_reopening_does_not_undo_it(sessions: SessionFactory) -> None:
    """An enumeration step that read the broadcast before an admin's /push reopened it (or a
    correction queued it again) must not write its old position back over the reopening."""
    story = await add_story(sessions, "Koya university opens a new campus")
    async with writing(sessions) as session:
        await queue.queue_broadcasts(session, [(story, False)], PUSH, NOW)
    async with sessions() as session:
        (read,) = await queue.open_broadcasts(session)
    async with writing(sessions) as session:
        assert await queue.advance_broadcast(session, read, (10, 0), done=False)
    async with sessions() as session:
        (moved,) = await queue.open_broadcasts(session)
    assert moved.cursor == (10, 0)
    # The step reads (cursor 10), then /push reopens it as breaking news before the step writes.
    async with writing(sessions) as session:
        await queue.reopen_broadcast(session, story, NOW + timedelta(minutes=5))
    async with writing(sessions) as session:
        assert not await queue.advance_broadcast(session, moved, None, done=True)
    async with sessions() as session:
        (reopened,) = await queue.open_broadcasts(session)
    assert reopened.cursor is None and reopened.priority == PRIORITY_BREAKING
    # A correction queued again resets the position the same way.
    async with writing(sessions) as session:
        await queue.queue_broadcasts(session, [(story, False)], EDIT, NOW)
    async with sessions() as session:
        edit = next(b for b in await queue.open_broadcasts(session) if b.kind == EDIT)
    async with writing(sessions) as session:
        assert await queue.advance_broadcast(session, edit, (5, 0), done=False)
    async with sessions() as session:
        edit = next(b for b in await queue.open_broadcasts(session) if b.kind == EDIT)
    async with writing(sessions) as session:
        await queue.requeue_edit(session, story, NOW)
        assert not await queue.advance_broadcast(session, edit, (9, 0), done=True)
    async with sessions() as session:
        edit = next(b for b in await queue.open_broadcasts(session) if b.kind == EDIT)
    assert edit.cursor is None
