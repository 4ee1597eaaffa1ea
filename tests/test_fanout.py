"""The broadcaster (jobs.fanout) under pressure: quiet-hour holds beside breaking news, the
per-chat pace, a stop mid-flush, stale and orphaned stories, a deleted forum topic, a reader
who blocked the bot, a wake that comes while a step finds nothing.

Each test drives ``jobs.fanout.Broadcaster`` on a migrated SQLite database (the lost wake-ups:
on PostgreSQL too) with a recording stand-in for the lean Bot API client.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from jobs.clients.telegram import SendKind, SendResult
from jobs.push import claiming, enumeration
from storage import chats as chat_store
from storage import deliveries as queue
from storage.engine import SessionFactory, writing
from tests.auxil.fanout import RecordingClient, add_reader, add_story, broadcaster, now
from tests.auxil.waiting import wait_until

# --- 1. Held deliveries (quiet hours) stall every broadcast, breaking news included ----------


async def test_quiet_hour_holds_do_not_stall_breaking_news(
    sqlite_sessions: SessionFactory,
) -> None:
    # Five readers are in their quiet hours (the time zone is UTC for all of them).
    hour = now().hour
    quiet = (f"{(hour - 1) % 24:02d}:00", f"{(hour + 2) % 24:02d}:00")
    for chat_id in range(1, 6):
        await add_reader(sqlite_sessions, chat_id, quiet=quiet)
    awake = 99
    await add_reader(sqlite_sessions, awake)
    ordinary = await add_story(sqlite_sessions, "Ordinary council meeting")
    async with writing(sqlite_sessions) as session:
        await queue.queue_broadcasts(session, [(ordinary, False)], queue.PUSH, now())

    client = RecordingClient()
    fanout = broadcaster(sqlite_sessions, client, max_ahead=5)
    await fanout.start()
    try:
        # The ordinary story went to the awake reader; the five sleepers' copies are held.
        assert await wait_until(lambda: len(client.to(awake)) == 1, 5)
        breaking = await add_story(sqlite_sessions, "Earthquake hits Erbil", breaking=True)
        async with writing(sqlite_sessions) as session:
            await queue.queue_broadcasts(session, [(breaking, True)], queue.PUSH, now())
        fanout.wake()
        # Breaking news skips quiet hours and jumps the queue: everyone gets it at once.
        assert await wait_until(lambda: len(client.calls) >= 1 + 6, 4), client.calls
    finally:
        await fanout.stop()


# --- 2. The per-chat limit is checked, not reserved -------------------------------------------


async def test_two_units_for_one_private_chat_keep_one_second_apart(
    sqlite_sessions: SessionFactory,
) -> None:
    reader = 7
    await add_reader(sqlite_sessions, reader)
    ordinary = await add_story(sqlite_sessions, "Budget passes")
    breaking = await add_story(sqlite_sessions, "Airport closed", breaking=True)
    async with writing(sqlite_sessions) as session:
        await queue.queue_broadcasts(
            session, [(ordinary, False), (breaking, True)], queue.PUSH, now()
        )
    client = RecordingClient()
    fanout = broadcaster(sqlite_sessions, client)
    # Both deliveries are waiting when the claimer runs (as after a restart, or when the
    # sender is busy): enumerate the two broadcasts by hand, then start sending.
    assert await fanout.enumerator.enumerate_once()
    assert await fanout.enumerator.enumerate_once()
    await fanout.start()
    try:
        assert await wait_until(lambda: len(client.to(reader)) == 2, 5)
    finally:
        await fanout.stop()
    (first, *_), (second, *_) = client.to(reader)
    assert second - first >= 1.0, f"two messages to one private chat {second - first:.3f} s apart"


# --- 3. A graceful stop during a flush forgets what was sent ---------------------------------


async def test_stop_during_a_flush_does_not_resend_after_restart(
    sqlite_sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = 8
    await add_reader(sqlite_sessions, reader)
    story = await add_story(sqlite_sessions, "Dam levels rise")
    async with writing(sqlite_sessions) as session:
        await queue.queue_broadcasts(session, [(story, False)], queue.PUSH, now())

    real = queue.record_outcomes
    started = asyncio.Event()

    async def slow_record(*args: Any, **kwargs: Any) -> None:
        # A busy database: the write takes a moment (busy_timeout, a checkpoint, PG latency).
        started.set()
        await asyncio.sleep(0.3)
        await real(*args, **kwargs)

    monkeypatch.setattr(queue, "record_outcomes", slow_record)
    client = RecordingClient()
    fanout = broadcaster(sqlite_sessions, client)
    await fanout.start()
    assert await wait_until(lambda: len(client.to(reader)) == 1, 5)
    await asyncio.wait_for(started.wait(), 2)
    await fanout.stop()  # SIGTERM: a clean shutdown
    monkeypatch.setattr(queue, "record_outcomes", real)

    restarted = broadcaster(sqlite_sessions, client)
    await restarted.start()
    await asyncio.sleep(0.5)
    await restarted.stop()
    assert len(client.to(reader)) == 1, "a clean restart pushed the story twice"


async def test_stop_mid_broadcast_ends_each_loop_between_transactions(
    sqlite_sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop while the enumerator is inside its write transaction: the step finishes, the
    last flush records every send, and a restart pushes nobody twice."""
    readers = range(1, 121)
    for reader in readers:
        await add_reader(sqlite_sessions, reader)
    story = await add_story(sqlite_sessions, "Erbil marathon route announced")
    async with writing(sqlite_sessions) as session:
        await queue.queue_broadcasts(session, [(story, False)], queue.PUSH, now())

    real = queue.add_deliveries
    steps = 0
    inside = asyncio.Event()

    async def slow_add(*args: Any, **kwargs: Any) -> None:
        nonlocal steps
        steps += 1
        if steps == 3:  # the second step (the first adds channels too) holds the lock awhile
            inside.set()
            await asyncio.sleep(0.3)
        await real(*args, **kwargs)

    monkeypatch.setattr(queue, "add_deliveries", slow_add)
    client = RecordingClient()
    # Staying only 30 ahead of the sender: the second step comes after the first sends.
    fanout = broadcaster(sqlite_sessions, client, enumerate_batch=40, max_ahead=30)
    await fanout.start()
    await asyncio.wait_for(inside.wait(), 5)
    await fanout.stop()
    monkeypatch.setattr(queue, "add_deliveries", real)
    first_run = {c[2]["chat_id"] for c in client.calls}
    assert first_run, "nothing was sent before the stop"
    async with sqlite_sessions() as session:
        statuses = await queue.delivery_counts(session)
    assert statuses.get("sending", 0) == 0
    assert statuses.get("sent", 0) == len(client.calls)

    restarted = broadcaster(sqlite_sessions, client, enumerate_batch=40)
    await restarted.start()
    assert await wait_until(lambda: len(client.calls) >= len(readers), 10)
    await asyncio.sleep(0.3)
    await restarted.stop()
    chats = [c[2]["chat_id"] for c in client.calls]
    assert sorted(chats) == list(readers), "a reader got the story twice, or not at all"


