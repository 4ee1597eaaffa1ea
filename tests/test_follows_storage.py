"""Keyword follows, delivery modes, quiet hours and chat counts on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.arguments import parse_follow_args
from storage import chats as chat_store
from storage import follows as follow_store
from storage.engine import SessionFactory, writing
from storage.follows import MAX_FOLLOWS_PER_CHAT
from storage.models import Chat

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def add_chat(sessions: SessionFactory, chat_id: int, type: str = "private") -> None:
    async with writing(sessions) as session:
        await chat_store.touch_chat(
            session, chat_id, type=type, title=None, language=None, now=NOW
        )


async def test_follow_stores_normalised_phrases_once_per_topic(sessions: SessionFactory) -> None:
    await add_chat(sessions, 1, "supergroup")
    phrases = parse_follow_args('Kirkuk "Oil  Exports" KIRKUK')
    assert phrases == ["kirkuk", "oil exports"]
    async with writing(sessions) as session:
        added = await follow_store.follow(session, 1, 0, phrases, NOW)
    assert added == ["kirkuk", "oil exports"]

    async with writing(sessions) as session:
        # Following again adds nothing; a new phrase is added alone.
        again = await follow_store.follow(session, 1, 0, ["oil exports", "erbil"], NOW)
        # A forum topic has its own list.
        topic = await follow_store.follow(session, 1, 7, ["kirkuk"], NOW)
    assert again == ["erbil"]
    assert topic == ["kirkuk"]

    async with sessions() as session:
        assert await follow_store.following(session, 1, 0) == ["erbil", "kirkuk", "oil exports"]
        assert await follow_store.following(session, 1, 7) == ["kirkuk"]
        assert await follow_store.following(session, 2, 0) == []
        assert await follow_store.follow_count(session, 1) == 4


async def test_follow_caps_each_chat_over_all_its_topics(sessions: SessionFactory) -> None:
    await add_chat(sessions, 1)
    first = [f"word{n}" for n in range(MAX_FOLLOWS_PER_CHAT - 2)]
    async with writing(sessions) as session:
        assert await follow_store.follow(session, 1, 0, first, NOW) == first
    async with writing(sessions) as session:
        # Two places left: in another topic only the first two new phrases fit.
        added = await follow_store.follow(session, 1, 3, ["a", "b", "c"], NOW)
    assert added == ["a", "b"]
    async with writing(sessions) as session:
        assert await follow_store.follow(session, 1, 0, ["d"], NOW) == []
        # Phrases already followed never count against the cap.
        assert await follow_store.follow(session, 1, 0, ["word0"], NOW) == []
    async with sessions() as session:
        assert await follow_store.follow_count(session, 1) == MAX_FOLLOWS_PER_CHAT


async def test_unfollow_named_phrases_or_all(sessions: SessionFactory) -> None:
    await add_chat(sessions, 1)
    async with writing(sessions) as session:
        await follow_store.follow(session, 1, 0, ["kirkuk", "oil exports", "erbil"], NOW)
        await follow_store.follow(session, 1, 5, ["kirkuk"], NOW)

    async with writing(sessions) as session:
        removed = await follow_store.unfollow(session, 1, 0, ["oil exports", "never followed"])
    assert removed == ["oil exports"]

    async with writing(sessions) as session:
        assert await follow_store.unfollow(session, 1, 0, []) == []
        everything = await follow_store.unfollow(session, 1, 0, None)
    assert everything == ["erbil", "kirkuk"]

    async with sessions() as session:
        assert await follow_store.following(session, 1, 0) == []
        # Another topic's follows are untouched.
        assert await follow_store.following(session, 1, 5) == ["kirkuk"]


async def test_follows_go_with_a_forgotten_chat_and_move_with_a_migrated_one(
    sessions: SessionFactory,
) -> None:
    await add_chat(sessions, -1, "group")
    await add_chat(sessions, -100, "supergroup")
    await add_chat(sessions, 9)
    async with writing(sessions) as session:
        await follow_store.follow(session, -1, 0, ["kirkuk"], NOW)
        await follow_store.follow(session, -100, 0, ["erbil"], NOW)
        await follow_store.follow(session, 9, 0, ["duhok"], NOW)
    async with writing(sessions) as session:
        assert await follow_store.move_follows(session, -1, -100, NOW) == 1
        await chat_store.forget_chat(session, -1)
        await chat_store.forget_chat(session, 9)
    async with sessions() as session:
        assert await follow_store.following(session, -100, 0) == ["erbil", "kirkuk"]
        assert await follow_store.following(session, -1, 0) == []
        assert await follow_store.following(session, 9, 0) == []


async def test_delivery_mode_and_quiet_hours(sessions: SessionFactory) -> None:
    await add_chat(sessions, 1)
    async with sessions() as session:
        prefs = await chat_store.delivery_prefs(session, 1)
        assert prefs == chat_store.DeliveryPrefs("instant", None, None)
        assert await chat_store.delivery_prefs(session, 404) is None

    later = NOW + timedelta(minutes=5)
    async with writing(sessions) as session:
        assert await chat_store.set_delivery_mode(session, 1, "breaking", NOW)
        assert await chat_store.set_quiet_hours(session, 1, "23:00", "07:00", NOW)
        assert not await chat_store.set_delivery_mode(session, 404, "daily", NOW)
        assert not await chat_store.set_quiet_hours(session, 404, None, None, NOW)
    async with sessions() as session:
        assert await chat_store.delivery_prefs(session, 1) == chat_store.DeliveryPrefs(
            "breaking", "23:00", "07:00"
        )
        chat = await session.get(Chat, 1)
        assert chat is not None and chat.digest_sent_at is None

    # Entering a digest mode starts its period then; moving between digests keeps it.
    async with writing(sessions) as session:
        await chat_store.set_delivery_mode(session, 1, "hourly", NOW)
    async with writing(sessions) as session:
        await chat_store.set_delivery_mode(session, 1, "daily", later)
        await chat_store.set_quiet_hours(session, 1, None, None, later)
    async with sessions() as session:
        chat = (await session.exec(select(Chat).where(Chat.id == 1))).one()
        assert chat.delivery_mode == "daily"
        assert chat.digest_sent_at == NOW
        assert (chat.quiet_start, chat.quiet_end) == (None, None)

    async with writing(sessions) as session:
        with pytest.raises(ValueError, match="delivery mode"):
            await chat_store.set_delivery_mode(session, 1, "weekly", NOW)
        with pytest.raises(ValueError, match="both"):
            await chat_store.set_quiet_hours(session, 1, "23:00", None, NOW)


async def test_chat_counts(sessions: SessionFactory) -> None:
    async with sessions() as session:
        assert await chat_store.chat_counts(session) == (0, 0)
    for chat_id in (1, 2, 3):
        await add_chat(sessions, chat_id)
    async with writing(sessions) as session:
        await chat_store.set_active(session, 2, False, NOW, reason="blocked")
    async with sessions() as session:
        assert await chat_store.chat_counts(session) == (2, 1)
