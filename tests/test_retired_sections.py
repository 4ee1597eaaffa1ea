"""Subscriptions to sections no longer offered, in storage, on SQLite and PostgreSQL: which
chats still have to be told, in which language, and the record that they were."""

from __future__ import annotations

from datetime import UTC, datetime

from storage import chats as chat_store
from storage import retired_sections as retired_store
from storage import stories as story_store
from storage.engine import SessionFactory, writing

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
OFFERED = ("kurdistan", "world")


async def _chat(
    sessions: SessionFactory, chat_id: int, sections: list[str], thread: int = 0, **kw: str
) -> None:
    async with writing(sessions) as session:
        await chat_store.touch_chat(
            session,
            chat_id,
            type="private",
            title=str(chat_id),
            language=kw.get("language"),
            now=NOW,
        )
        await chat_store.subscribe(session, chat_id, sections, NOW, thread)


async def _due(
    sessions: SessionFactory, after: tuple[int, int] | None = None, limit: int = 100
) -> list[retired_store.RetiredSubscriptions]:
    async with sessions() as session:
        return await retired_store.retired_subscriptions(
            session, OFFERED, after=after, limit=limit
        )


async def test_only_chats_following_retired_sections_are_due(sessions: SessionFactory) -> None:
    async with writing(sessions) as session:
        await story_store.remember_sections(session, {"politics": "Politics"}, NOW, "en")
    await _chat(sessions, 1, ["*"])  # all news: nothing to tell
    await _chat(sessions, 2, ["kurdistan", "world"])  # offered sections only
    await _chat(sessions, 3, ["politics", "kurdistan", "oil-and-gas"], language="ckb")
    await _chat(sessions, 4, ["politics"])
    await _chat(sessions, 4, ["politics"], thread=7)  # a forum topic is told on its own
    await _chat(sessions, 5, ["politics"])
    async with writing(sessions) as session:
        await chat_store.set_active(session, 5, False, NOW, reason="blocked")

    due = await _due(sessions)
    assert [(d.chat_id, d.thread_id) for d in due] == [(3, 0), (4, 0), (4, 7)]
    three = due[0]
    # Names as stored (a slug nothing named is its own name), by name; what still comes.
    assert three.retired == (("oil-and-gas", "oil-and-gas"), ("politics", "Politics"))
    assert three.remaining == frozenset({"kurdistan"})
    assert three.locale == "ckb"
    assert [(d.chat_id, d.thread_id) for d in await _due(sessions, after=(3, 0), limit=1)] == [
        (4, 0)
    ]
    async with sessions() as session:
        assert await retired_store.untold_counts(session, OFFERED) == {
            "politics": 3,
            "oil-and-gas": 1,
        }


async def test_told_once_and_afresh_after_a_section_comes_back(sessions: SessionFactory) -> None:
    await _chat(sessions, 3, ["politics", "kurdistan"])
    async with writing(sessions) as session:
        await retired_store.record_told(session, 3, 0, ["politics"], NOW)
    assert await _due(sessions) == []
    # A section retired later is told on its own, without repeating the first one.
    await _chat(sessions, 3, ["sport"])
    [due] = await _due(sessions)
    assert due.retired == (("sport", "sport"),)
    async with writing(sessions) as session:
        await retired_store.record_told(session, 3, 0, ["sport"], NOW)

    # Offered again, "politics" is live; retired once more, it would be told again.
    async with writing(sessions) as session:
        assert await retired_store.forget_told_for_offered(session, ("politics",)) == 1
    async with sessions() as session:
        assert await chat_store.subscriptions(session, 3) == {"politics", "kurdistan", "sport"}
    [due] = await _due(sessions)
    assert due.retired == (("politics", "politics"),)