# --- 4. Stale "pending" stories are pushed at start ------------------------------------------


async def test_start_does_not_push_stories_older_than_push_max_age(
    sqlite_sessions: SessionFactory,
) -> None:
    reader = 9
    await add_reader(sqlite_sessions, reader)
    # Stored three weeks ago by a version without pushes (or by `newsbot poll`).
    await add_story(sqlite_sessions, "Old news from November", seen=now() - timedelta(days=21))
    client = RecordingClient()
    fanout = broadcaster(sqlite_sessions, client)
    await fanout.start()
    try:
        await asyncio.sleep(1.0)
    finally:
        await fanout.stop()
    assert client.to(reader) == [], "a three-week-old story was pushed as news"


# --- 5. A story whose hand-off failed waits for the next restart ------------------------------


async def test_a_story_whose_handoff_failed_is_pushed_without_a_restart(
    sqlite_sessions: SessionFactory,
) -> None:
    reader = 10
    await add_reader(sqlite_sessions, reader)
    client = RecordingClient()
    fanout = broadcaster(sqlite_sessions, client)
    await fanout.start()
    try:
        # Ingestion committed the story; its hand-off (queue_broadcasts) then failed.
        await add_story(sqlite_sessions, "Handoff failed")
        assert await wait_until(lambda: len(client.to(reader)) == 1, 5)
    finally:
        await fanout.stop()


# --- 6. A deleted forum topic silences the whole group ---------------------------------------


async def test_a_deleted_topic_does_not_stop_the_rest_of_the_group(
    sqlite_sessions: SessionFactory,
) -> None:
    group = -1001
    await add_reader(sqlite_sessions, group, chat_type="supergroup", thread_id=0)
    await add_reader(sqlite_sessions, group, chat_type="supergroup", thread_id=55)

    def answer(data: dict[str, Any]) -> SendResult:
        if data.get("message_thread_id") == 55:
            return SendResult(SendKind.THREAD_GONE, "Bad Request: message thread not found", 400)
        return SendResult(SendKind.SENT, status=200, message_id=1)

    client = RecordingClient(answer)
    fanout = broadcaster(sqlite_sessions, client)
    await fanout.start()
    try:
        first = await add_story(sqlite_sessions, "First story")
        async with writing(sqlite_sessions) as session:
            await queue.queue_broadcasts(session, [(first, False)], queue.PUSH, now())
        fanout.wake()
        assert await wait_until(lambda: len(client.to(group)) == 2, 5)
        await asyncio.sleep(0.2)
        second = await add_story(sqlite_sessions, "Second story")
        async with writing(sqlite_sessions) as session:
            await queue.queue_broadcasts(session, [(second, False)], queue.PUSH, now())
        fanout.wake()
        general = lambda: [  # noqa: E731
            c
            for c in client.to(group)
            if "message_thread_id" not in c[2] and "Second story" in c[2]["text"]
        ]
        assert await wait_until(lambda: len(general()) == 1, 3), "General topic got nothing"
    finally:
        await fanout.stop()


