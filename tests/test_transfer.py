"""`newsbot migrate-sqlite-to-postgres`: an SQLite installation moved to PostgreSQL intact."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

from bot.cli import main
from news.story_draft import StoryDraft
from storage import chats as chat_store
from storage import comments as comment_store
from storage import deliveries as delivery_store
from storage import feeds as feed_store
from storage import follows as follow_store
from storage import stories as story_store
from storage.bot_state import ensure_state, get_state
from storage.engine import SessionFactory, create_engine, create_session_factory, writing
from storage.migrate import upgrade_database
from storage.models import ALL_SECTIONS, PRIORITY_NEW
from storage.story_messages import remember_story_message, stories_of_message

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SORANI = "پێشمەرگە لە هەولێر کۆبوونەوە"


async def _fill(sessions: SessionFactory) -> None:
    """An installation in use: stories, readers with settings, pushes, comments, the outbox."""
    async with writing(sessions) as session:
        [feed] = await feed_store.register_feeds(
            session, [("https://www.rudaw.net/english/rss", "kurdistan", "en")], NOW
        )
        drafts = [
            (
                StoryDraft(
                    identity=f"guid:{n}",
                    guid=str(n),
                    title=SORANI if n == 0 else f"Erbil story {n}",
                    link=f"https://www.rudaw.net/english/kurdistan/{n}",
                    summary="Oil exports through Ceyhan" if n == 1 else "",
                    published_at=NOW - timedelta(minutes=n),
                ),
                ["kurdistan"],
            )
            for n in range(30)
        ]
        policy = story_store.IngestPolicy(
            now=NOW, news=frozenset(draft.identity for draft, _ in drafts)
        )
        outcome = await story_store.store_feed_items(session, feed.id, drafts, policy)
        story_ids = [s.id for s in outcome.new]
        for chat_id in (1001, 1002, -100500):
            await chat_store.touch_chat(
                session, chat_id, type="private", title=None, language="ckb", now=NOW
            )
            await chat_store.subscribe(session, chat_id, [ALL_SECTIONS], NOW)
        await chat_store.set_timezone(session, 1001, "Europe/Berlin", NOW)
        await follow_store.follow(session, 1002, 0, ["kirkuk"], NOW)
        await delivery_store.queue_broadcasts(session, [(story_ids[0], True)], "push", NOW)
        reader = delivery_store.Recipient(1001, 0, None, None, None)
        await delivery_store.add_deliveries(
            session, story_ids[0], "push", PRIORITY_NEW, [(reader, None)], NOW
        )
        await remember_story_message(session, 1001, 77, story_ids[:5], "list", NOW)
        await comment_store.touch_commenter(
            session, 1001, telegram_name="Shilan", language="ckb", now=NOW
        )
        story = await story_store.get_story(session, story_ids[0])
        await comment_store.add_comment(
            session,
            comment_store.CommentDraft(1001, 1001, 90, "Shilan", "Baş e — زۆر باشە"),
            story,
            status=comment_store.QUEUED,
            now=NOW,
            retry_for=timedelta(hours=24),
        )
        await ensure_state(session, "pseudonym_key", "k" * 64, NOW)


async def _counts(engine_url: str) -> dict[str, int]:
    engine = create_engine(engine_url)
    try:
        async with engine.connect() as connection:
            return {
                table.name: int(
                    (
                        await connection.execute(select(func.count()).select_from(table))
                    ).scalar_one()
                )
                for table in SQLModel.metadata.sorted_tables
            }
    finally:
        await engine.dispose()


async def test_everything_arrives_and_postgres_carries_on(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "newsbot.db"
    source_url = f"sqlite+aiosqlite:///{path}"
    source = create_engine(source_url)
    await upgrade_database(source)
    await _fill(create_session_factory(source))
    await source.dispose()

    # The command runs its own event loop, as it does from a shell.
    code = await _run_cli(["migrate-sqlite-to-postgres", str(path), postgres_url])
    assert code == 0, capsys.readouterr().err
    assert "Copied" in capsys.readouterr().out

    before, after = await _counts(source_url), await _counts(postgres_url)
    assert after == before
    for table in (
        "story",
        "chat",
        "subscription",
        "follow",
        "delivery",
        "comment",
        "outlet_event",
        "commenter",
        "bot_state",
        "story_message",
        "story_section",
    ):
        assert after[table] > 0, table

    engine = create_engine(postgres_url)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session:
            # Search works on the copied rows (PostgreSQL computes its own index column).
            found = await story_store.search_stories(session, "Ceyhan", limit=5)
            assert [s.title for s in found] == ["Erbil story 1"]
            assert [
                s.title for s in await story_store.search_stories(session, "هەولێر", limit=5)
            ] == [SORANI]
            chat = await chat_store.get_chat(session, 1001)
            assert chat is not None and chat.timezone == "Europe/Berlin"
            assert await follow_store.following(session, 1002) == ["kirkuk"]
            kind, ids = await stories_of_message(session, 1001, 77)
            assert kind == "list" and len(ids) == 5
            assert await get_state(session, "pseudonym_key") == "k" * 64
            [comment] = await comment_store.user_comments(session, 1001)
            assert comment.text == "Baş e — زۆر باشە" and comment.status == comment_store.QUEUED
        # New rows get fresh ids after the copied ones (sequences were moved on).
        async with writing(sessions) as session:
            story = await story_store.get_story(session, comment.story_id or 0)
            newer = await comment_store.add_comment(
                session,
                comment_store.CommentDraft(1002, 1002, 91, "Rêbaz", "Another one"),
                story,
                status=comment_store.QUEUED,
                now=NOW,
                retry_for=timedelta(hours=24),
            )
        assert newer.id > comment.id
    finally:
        await engine.dispose()


async def test_a_destination_with_data_is_refused_and_left_alone(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "newsbot.db"
    source = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade_database(source)
    await _fill(create_session_factory(source))
    await source.dispose()
    destination = create_engine(postgres_url)
    await upgrade_database(destination)
    async with writing(create_session_factory(destination)) as session:
        await chat_store.touch_chat(session, 5, type="private", title=None, language=None, now=NOW)
    await destination.dispose()

    code = await _run_cli(["migrate-sqlite-to-postgres", str(path), postgres_url])
    assert code == 1
    assert "already holds data (1 in chat)" in capsys.readouterr().err
    counts = await _counts(postgres_url)
    assert counts["chat"] == 1 and counts["story"] == 0


@pytest.mark.parametrize(
    ("source", "destination", "message"),
    [
        ("missing.db", "postgresql://postgres@127.0.0.1/x", "is not an existing SQLite file"),
        ("postgresql://a@b/c", "postgresql://postgres@127.0.0.1/x", "SRC must be an SQLite"),
        ("newsbot.db", "sqlite:///other.db", "DST must be a PostgreSQL URL"),
    ],
)
def test_wrong_arguments_are_named(
    source: str, destination: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate-sqlite-to-postgres", source, destination]) == 2
    assert message in capsys.readouterr().err


async def _run_cli(argv: list[str]) -> int:
    return await asyncio.to_thread(main, argv)
