"""Storage on SQLite and PostgreSQL: migrations, storing feed items once, latest and search."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from sqlmodel import select as model_select

from storage import feeds as feed_store
from storage import stories as story_store
from storage.engine import SessionFactory, create_engine, create_session_factory, writing
from storage.migrate import (
    MIGRATIONS_DIR,
    current_revision,
    downgrade_database,
    head_revision,
    upgrade_database,
)
from storage.models import SQLModel, Story, StorySection
from storage.records import StoryView
from tests.auxil.stored_items import NOW, add_feed, draft, store

OUR_TABLES = {"feed", "story", "story_section", "section", "chat", "subscription"}


def engine_of(sessions: SessionFactory) -> AsyncEngine:
    engine = sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return engine


def backend(sessions: SessionFactory) -> str:
    return engine_of(sessions).dialect.name


async def story_rows(sessions: SessionFactory) -> list[Story]:
    async with sessions() as session:
        return list((await session.exec(model_select(Story).order_by(col(Story.id)))).all())


async def count_rows(sessions: SessionFactory, model: type[SQLModel]) -> int:
    async with sessions() as session:
        return int((await session.exec(select(func.count()).select_from(model))).scalar_one())  # type: ignore[call-overload]


def titles(stories: Sequence[StoryView]) -> list[str]:
    return [s.title for s in stories]


# --- migrations -------------------------------------------------------------------------------


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(_table_names)


async def test_migrations_stairway_up_down_up(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        assert await current_revision(engine) is None
        revisions = [r.revision for r in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()]
        revisions.reverse()  # oldest first
        assert revisions[-1] == head_revision()
        previous: str = "base"
        for revision in revisions:
            await upgrade_database(engine, revision)
            assert await current_revision(engine) == revision
            await downgrade_database(engine, previous)
            assert await current_revision(engine) == (None if previous == "base" else previous)
            await upgrade_database(engine, revision)
            assert await current_revision(engine) == revision
            previous = revision

        assert await tables(engine) >= OUR_TABLES
        await downgrade_database(engine, "base")
        assert await current_revision(engine) is None
        left = await tables(engine) - {"alembic_version"}
        assert left == set(), f"downgrade to base left tables behind: {left}"

        await upgrade_database(engine)
        await upgrade_database(engine)  # a second upgrade is a no-op
        assert await current_revision(engine) == head_revision()
        assert await tables(engine) >= OUR_TABLES
    finally:
        await engine.dispose()


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


def _describe(connection: Connection) -> dict[str, set[str]]:
    inspector = inspect(connection)
    return {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}


def _is_search_machinery(difference: Any) -> bool:
    """The full-text index lives outside the models on purpose (FTS5 tables, a tsvector, the
    list of indexed words and the index search reads it with)."""
    kind = difference[0]
    if kind == "remove_table":
        return str(difference[1].name).startswith(("story_fts", "story_term"))
    if kind == "remove_column":
        return bool(difference[2] == "story" and difference[3].name == "search_vector")
    if kind == "remove_index":
        return difference[1].name in {"ix_story_search", "ix_story_term", "ix_story_edition_id"}
    return False


async def test_models_match_the_migrated_schema(sessions: SessionFactory) -> None:
    engine = engine_of(sessions)
    async with engine.connect() as conn:
        diff = await conn.run_sync(_schema_diff)
        described = await conn.run_sync(_describe)
    unexpected = [d for d in diff if not _is_search_machinery(d)]
    assert unexpected == [], f"models and migrations disagree: {unexpected}"

    for table in SQLModel.metadata.sorted_tables:
        assert table.name in described
        assert {c.name for c in table.columns} <= described[table.name], table.name
    if backend(sessions) == "sqlite":
        assert "story_fts" in described
    else:
        assert "search_vector" in described["story"]


# --- store_feed_items -------------------------------------------------------------------------


async def test_first_poll_is_backlog_and_nothing_is_new(sessions: SessionFactory) -> None:
    feed_id = await add_feed(sessions, "https://example.org/rss", "world")
    items = [(draft(str(n), hours_ago=n), ["world"]) for n in range(1, 4)]
    outcome = await store(sessions, feed_id, items, announce=False)

    assert outcome.new == ()
    assert outcome.updated == ()
    assert sorted(titles(outcome.backlog)) == ["Story 1", "Story 2", "Story 3"]
    assert all(s.sections == ("world",) for s in outcome.backlog)
    rows = await story_rows(sessions)
    assert len(rows) == 3
    assert {r.push_state for r in rows} == {"none"}
    assert {r.feed_id for r in rows} == {feed_id}
    async with sessions() as session:
        assert await story_store.pending_stories(session, since=NOW - timedelta(days=1)) == []


async def test_later_poll_returns_only_unseen_items_as_new(sessions: SessionFactory) -> None:
    feed_id = await add_feed(sessions, "https://example.org/rss", "world")
    await store(
        sessions, feed_id, [(draft("1"), ["world"]), (draft("2"), ["world"])], announce=False
    )

    later = NOW + timedelta(minutes=5)
    items = [
        (draft("1"), ["world"]),
        (draft("2"), ["world"]),
        (draft("3", hours_ago=0), ["world"]),
    ]
    outcome = await store(sessions, feed_id, items, announce=True, now=later)

    assert titles(outcome.new) == ["Story 3"]
    assert outcome.new[0].sections == ("world",)
    assert outcome.new[0].first_seen_at == later
    assert outcome.backlog == ()
    assert outcome.updated == ()
    assert outcome.unchanged == 2
    states = {r.title: r.push_state for r in await story_rows(sessions)}
    assert states == {"Story 1": "none", "Story 2": "none", "Story 3": "pending"}
    async with sessions() as session:
        assert titles(
            await story_store.pending_stories(session, since=NOW - timedelta(days=1))
        ) == ["Story 3"]

    # The same items once more: nothing new, nothing changed.
    again = await store(sessions, feed_id, items, announce=True, now=later)
    assert (again.new, again.updated, again.backlog, again.unchanged) == ((), (), (), 3)


async def test_item_older_than_push_cutoff_is_stored_but_not_new(sessions: SessionFactory) -> None:
    feed_id = await add_feed(sessions, "https://example.org/rss")
    await store(sessions, feed_id, [(draft("seed"), ["news"])], announce=False)

    items = [
        (draft("old", hours_ago=7), ["news"]),
        (draft("fresh", hours_ago=5), ["news"]),
        (draft("undated", hours_ago=None), ["news"]),
    ]
    outcome = await store(sessions, feed_id, items, announce=True, max_age=timedelta(hours=6))
    assert sorted(titles(outcome.new)) == ["Story fresh", "Story undated"]
    assert titles(outcome.backlog) == ["Story old"]
    states = {r.title: r.push_state for r in await story_rows(sessions)}
    assert states["Story old"] == "none"
    assert states["Story fresh"] == states["Story undated"] == "pending"


async def test_an_oversized_guid_is_stored_hashed_and_still_news(sessions: SessionFactory) -> None:
    feed_id = await add_feed(sessions, "https://example.org/rss")
    await store(sessions, feed_id, [(draft("seed"), ["news"])], announce=False)
    long_guid = "g" * 3000
    item = draft(long_guid, link="https://example.org/" + "p" * 3000)
    outcome = await store(sessions, feed_id, [(item, ["news"])], announce=True)
    assert titles(outcome.new) == [f"Story {long_guid}"]
    assert outcome.new[0].link is None  # too long for any reader's client anyway
    again = await store(sessions, feed_id, [(item, ["news"])], announce=True)
    assert (again.new, again.unchanged) == ((), 1)


async def test_same_link_under_another_guid_is_not_new(sessions: SessionFactory) -> None:
    feed_id = await add_feed(sessions, "https://example.org/rss")
    await store(sessions, feed_id, [(draft("a"), ["news"])], announce=False)

    moved = draft("a", identity="guid:a-renumbered", guid="a-renumbered")
    outcome = await store(sessions, feed_id, [(moved, ["news"])], announce=True)
    assert outcome.new == ()
    assert outcome.backlog == ()
    assert outcome.unchanged == 1
    rows = await story_rows(sessions)
    assert len(rows) == 1
    assert rows[0].identity == "guid:a"


async def test_same_article_in_two_feeds_is_one_row_in_both_sections(
    sessions: SessionFactory,
) -> None:
    world = await add_feed(sessions, "https://example.org/world.rss", "world")
    kurdistan = await add_feed(sessions, "https://example.org/kurdistan.rss", "kurdistan")
    await store(sessions, world, [(draft("shared"), ["world"])], announce=False)
    # Another feed carries the same article, even under its own guid.
    copy = draft("shared", identity="guid:ku-77", guid="ku-77")
    outcome = await store(sessions, kurdistan, [(copy, ["kurdistan"])], announce=True)

    assert outcome.new == ()
    assert await count_rows(sessions, Story) == 1
    async with sessions() as session:
        [story] = await story_store.latest_stories(session)
        assert story.sections == ("kurdistan", "world")
        assert titles(await story_store.latest_stories(session, section="world")) == [
            "Story shared"
        ]
        assert titles(await story_store.latest_stories(session, section="kurdistan")) == [
            "Story shared"
        ]


async def test_same_article_stored_by_two_feeds_concurrently(sessions: SessionFactory) -> None:
    first = await add_feed(sessions, "https://example.org/a.rss", "a")
    second = await add_feed(sessions, "https://example.org/b.rss", "b")
    await store(sessions, first, [(draft("seed-a"), ["a"])], announce=False)
    await store(sessions, second, [(draft("seed-b"), ["b"])], announce=False)

    outcomes = await asyncio.gather(
        store(sessions, first, [(draft("breaking", hours_ago=0), ["a"])], announce=True),
        store(sessions, second, [(draft("breaking", hours_ago=0), ["b"])], announce=True),
    )
    # Exactly one of the two polls stored it, so it is pushed once.
    assert sorted(len(o.new) for o in outcomes) == [0, 1]
    assert await count_rows(sessions, Story) == 3
    async with sessions() as session:
        [story] = await story_store.search_stories(session, "breaking")
        assert story.sections == ("a", "b")


async def test_edited_item_is_updated_not_new_and_search_follows(
    sessions: SessionFactory,
) -> None:
    feed_id = await add_feed(sessions, "https://example.org/rss")
    original = draft("e", title="Bridge closed in Mosul", summary="Traffic diverted downtown")
    await store(sessions, feed_id, [(original, ["news"])], announce=False)

    edited = draft("e", title="Bridge reopened in Mosul", summary="Ferries resume crossings")
    later = NOW + timedelta(minutes=10)
    outcome = await store(sessions, feed_id, [(edited, ["news"])], announce=True, now=later)

    assert outcome.new == ()
    assert titles(outcome.updated) == ["Bridge reopened in Mosul"]
    [row] = await story_rows(sessions)
    assert row.title == "Bridge reopened in Mosul"
    assert row.summary == "Ferries resume crossings"
    assert row.updated_at == later
    assert row.first_seen_at == NOW
    assert row.push_state == "none"
    async with sessions() as session:
        assert titles(await story_store.search_stories(session, "reopened")) == [row.title]
        assert titles(await story_store.search_stories(session, "ferries")) == [row.title]
        assert await story_store.search_stories(session, "closed") == []
        assert await story_store.search_stories(session, "diverted") == []
        assert titles(await story_store.search_stories(session, "mosul")) == [row.title]


async def test_unique_constraints_reject_duplicates_in_sql(sessions: SessionFactory) -> None:
    engine = engine_of(sessions)

    def row(identity: str, link: str | None, *, key: bool = True) -> dict[str, Any]:
        return {
            "identity": identity,
            "link": link,
            "link_key": link if key else None,
            "title": identity,
            "summary": "",
            "categories": "",
            "first_seen_at": NOW,
            "updated_at": NOW,
            "sort_at": NOW,
            "push_state": "none",
        }

    async with engine.begin() as conn:
        await conn.execute(insert(Story), [row("guid:1", "https://example.org/1")])
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(insert(Story), [row("guid:1", "https://example.org/other")])
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(insert(Story), [row("guid:2", "https://example.org/1")])
    # Stories without a link are allowed side by side (NULLs are distinct), and so are
    # stories that show one link without it being their key (a live page without anchors).
    async with engine.begin() as conn:
        await conn.execute(insert(Story), [row("hash:a", None), row("hash:b", None)])
        await conn.execute(
            insert(Story),
            [row(f"guid:live-{n}", "https://example.org/1", key=False) for n in range(2)],
        )
    # A story listed twice under one section is one row too.
    async with engine.begin() as conn:
        story_id = (
            await conn.execute(select(col(Story.id)).where(col(Story.identity) == "guid:1"))
        ).scalar_one()
        await conn.execute(
            insert(StorySection), [{"story_id": story_id, "section": "x", "sort_at": NOW}]
        )
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(
                insert(StorySection), [{"story_id": story_id, "section": "x", "sort_at": NOW}]
            )
    assert await count_rows(sessions, Story) == 5


# --- reading ----------------------------------------------------------------------------------


async def seed_for_latest(sessions: SessionFactory) -> None:
    feed_id = await add_feed(sessions, "https://example.org/rss")
    # Seen two hours ago: A (published 3 h ago) and C (no date, so first-seen counts).
    await store(
        sessions,
        feed_id,
        [(draft("A", hours_ago=3), ["world"]), (draft("C", hours_ago=None), ["sport"])],
        announce=False,
        now=NOW - timedelta(hours=2),
    )
    # Seen now: B (published 1 h ago), D (published 5 h ago, late to the feed).
    await store(
        sessions,
        feed_id,
        [(draft("B", hours_ago=1), ["world", "sport"]), (draft("D", hours_ago=5), ["sport"])],
        announce=True,
    )


async def test_latest_orders_by_published_else_first_seen(sessions: SessionFactory) -> None:
    await seed_for_latest(sessions)
    async with sessions() as session:
        stories = await story_store.latest_stories(session, limit=10)
    assert titles(stories) == ["Story B", "Story C", "Story A", "Story D"]
    assert stories[1].published_at is None
    assert stories[1].sort_at == NOW - timedelta(hours=2)


async def test_latest_section_filter_and_paging(sessions: SessionFactory) -> None:
    await seed_for_latest(sessions)
    async with sessions() as session:
        assert titles(await story_store.latest_stories(session, limit=2)) == ["Story B", "Story C"]
        assert titles(await story_store.latest_stories(session, limit=2, offset=2)) == [
            "Story A",
            "Story D",
        ]
        assert await story_store.latest_stories(session, limit=2, offset=4) == []

        assert titles(await story_store.latest_stories(session, section="world")) == [
            "Story B",
            "Story A",
        ]
        sport = await story_store.latest_stories(session, section="sport", limit=10)
        assert titles(sport) == ["Story B", "Story C", "Story D"]
        assert sport[0].sections == ("sport", "world")
        assert titles(
            await story_store.latest_stories(session, section="sport", limit=1, offset=1)
        ) == ["Story C"]
        assert titles(
            await story_store.latest_stories(session, section="sport", limit=5, offset=2)
        ) == ["Story D"]
        assert await story_store.latest_stories(session, section="nowhere") == []


async def test_sections_are_remembered_first_name_wins(sessions: SessionFactory) -> None:
    async with writing(sessions) as session:
        await story_store.remember_sections(
            session, {"world": "World", "کوردستان": "کوردستان", "arts": "arts"}, NOW
        )
        await story_store.remember_sections(session, {"world": "WORLD NEWS"}, NOW)
    async with sessions() as session:
        sections = await story_store.list_sections(session)
    assert sorted(sections) == [("arts", "arts"), ("world", "World"), ("کوردستان", "کوردستان")]
    # Ordered by name, case-insensitively.
    assert [slug for slug, _ in sections][:2] == ["arts", "world"]


# --- search -----------------------------------------------------------------------------------


SEARCH_CORPUS = {
    "flood": ("Flood warning issued for Erbil", "Heavy rain expected across the region"),
    "vote": ("Election results announced in Sulaymaniyah", "Turnout was higher than expected"),
    "cafe": ("Café in Hewlêr reopens", "Old bazaar coffee house"),
    "ckb": ("هەڵبژاردنی پەرلەمانی کوردستان", "ئەنجامی هەڵبژاردن ڕاگەیەنرا"),
    "ar": ("انتخابات برلمان إقليم كردستان", "أعلنت المفوضية النتائج الأولية"),
}


async def seed_search(sessions: SessionFactory) -> None:
    feed_id = await add_feed(sessions, "https://example.org/rss")
    items = [
        (draft(key, title=title, summary=summary, hours_ago=n), ["news"])
        for n, (key, (title, summary)) in enumerate(SEARCH_CORPUS.items(), start=1)
    ]
    await store(sessions, feed_id, items, announce=False)


async def search(sessions: SessionFactory, query: str, **kwargs: Any) -> list[str]:
    async with sessions() as session:
        return titles(await story_store.search_stories(session, query, **kwargs))


async def test_search_words_prefixes_and_case(sessions: SessionFactory) -> None:
    await seed_search(sessions)
    flood, vote, cafe = (SEARCH_CORPUS[k][0] for k in ("flood", "vote", "cafe"))
    assert await search(sessions, "flood") == [flood]
    assert await search(sessions, "FLOOD") == [flood]
    assert await search(sessions, "rain") == [flood]  # summary words count too
    assert await search(sessions, "election sulaymaniyah") == [vote]
    assert await search(sessions, "sulaymaniyah   ELECTION") == [vote]
    assert await search(sessions, "election erbil") == []  # both words must match
    assert await search(sessions, "sulaym") == [vote]
    assert await search(sessions, "elec resu") == [vote]
    assert await search(sessions, "CAFÉ HEWLÊR") == [cafe]
    assert sorted(await search(sessions, "expected")) == sorted([flood, vote])
    assert len(await search(sessions, "expected", limit=1)) == 1
    assert len(await search(sessions, "expected", limit=1, offset=1)) == 1
    assert await search(sessions, "expected", limit=1, offset=2) == []
    assert await search(sessions, "") == []
    assert await search(sessions, "   ") == []


async def test_search_ignores_diacritics(sessions: SessionFactory) -> None:
    await seed_search(sessions)
    cafe = SEARCH_CORPUS["cafe"][0]
    assert await search(sessions, "cafe") == [cafe]
    assert await search(sessions, "hewler") == [cafe]


async def test_search_folds_arabic_script_variants(sessions: SessionFactory) -> None:
    await seed_search(sessions)
    ckb, ar = SEARCH_CORPUS["ckb"][0], SEARCH_CORPUS["ar"][0]
    assert await search(sessions, "بَرْلَمان") == [ar]  # harakat typed in the query
    assert await search(sessions, "برلمـــان") == [ar]  # tatweel
    assert await search(sessions, "كوردستان") == [ckb]  # Arabic kaf for the Kurdish keheh


async def test_search_sorani_and_arabic(sessions: SessionFactory) -> None:
    await seed_search(sessions)
    ckb, ar = SEARCH_CORPUS["ckb"][0], SEARCH_CORPUS["ar"][0]
    assert await search(sessions, "پەرلەمانی") == [ckb]
    assert await search(sessions, "هەڵبژ") == [ckb]  # prefix
    assert await search(sessions, "ڕاگەیەنرا") == [ckb]  # summary
    assert await search(sessions, "پەرلەمانی کوردستان") == [ckb]
    assert await search(sessions, "برلمان") == [ar]
    assert await search(sessions, "انتخابات كردستان") == [ar]
    assert await search(sessions, "المفوضية") == [ar]


HOSTILE_QUERIES = (
    '"',
    '"unbalanced',
    "*",
    "flood*",
    "NEAR",
    "NEAR(flood erbil)",
    "flood OR election",
    "flood AND NOT erbil",
    "-flood",
    "^flood",
    "title:flood",
    "(((",
    "'; DROP TABLE story; --",
    "flood & | ! <-> :*",
    "___",
    "\\",
    "\x00",
    "%",
    "😀 🔥",
)


async def test_hostile_search_queries_never_raise(sessions: SessionFactory) -> None:
    await seed_search(sessions)
    failures = {}
    for query in HOSTILE_QUERIES:
        try:
            found = await search(sessions, query)
        except Exception as exc:  # report every offending query at once
            failures[query] = f"{type(exc).__name__}: {exc}"
        else:
            assert isinstance(found, list)
    assert failures == {}
    # Operators are treated as words, never as syntax: the table is untouched.
    assert await count_rows(sessions, Story) == len(SEARCH_CORPUS)


async def test_hostile_query_words_still_match_as_words(sessions: SessionFactory) -> None:
    await seed_search(sessions)
    flood = SEARCH_CORPUS["flood"][0]
    assert await search(sessions, '"flood"') == [flood]
    assert await search(sessions, "flood*") == [flood]
    assert await search(sessions, "title:flood") == []  # "title" is just another word
    assert await search(sessions, "(flood) ^erbil") == [flood]


# --- time -------------------------------------------------------------------------------------


async def test_utc_datetimes_come_back_aware(sessions: SessionFactory) -> None:
    feed_id = await add_feed(sessions, "https://example.org/rss")
    baghdad = datetime(2026, 11, 25, 15, 30, 0, 123456, tzinfo=ZoneInfo("Asia/Baghdad"))
    await store(sessions, feed_id, [(draft("t", published_at=baghdad), ["news"])], announce=False)
    retry_at = NOW + timedelta(minutes=3)
    async with writing(sessions) as session:
        await feed_store.record_poll_failure(
            session, feed_id, now=NOW, error="HTTP 503", next_poll_at=retry_at
        )

    async with sessions() as session:
        [story] = await story_store.latest_stories(session)
        feed = await feed_store.get_feed(session, feed_id)
    assert feed is not None
    moments = {
        "published_at": story.published_at,
        "first_seen_at": story.first_seen_at,
        "sort_at": story.sort_at,
        "next_poll_at": feed.next_poll_at,
        "last_attempt_at": feed.last_attempt_at,
    }
    for name, moment in moments.items():
        assert moment is not None, name
        assert moment.utcoffset() == timedelta(0), name
    assert story.published_at == datetime(2026, 11, 25, 12, 30, 0, 123456, tzinfo=UTC)
    assert story.published_at.microsecond == 123456
    assert story.first_seen_at == NOW
    assert feed.next_poll_at == retry_at
    assert feed.consecutive_failures == 1
    assert feed.last_error == "HTTP 503"


async def test_naive_datetime_is_refused(sessions: SessionFactory) -> None:
    feed_id = await add_feed(sessions, "https://example.org/rss")
    naive = draft("n", published_at=datetime(2026, 11, 25, 12, 0))
    with pytest.raises(StatementError, match="naive datetime"):
        await store(sessions, feed_id, [(naive, ["news"])], announce=False)
    assert await count_rows(sessions, Story) == 0


# --- SQLite concurrency -----------------------------------------------------------------------


async def test_sqlite_reader_is_not_blocked_by_a_writer(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    await upgrade_database(engine)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as writer:
            await writer.begin()
            await story_store.remember_sections(writer, {"world": "World"}, NOW)
            await writer.flush()

            async def read() -> list[StoryView]:
                async with sessions() as reader:
                    return await story_store.latest_stories(reader)

            reading = asyncio.create_task(read())
            try:
                done, _ = await asyncio.wait({reading}, timeout=0.5)
            finally:
                await writer.rollback()
                await reading
            assert reading in done, "a read waited for the writer's transaction to end"
    finally:
        await engine.dispose()


async def test_sqlite_writers_of_one_process_take_turns_in_arrival_order(
    sqlite_url: str,
) -> None:
    # Ingestion commits batch after batch; a reader's write that arrives meanwhile must get
    # in before the next batch, not lose every race in SQLite's busy handler.
    engine = create_engine(sqlite_url)
    await upgrade_database(engine)
    sessions = create_session_factory(engine)
    order: list[str] = []
    first_in, release = asyncio.Event(), asyncio.Event()

    async def batches() -> None:
        async with writing(sessions) as session:
            await story_store.remember_sections(session, {"a": "A"}, NOW)
            order.append("batch 1")
            first_in.set()
            await release.wait()
        async with writing(sessions) as session:
            await story_store.remember_sections(session, {"b": "B"}, NOW)
            order.append("batch 2")

    async def reader() -> None:
        await first_in.wait()
        async with writing(sessions) as session:
            await story_store.remember_sections(session, {"r": "R"}, NOW)
            order.append("reader")

    try:
        tasks = [asyncio.create_task(batches()), asyncio.create_task(reader())]
        await first_in.wait()
        await asyncio.sleep(0.05)  # the reader is waiting for the write lock by now
        release.set()
        await asyncio.gather(*tasks)
        assert order == ["batch 1", "reader", "batch 2"]
    finally:
        await engine.dispose()


async def test_revision_0006_splits_the_link_into_shown_link_and_key(
    empty_database_url: str,
) -> None:
    engine = create_engine(empty_database_url)
    now = NOW.replace(tzinfo=None)

    async def insert_story(identity: str, link_column: str, link: str | None) -> None:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    f"INSERT INTO story (identity, title, summary, search_text, categories, "
                    f"{link_column}, first_seen_at, updated_at, sort_at, push_state) VALUES "
                    f"(:identity, 't', '', 't', '', :link, :now, :now, :now, 'none')"
                ),
                {"identity": identity, "link": link, "now": now},
            )

    async def links() -> list[tuple[str, str | None]]:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT identity, link FROM story ORDER BY id"))
            return [(row[0], row[1]) for row in rows]

    try:
        await upgrade_database(engine, "0006")
        await insert_story("guid:old", "link", "https://x.example/old")
        await upgrade_database(engine, "0007")
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT link, link_key FROM story"))).one()
        assert tuple(row) == ("https://x.example/old", "https://x.example/old")
        # Two posts of a live page share a shown link that keys neither.
        for n in (1, 2):
            await insert_story(f"guid:live-{n}", "link", "https://x.example/live")
        await downgrade_database(engine, "0006")
        # Back to one unique link column: the oldest post takes the link back.
        assert await links() == [
            ("guid:old", "https://x.example/old"),
            ("guid:live-1", "https://x.example/live"),
            ("guid:live-2", None),
        ]
        await upgrade_database(engine)
        assert await links() == [
            ("guid:old", "https://x.example/old"),
            ("guid:live-1", "https://x.example/live"),
            ("guid:live-2", None),
        ]
    finally:
        await engine.dispose()


async def test_upgrading_a_database_with_data_keeps_rows_and_search(
    empty_database_url: str,
) -> None:
    database_url = empty_database_url
    # A table rebuild during a migration (SQLite's "batch" mode) would silently drop the
    # full-text triggers and cascade-delete section rows; data must survive every revision.
    engine = create_engine(database_url)
    try:
        await upgrade_database(engine, "0002")
        now = {"now": NOW.replace(tzinfo=None)}
        async with engine.begin() as conn:
            feed_id = (
                await conn.execute(
                    text(
                        "INSERT INTO feed (url, initialized, consecutive_failures, created_at) "
                        "VALUES ('https://x.example/rss', true, 0, :now) RETURNING id"
                    ),
                    now,
                )
            ).scalar_one()
            story_id = (
                await conn.execute(
                    text(
                        "INSERT INTO story (identity, title, summary, search_text, categories, "
                        "feed_id, first_seen_at, updated_at, sort_at, push_state) VALUES "
                        "('guid:old', 'Old Kirkuk story', '', 'old kirkuk story', '', :feed, "
                        ":now, :now, :now, 'pending') RETURNING id"
                    ),
                    {**now, "feed": feed_id},
                )
            ).scalar_one()
            await conn.execute(
                text(
                    "INSERT INTO story_section (story_id, section, sort_at) "
                    "VALUES (:story, 'kurdistan', :now)"
                ),
                {**now, "story": story_id},
            )
            # Categories were not searchable before 0006, which adds them to search_text.
            await conn.execute(
                text(
                    "INSERT INTO story (identity, title, summary, search_text, categories, "
                    "feed_id, first_seen_at, updated_at, sort_at, push_state) VALUES "
                    "('guid:cat', 'Universities sign', '', 'universities sign', "
                    ":categories, :feed, :now, :now, :now, 'none')"
                ),
                {**now, "feed": feed_id, "categories": "Open Access\nHöger onderwijs"},
            )
        await upgrade_database(engine)
        sessions = create_session_factory(engine)
        async with sessions() as session:
            (story,) = await story_store.search_stories(session, "kirkuk")
            assert story.sections == ("kurdistan",)
            for query in ("open access", "hoger onderwijs", "universities"):
                found = await story_store.search_stories(session, query)
                assert [s.title for s in found] == ["Universities sign"], query
            old = await session.get(Story, story_id)
            assert old is not None and old.push_state == "none"
        # New rows are still indexed: the triggers (SQLite) or generated column (PostgreSQL).
        fresh = [(draft("fresh", title="Fresh Kirkuk story"), ["kurdistan"])]
        await store(sessions, feed_id, fresh, announce=True)
        async with sessions() as session:
            titles_found = {s.title for s in await story_store.search_stories(session, "kirkuk")}
        assert titles_found == {"Old Kirkuk story", "Fresh Kirkuk story"}
    finally:
        await engine.dispose()