# --- 7. my_chat_member "kicked" does not stop what is already queued --------------------------


async def test_queued_pushes_are_not_sent_after_the_reader_blocked_the_bot(
    sqlite_sessions: SessionFactory,
) -> None:
    reader = 11
    await add_reader(sqlite_sessions, reader)
    story = await add_story(sqlite_sessions, "Queued before the block")
    async with writing(sqlite_sessions) as session:
        await queue.queue_broadcasts(session, [(story, False)], queue.PUSH, now())
    # Enumerate without sending: run the enumerator once by hand.
    client = RecordingClient()
    fanout = broadcaster(sqlite_sessions, client)
    assert await fanout.enumerator.enumerate_once()
    # What bot/handlers/membership.py does on my_chat_member → kicked.
    async with writing(sqlite_sessions) as session:
        await chat_store.set_active(session, reader, False, now())
    await fanout.start()
    try:
        await asyncio.sleep(0.5)
    finally:
        await fanout.stop()
    assert client.to(reader) == [], "sent to a chat already known to have blocked the bot"


# --- 8. A wake that comes while a step finds nothing is not lost ------------------------------


class _WakesOnly:
    """``asyncio`` as a fan-out loop sees it, without its waits' one-second timeouts: only a
    wake (or the stop) ends a wait, so a lost wake-up shows as a push that never comes."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def wait_for(awaitable: Any, timeout: float | None) -> Any:  # noqa: ASYNC109
        return await awaitable


async def test_a_broadcast_committed_during_an_empty_enumeration_step_is_not_left_waiting(
    sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = 12
    await add_reader(sessions, reader)
    client = RecordingClient()
    fanout = broadcaster(sessions, client)
    real = queue.open_broadcasts
    ingested = False

    async def open_then_ingest(session: Any, limit: int = 20) -> list[queue.BroadcastView]:
        nonlocal ingested
        found = await real(session, limit)
        if not found and not ingested:
            # Ingestion commits a story with its broadcast just after the step looked (on
            # PostgreSQL, READ COMMITTED: the step does not see it), then hands it off.
            ingested = True
            story = await add_story(sessions, "Committed after the step looked")
            async with writing(sessions) as other:
                await queue.queue_broadcasts(other, [(story, False)], queue.PUSH, now())
            fanout.wake()
        return found

    monkeypatch.setattr(queue, "open_broadcasts", open_then_ingest)
    monkeypatch.setattr(enumeration, "asyncio", _WakesOnly())
    await fanout.start()
    try:
        assert await wait_until(lambda: len(client.to(reader)) == 1, 5), (
            "the hand-off's wake came during an empty step and was lost"
        )
    finally:
        await fanout.stop()
    assert ingested


async def test_deliveries_committed_during_an_empty_claim_step_are_not_left_waiting(
    sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = 13
    await add_reader(sessions, reader)
    client = RecordingClient()
    fanout = broadcaster(sessions, client)
    real = fanout.claimer.claim_once
    enumerated = False

    async def claim_then_enumerate() -> int:
        nonlocal enumerated
        claimed = await real()
        if not claimed and not enumerated:
            # The enumerator commits a story's deliveries just after this step looked, and
            # wakes the claimer.
            enumerated = True
            story = await add_story(sessions, "Enumerated after the claim looked")
            async with writing(sessions) as session:
                await queue.queue_broadcasts(session, [(story, False)], queue.PUSH, now())
            assert await fanout.enumerator.enumerate_once()
        return claimed

    monkeypatch.setattr(fanout.claimer, "claim_once", claim_then_enumerate)
    monkeypatch.setattr(claiming, "asyncio", _WakesOnly())
    # The claimer alone: no enumerator loop that could wake it again.
    claimer = asyncio.create_task(fanout.claimer.run())

    async def claimed() -> bool:
        async with sessions() as session:
            return (await queue.delivery_counts(session)).get("sending", 0) == 1

    try:
        assert await wait_until(claimed, 5), "the enumerator's wake came during a step, lost"
    finally:
        await fanout.stop()
        await claimer
    assert enumerated
