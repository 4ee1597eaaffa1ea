"""A story's audience read one range of chats at a time (storage/audience.py, the Enumerator):
subscribers and keyword followers move forward together, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from jobs.push.channels import Channels
from jobs.push.enumeration import Enumerator
from jobs.push.pipeline import Signals
from jobs.push.settings import FanoutSettings
from storage import audience
from storage import chats as chat_store
from storage import deliveries as queue
from storage import follows as follow_store
from storage import stories as story_store
from storage.engine import SessionFactory, writing
from storage.models import Delivery, Mute
from tests.auxil.fanout import add_reader, add_story

NOW = datetime.now(UTC)
TITLE = "Erbil oil talks resume in Baghdad"


def enumerator(sessions: SessionFactory, batch: int = 2) -> Enumerator:
    settings = FanoutSettings(default_timezone="UTC", enumerate_batch=batch, max_ahead=10**6)
    return Enumerator(sessions, settings, Signals(), lambda: datetime.now(UTC), Channels(None))


async def enumerate_all(sessions: SessionFactory, batch: int = 2) -> int:
    """Every step until nothing is left; returns how many steps made progress."""
    steps, worker = 0, enumerator(sessions, batch)
    while await worker.enumerate_once():
        steps += 1
        assert steps < 500
    return steps


async def pushes(sessions: SessionFactory, story_id: int) -> dict[tuple[int, int], str | None]:
    """(chat, topic) -> matched words of each push of the story (asserting one each)."""
    async with sessions() as session:
        rows = (
            await session.exec(
                select(Delivery).where(Delivery.story_id == story_id, Delivery.kind == "push")
            )
        ).all()
    keys = [(d.chat_id, d.thread_id) for d in rows]
    assert len(keys) == len(set(keys)), "a reader got the story twice"
    return {(d.chat_id, d.thread_id): d.matched for d in rows}


async def follow(
    sessions: SessionFactory, chat_id: int, words: list[str], *, thread_id: int = 0
) -> None:
    async with writing(sessions) as session:
        await chat_store.touch_chat(
            session, chat_id, type="private", title=None, language="en", now=NOW
        )
        await follow_store.follow(session, chat_id, thread_id, words, NOW)


async def mute(sessions: SessionFactory, chat_id: int, word: str, thread_id: int = 0) -> None:
    async with writing(sessions) as session:
        await follow_store.follow(session, chat_id, thread_id, [word], NOW, model=Mute)


async def test_a_follower_who_subscribes_gets_one_labelled_push(sessions: SessionFactory) -> None:
    for chat_id in range(1, 8):
        await add_reader(sessions, chat_id)
    await follow(sessions, 3, ["erbil", "baghdad"])  # subscribes too
    await follow(sessions, 6, ["oil"])
    story_id = await add_story(sessions, TITLE)

    await enumerate_all(sessions, batch=2)

    found = await pushes(sessions, story_id)
    assert set(found) == {(c, 0) for c in range(1, 8)}
    assert found[(3, 0)] == "baghdad,erbil"
    assert found[(6, 0)] == "oil"
    assert [k for k, words in found.items() if words] == [(3, 0), (6, 0)]


async def test_followers_beyond_the_last_subscriber_are_reached(sessions: SessionFactory) -> None:
    for chat_id in (10, 11, 12):
        await add_reader(sessions, chat_id)
    await follow(sessions, 5, ["oil"])  # before the first subscriber
    for chat_id in (20, 21, 22, 23, 24):  # after the last one, and more than a step holds
        await follow(sessions, chat_id, ["erbil"])
    await follow(sessions, 30, ["football"])  # not in the story
    story_id = await add_story(sessions, TITLE)

    await enumerate_all(sessions, batch=2)

    found = await pushes(sessions, story_id)
    assert set(found) == {(c, 0) for c in (5, 10, 11, 12, 20, 21, 22, 23, 24)}
    assert all(found[(c, 0)] == "erbil" for c in (20, 21, 22, 23, 24))


async def test_many_followers_and_few_subscribers_still_come_a_step_at_a_time(
    sessions: SessionFactory,
) -> None:
    await add_reader(sessions, 100)
    for chat_id in range(1, 9):
        await follow(sessions, chat_id, ["erbil"])
    story_id = await add_story(sessions, TITLE)
    async with sessions() as session:
        story = await story_store.get_story(session, story_id)
        assert story is not None
        step = await audience.audience_step(session, story, None, 3, "en", followed=["erbil"])
    # Three followers of "erbil" fill the step: it ends at the third, not after chat 100.
    assert [r.chat_id for r in step.recipients] == [1, 2, 3]
    assert (step.upper, step.done) == ((3, 0), False)

    await enumerate_all(sessions, batch=3)

    assert set(await pushes(sessions, story_id)) == {(c, 0) for c in [*range(1, 9), 100]}


async def test_muted_readers_are_left_out(sessions: SessionFactory) -> None:
    for chat_id in (1, 2, 3, 4):
        await add_reader(sessions, chat_id)
    await follow(sessions, 2, ["erbil"])
    await follow(sessions, 5, ["erbil"])
    await mute(sessions, 1, "oil")  # a subscriber muting a word of the story
    await mute(sessions, 5, "baghdad")  # a follower muting another of its words
    await mute(sessions, 3, "football")  # a word the story does not have
    story_id = await add_story(sessions, TITLE)

    await enumerate_all(sessions, batch=2)

    assert set(await pushes(sessions, story_id)) == {(2, 0), (3, 0), (4, 0)}


async def test_steps_end_between_the_topics_of_one_chat(sessions: SessionFactory) -> None:
    group = -100123
    for thread_id in (1, 2, 3, 4, 5):
        await add_reader(sessions, group, thread_id=thread_id, chat_type="supergroup")
    await add_reader(sessions, 7)
    async with writing(sessions) as session:
        for thread_id in (2, 5, 6):  # 6 follows only
            await follow_store.follow(session, group, thread_id, ["oil"], NOW)
    story_id = await add_story(sessions, TITLE)
    async with sessions() as session:
        story = await story_store.get_story(session, story_id)
        assert story is not None
        first = await audience.audience_step(session, story, None, 2, "en", followed=["oil"])
        second = await audience.audience_step(
            session, story, first.upper, 2, "en", followed=["oil"]
        )
    assert first.upper == (group, 2)
    assert [(r.thread_id, r.matched) for r in first.recipients] == [
        (2, "oil"),
        (1, None),
        (2, None),
    ]
    assert second.upper == (group, 4)
    assert [r.thread_id for r in second.recipients] == [3, 4]

    await enumerate_all(sessions, batch=2)

    found = await pushes(sessions, story_id)
    assert set(found) == {(group, t) for t in range(1, 7)} | {(7, 0)}
    assert {t for (_, t), words in found.items() if words} == {2, 5, 6}


async def test_a_crash_between_steps_resumes_without_loss_or_duplicate(
    sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for chat_id in range(1, 12):
        await add_reader(sessions, chat_id)
    for chat_id in (4, 9, 15, 16):
        await follow(sessions, chat_id, ["oil"])
    story_id = await add_story(sessions, TITLE)
    first = enumerator(sessions, batch=3)
    assert await first.enumerate_once()  # the sweep queues the broadcast
    assert await first.enumerate_once()  # one step: chats 1-3
    assert set(await pushes(sessions, story_id)) == {(1, 0), (2, 0), (3, 0)}

    # The next step fails before its end (say the process dies mid-transaction): nothing
    # of it stays, and the cursor has not moved.
    async def dies(*_: object, **__: object) -> None:
        raise RuntimeError("killed")

    monkeypatch.setattr(queue, "advance_broadcast", dies)
    with pytest.raises(RuntimeError):
        await first.enumerate_once()
    monkeypatch.undo()
    assert set(await pushes(sessions, story_id)) == {(1, 0), (2, 0), (3, 0)}

    # A new process (nothing cached) resumes from the cursor.
    await enumerate_all(sessions, batch=3)

    found = await pushes(sessions, story_id)
    assert set(found) == {(c, 0) for c in [*range(1, 12), 15, 16]}
    assert {c for (c, _), words in found.items() if words} == {4, 9, 15, 16}
    async with sessions() as session:
        assert not await queue.open_broadcasts(session)


async def test_a_reopened_broadcast_counts_words_followed_since(sessions: SessionFactory) -> None:
    """/push reopens a story's broadcast: a reader who followed one of its words after the
    first push gets the alert, even from the enumerator that ran the first broadcast."""
    await add_reader(sessions, 1)
    story_id = await add_story(sessions, TITLE)
    worker = enumerator(sessions, batch=2)
    while await worker.enumerate_once():
        pass
    assert set(await pushes(sessions, story_id)) == {(1, 0)}
    await follow(sessions, 9, ["kirkuk", "baghdad"])  # not a subscriber
    async with writing(sessions) as session:
        await queue.reopen_broadcast(session, story_id, datetime.now(UTC))
    while await worker.enumerate_once():
        pass
    found = await pushes(sessions, story_id)
    assert found == {(1, 0): None, (9, 0): "baghdad"}
