"""Stories in storage, on SQLite and PostgreSQL: search lists the newest publication first, a
story two feeds share is not reported edited on every poll, SQLite readers do not wait for a
writer, and a very long guid does not break a feed on PostgreSQL."""

from __future__ import annotations

import random
import string
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from storage import stories as story_store
from storage.engine import SessionFactory, create_engine, create_session_factory
from storage.migrate import upgrade_database
from tests.auxil.stored_items import NOW, add_feed, draft, store


async def test_search_lists_newest_publication_first(sessions: SessionFactory) -> None:
    first = await add_feed(sessions, "https://example.org/a.xml", "kurdistan")
    later = await add_feed(sessions, "https://example.org/b.xml", "world")
    # Feed A is polled first and stores a story from one hour ago; feed B, added later,
    # brings an older story (ten hours ago) which gets the higher id.
    await store(
        sessions, first, [(draft("new", title="Oil deal signed"), ["kurdistan"])], announce=False
    )
    await store(
        sessions,
        later,
        [(draft("old", hours_ago=10, title="Oil talks begin"), ["world"])],
        announce=False,
    )
    async with sessions() as session:
        latest = await story_store.latest_stories(session, limit=5)
        found = await story_store.search_stories(session, "oil", limit=5)
    assert [s.title for s in latest] == ["Oil deal signed", "Oil talks begin"]
    assert [s.title for s in found] == ["Oil deal signed", "Oil talks begin"]


async def test_shared_story_is_not_reported_edited_on_every_poll(
    sessions: SessionFactory,
) -> None:
    main = await add_feed(sessions, "https://example.org/main.xml", "kurdistan")
    section = await add_feed(sessions, "https://example.org/section.xml", "world")
    link = "https://example.org/news/shared"
    in_main = draft("main-1", link=link, summary="Short teaser.")
    in_section = draft("sec-1", link=link, summary="The full first paragraph of the story.")
    await store(sessions, main, [(in_main, ["kurdistan"])], announce=False)
    await store(sessions, section, [(in_section, ["world"])], announce=False)
    # Nothing changed in either feed since; polling both again must report no edit.
    updated = 0
    for _ in range(2):
        updated += len(
            (await store(sessions, main, [(in_main, ["kurdistan"])], announce=True)).updated
        )
        updated += len(
            (await store(sessions, section, [(in_section, ["world"])], announce=True)).updated
        )
    assert updated == 0


async def test_sqlite_reads_do_not_wait_for_a_writer(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)

    @event.listens_for(engine.sync_engine, "connect")
    def _short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=200")
        cursor.close()

    try:
        await upgrade_database(engine)
        sessions = create_session_factory(engine)
        feed = await add_feed(sessions, "https://example.org/a.xml", "kurdistan")
        await store(sessions, feed, [(draft("a"), ["kurdistan"])], announce=False)
        async with sessions() as writer, writer.begin():
            # Ingestion is in the middle of its transaction…
            await story_store.remember_sections(writer, {"world": "World"}, NOW)
            # …while a reader asks for /latest.
            async with sessions() as reader:
                try:
                    stories = await story_store.latest_stories(reader, limit=5)
                except OperationalError as exc:  # "database is locked"
                    pytest.fail(f"a read waited for the writer: {exc}")
        assert [s.title for s in stories] == ["Story a"]
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_long_guid_does_not_break_the_feed_on_postgres(
    sessions: SessionFactory,
) -> None:
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (SQLite has no index entry size limit)")
    feed = await add_feed(sessions, "https://example.org/a.xml", "kurdistan")
    rng = random.Random(1)
    # feed_parsing keeps guids up to 10,000 characters; an incompressible one of 4,000:
    guid = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(4000))
    items = [
        (draft("fine"), ["kurdistan"]),
        (draft(guid, identity=f"guid:{guid}", link="https://example.org/n/2"), ["kurdistan"]),
    ]
    outcome = await store(sessions, feed, items, announce=True, now=NOW + timedelta(minutes=1))
    assert len(outcome.new) == 2
