"""Compaction of finished deliveries (issue 20), on both engines: a finished broadcast leaves
one narrow push record per sent push and daily tallies; replies, corrections, /stats, the
admin's push tally, digests and reopened broadcasts read those, so no reader gets a story
twice and no reply loses its story."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import func, select

from storage import deliveries as queue
from storage import digests as digest_store
from storage.channels import CHANNEL
from storage.deliveries import EDIT, PUSH, Outcome
from storage.engine import SessionFactory, writing
from storage.models import ALL_SECTIONS, PRIORITY_NEW, Delivery, DeliveryTally, PushRecord
from tests.test_deliveries_queue import NOW, add_chat, add_story, recipient

SOON = NOW + timedelta(minutes=1)
LATER = NOW + timedelta(hours=1)


async def _push_and_finish(sessions: SessionFactory, story: int, chats: range) -> None:
    """Queue the story for ``chats`` and record: message ids for most, a refusal for every
    tenth (blocked) and a skip for every seventh otherwise."""
    async with writing(sessions) as session:
        await queue.add_deliveries(
            session, story, PUSH, PRIORITY_NEW, [(recipient(c), None) for c in chats], NOW
        )
        jobs = await queue.claim_deliveries(session, NOW, limit=len(chats))
        outcomes = []
        for job in jobs:
            if job.chat_id % 10 == 0:
                outcomes.append(Outcome(job.id, "failed", error="Forbidden: bot was blocked"))
            elif job.chat_id % 7 == 0:
                outcomes.append(Outcome(job.id, "skipped", error="chat gone"))
            else:
                outcomes.append(Outcome(job.id, "sent", message_id=1000 + job.chat_id))
        await queue.record_outcomes(session, outcomes, SOON)


def _expected(chats: range) -> dict[str, int]:
    failed = sum(1 for c in chats if c % 10 == 0)
    skipped = sum(1 for c in chats if c % 10 and c % 7 == 0)
    return {"sent": len(chats) - failed - skipped, "failed": failed, "skipped": skipped}


async def _count(sessions: SessionFactory, table: type) -> int:
    async with sessions() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one())


async def _compact_all(sessions: SessionFactory, before: object, limit: int) -> int:
    total = 0
    while True:
        async with writing(sessions) as session:
            step = await queue.compact_deliveries(session, before, limit=limit)  # type: ignore[arg-type]
        total += step
        if step < limit:
            return total


async def test_a_finished_broadcast_leaves_narrow_records_and_tallies(
    sessions: SessionFactory,
) -> None:
    story = await add_story(sessions, "Erbil airport reopens")
    chats = range(1, 301)
    for chat in chats:
        await add_chat(sessions, chat)
    await _push_and_finish(sessions, story, chats)
    expected = _expected(chats)
    assert await _count(sessions, PushRecord) == expected["sent"]
    async with sessions() as session:
        before = await queue.delivery_counts(session)
    assert before == expected

    # Not yet: rows finished after the cut-off stay.
    async with writing(sessions) as session:
        assert await queue.compact_deliveries(session, NOW) == 0
    removed = await _compact_all(sessions, LATER, limit=64)  # several batches
    assert removed == len(chats)
    assert await _count(sessions, Delivery) == 0
    async with sessions() as session:
        assert await queue.delivery_counts(session) == expected
        tallies = (await session.exec(select(DeliveryTally))).all()
        assert {(t.day, t.kind) for t in tallies} == {(NOW.date().isoformat(), PUSH)}
        # Replies still map to the story, with its form.
        assert await queue.stories_for_message(session, 1, 1001) == [story]
        assert await queue.stories_for_message(session, 10, 1010) == []  # refused: no message
        # Corrections still find every sent push.
        targets = await queue.edit_targets_batch(session, story, None, 1000, NOW)
        assert sorted(t.message_id or 0 for t in targets) == sorted(
            1000 + c for c in chats if c % 10 and c % 7
        )
        tally = await queue.push_tally(session, story, LATER)
        assert (tally.already, tally.since) == (expected["sent"], 0)

    # A reopened broadcast reaches only those who never had it.
    async with writing(sessions) as session:
        await queue.add_deliveries(
            session, story, PUSH, PRIORITY_NEW, [(recipient(c), None) for c in chats], LATER
        )
    async with sessions() as session:
        queued = (await session.exec(select(Delivery.chat_id))).all()
    assert sorted(queued) == [c for c in chats if c % 10 == 0 or c % 7 == 0]


async def test_what_is_still_needed_is_never_compacted(sessions: SessionFactory) -> None:
    story = await add_story(sessions, "Kirkuk council meets")
    await add_chat(sessions, 1)
    await add_chat(sessions, 2)
    async with writing(sessions) as session:
        # A push waiting for the reader's morning, one in flight, a channel post and a
        # correction waiting to be sent.
        await queue.add_deliveries(
            session, story, PUSH, PRIORITY_NEW, [(recipient(1), LATER)], NOW
        )
        await queue.add_deliveries(session, story, PUSH, PRIORITY_NEW, [(recipient(2), None)], NOW)
        await queue.claim_deliveries(session, NOW, limit=10)
        await queue.add_deliveries(
            session, story, CHANNEL, PRIORITY_NEW, [(recipient(-100500), None)], NOW
        )
        await queue.add_deliveries(
            session, story, EDIT, PRIORITY_NEW, [(recipient(3, message_id=7), LATER)], NOW
        )
    async with sessions() as session:
        channel = (await session.exec(select(Delivery.id).where(Delivery.kind == CHANNEL))).one()
    async with writing(sessions) as session:
        await queue.record_outcomes(session, [Outcome(channel, "sent", message_id=55)], NOW)
    assert await _compact_all(sessions, LATER + timedelta(days=1), limit=100) == 0
    assert await _count(sessions, Delivery) == 4
    # A channel post is not a reader's push: it leaves no push record.
    assert await _count(sessions, PushRecord) == 0


async def test_a_digest_leaves_records_that_keep_its_stories_from_coming_again(
    sessions: SessionFactory,
) -> None:
    story = await add_story(sessions, "Duhok dam finished")
    await add_chat(sessions, 5)
    reader = digest_store.DigestReader(5, 0, "daily", None, None, frozenset({ALL_SECTIONS}))
    async with sessions() as session:
        assert story in await digest_store.digest_candidates(session, reader, NOW)
    async with writing(sessions) as session:
        await digest_store.record_digest(session, reader, [story], message_id=99, now=NOW)
    async with sessions() as session:
        assert await digest_store.digest_candidates(session, reader, NOW) == []
        assert await queue.stories_for_message(session, 5, 99) == [story]
    # A keyword alert for the same story later: not queued, the reader had it.
    async with writing(sessions) as session:
        await queue.add_deliveries(session, story, PUSH, PRIORITY_NEW, [(recipient(5), None)], NOW)
    assert await _count(sessions, Delivery) == 0


async def test_records_past_the_comment_window_are_pruned(sessions: SessionFactory) -> None:
    story = await add_story(sessions, "Sulaimani book fair")
    chats = range(1, 41)
    for chat in chats:
        await add_chat(sessions, chat)
    await _push_and_finish(sessions, story, chats)
    await _compact_all(sessions, LATER, limit=1000)
    async with writing(sessions) as session:
        assert await queue.prune_deliveries(session, NOW) == 0  # all sent after NOW
    removed = 0
    while True:
        async with writing(sessions) as session:
            step = await queue.prune_deliveries(session, LATER, limit=7)
        removed += step
        if not step:
            break
    assert removed == _expected(chats)["sent"]
    assert await _count(sessions, PushRecord) == 0
    async with sessions() as session:
        # The tallies outlive the records: /stats still counts what was sent.
        assert (await queue.delivery_counts(session))["sent"] == _expected(chats)["sent"]
