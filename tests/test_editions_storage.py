"""Editions in storage, on SQLite and PostgreSQL: feeds and their stories belong to an edition,
and latest, search, sections and digests give a reader only the editions they read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from news.story_draft import StoryDraft
from storage import audience
from storage import chats as chat_store
from storage import digests as digest_store
from storage import feeds as feed_store
from storage import follows as follow_store
from storage import stories as story_store
from storage.engine import SessionFactory, writing
from storage.feeds import FeedView
from storage.models import Story

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

# (key, edition, title, hours ago): interleaved in time so a merge has work to do.
STORIES = [
    ("en1", "en", "Erbil airport reopens", 1.0),
    ("ckb1", "ckb", "فڕۆکەخانەی هەولێر دەکرێتەوە", 1.5),
    ("kmr1", "kmr", "Balafirgeha Hewlêrê ji nû ve vedibe", 2.0),
    ("en2", "en", "Kurdistan parliament meets", 2.5),
    ("ckb2", "ckb", "پەرلەمانی کوردستان کۆدەبێتەوە", 3.0),
    ("ar1", "ar", "إعادة فتح مطار أربيل", 3.5),
    ("ckb3", "ckb", "باران لە سلێمانی", 4.0),
]


async def _store(
    session: AsyncSession, feed: FeedView, rows: list[tuple[str, str, float]], section: str
) -> None:
    """Store ``(key, title, hours ago)`` items as the feed's poll would, in its edition."""
    items = [
        (
            StoryDraft(
                identity=f"guid:{key}",
                title=title,
                link=f"https://x.example/{key}",
                published_at=NOW - timedelta(hours=hours),
            ),
            (section,),
        )
        for key, title, hours in rows
    ]
    policy = story_store.IngestPolicy(now=NOW, edition=feed.edition)
    await story_store.store_feed_items(session, feed.id, items, policy)


async def _seed(sessions: SessionFactory) -> dict[str, int]:
    """One feed per edition, each with its stories; returns story ids by key."""
    editions = sorted({e for _, e, _, _ in STORIES})
    async with writing(sessions) as session:
        feeds = await feed_store.register_feeds(
            session, [(f"https://x.example/{e}.rss", "kurdistan", e) for e in editions], NOW
        )
        for feed in feeds:
            rows = [(k, title, h) for k, edition, title, h in STORIES if edition == feed.edition]
            await story_store.remember_sections(
                session, {"kurdistan": "Kurdistan"}, NOW, feed.edition
            )
            await _store(session, feed, rows, "kurdistan")
        stored = (await session.exec(select(Story))).all()
    return {row.identity.removeprefix("guid:"): row.id or 0 for row in stored}


def _keys(stories: list, ids: dict[str, int]) -> list[str]:  # type: ignore[type-arg]
    by_id = {v: k for k, v in ids.items()}
    return [by_id[s.id] for s in stories]


async def test_latest_gives_each_reader_their_editions_newest_first(
    sessions: SessionFactory,
) -> None:
    ids = await _seed(sessions)
    async with sessions() as session:
        sorani = await story_store.latest_stories(session, limit=10, editions=["ckb"])
        both = await story_store.latest_stories(session, limit=3, editions=["ckb", "en"])
        page2 = await story_store.latest_stories(
            session, limit=3, offset=3, editions=["ckb", "en"]
        )
        everyone = await story_store.latest_stories(session, limit=10)
        in_section = await story_store.latest_stories(
            session, limit=10, section="kurdistan", editions=["kmr", "ar"]
        )
    assert _keys(sorani, ids) == ["ckb1", "ckb2", "ckb3"]
    assert all(s.edition == "ckb" for s in sorani)
    assert _keys(both, ids) == ["en1", "ckb1", "en2"]
    assert _keys(page2, ids) == ["ckb2", "ckb3"]
    assert len(everyone) == len(STORIES)
    assert _keys(in_section, ids) == ["kmr1", "ar1"]


async def test_search_stays_within_the_readers_editions(sessions: SessionFactory) -> None:
    ids = await _seed(sessions)
    async with sessions() as session:
        # An Arabic-keyboard spelling (ك, ي) finds the Sorani story (ک, ی).
        sorani = await story_store.search_stories(session, "كوردستان", editions=["ckb"])
        english = await story_store.search_stories(session, "Kurdistan", editions=["en"])
        nothing = await story_store.search_stories(session, "Kurdistan", editions=["tr"])
        anyone = await story_store.search_stories(session, "Erbil")
    assert _keys(sorani, ids) == ["ckb2"]
    assert _keys(english, ids) == ["en2"]
    assert nothing == []
    assert _keys(anyone, ids) == ["en1"]


async def test_sections_offered_are_those_of_the_readers_editions(
    sessions: SessionFactory,
) -> None:
    async with writing(sessions) as session:
        await story_store.remember_sections(session, {"old": "Old section"}, NOW)
        await story_store.remember_sections(session, {"sport": "Sport"}, NOW, "en")
        await story_store.remember_sections(session, {"وەرزش": "وەرزش"}, NOW, "ckb")
        await story_store.remember_sections(session, {"sport": "Sport"}, NOW, "tr")
    async with sessions() as session:
        sorani = dict(await story_store.list_sections(session, ["ckb"]))
        turkish = dict(await story_store.list_sections(session, ["tr"]))
        every = dict(await story_store.list_sections(session))
    # A section stored before editions existed belongs to nobody in particular: all see it.
    assert set(sorani) == {"old", "وەرزش"}
    assert set(turkish) == {"old", "sport"}
    assert set(every) == {"old", "sport", "وەرزش"}


async def test_a_feed_moved_to_another_edition_takes_its_stories(
    sessions: SessionFactory,
) -> None:
    ids = await _seed(sessions)
    async with writing(sessions) as session:
        [feed] = await feed_store.register_feeds(
            session, [("https://x.example/ar.rss", "kurdistan", "ckb")], NOW
        )
    assert feed.edition == "ckb"
    async with sessions() as session:
        moved = await story_store.get_story(session, ids["ar1"])
        untouched = await story_store.get_story(session, ids["en1"])
    assert moved is not None and moved.edition == "ckb"
    assert untouched is not None and untouched.edition == "en"


async def test_chat_language_and_editions_round_trip(sessions: SessionFactory) -> None:
    async with writing(sessions) as session:
        chat = await chat_store.touch_chat(
            session, 42, type="private", title="Reader", language="ckb", now=NOW
        )
        assert chat.editions == () and chat.locale is None
        assert chat_store.reading(chat, "en") == ("en",)
        chosen = await chat_store.set_language(
            session, 42, NOW, locale="ckb", editions=["ckb", "en", "ckb"]
        )
    assert chosen is not None
    assert chosen.locale == "ckb" and chosen.editions == ("ckb", "en")
    assert chat_store.reading(chosen, "en") == ("ckb", "en")
    async with sessions() as session:
        again = await chat_store.get_chat(session, 42)
    assert again == chosen


async def test_digests_hold_only_the_readers_editions(sessions: SessionFactory) -> None:
    ids = await _seed(sessions)
    async with writing(sessions) as session:
        for chat_id, editions in ((1, None), (2, ["kmr", "ar"])):
            await chat_store.touch_chat(
                session, chat_id, type="private", title=None, language="tr", now=NOW
            )
            await chat_store.subscribe(session, chat_id, ["*"], NOW)
            await chat_store.set_delivery_mode(session, chat_id, "daily", NOW)
            if editions:
                await chat_store.set_language(session, chat_id, NOW, editions=editions)
    async with sessions() as session:
        readers = {r.chat_id: r for r in await digest_store.digest_readers(session, "ckb")}
        since = NOW - timedelta(days=1)
        default = await digest_store.digest_candidates(session, readers[1], since)
        chosen = await digest_store.digest_candidates(session, readers[2], since)
    assert readers[1].editions == ("ckb",) and readers[1].locale == "tr"
    assert readers[2].editions == ("kmr", "ar")
    assert sorted(default) == sorted(ids[k] for k in ("ckb1", "ckb2", "ckb3"))
    assert sorted(chosen) == sorted(ids[k] for k in ("kmr1", "ar1"))


async def test_pushes_and_keyword_alerts_go_to_readers_of_the_storys_edition(
    sessions: SessionFactory,
) -> None:
    ids = await _seed(sessions)
    # 1 never chose (reads the default, ckb here); 2 reads en; 3 reads en and ckb.
    async with writing(sessions) as session:
        for chat_id, editions in ((1, None), (2, ["en"]), (3, ["en", "ckb"])):
            await chat_store.touch_chat(
                session, chat_id, type="private", title=None, language=None, now=NOW
            )
            await chat_store.subscribe(session, chat_id, ["*"], NOW)
            await follow_store.follow(session, chat_id, 0, ["erbil"], NOW)
            if editions:
                await chat_store.set_language(session, chat_id, NOW, editions=editions)
    async with sessions() as session:

        async def pushed_to(key: str) -> list[int]:
            story = await story_store.get_story(session, ids[key])
            assert story is not None
            page = await audience.subscribers_after(session, story, None, 100, "ckb")
            return [r.chat_id for r in page.recipients]

        async def alerted(edition: str) -> list[int]:
            page = await audience.followers_after(
                session, ["erbil"], None, None, 100, edition, "ckb"
            )
            return sorted(r.chat_id for r in page.recipients)

        assert await pushed_to("ckb1") == [1, 3]
        assert await pushed_to("en1") == [2, 3]
        assert await pushed_to("kmr1") == []
        assert await alerted("ckb") == [1, 3]
        assert await alerted("en") == [2, 3]


async def test_search_finds_a_small_editions_story_behind_many_others(
    sessions: SessionFactory,
) -> None:
    """A name every edition writes about: the newest matches are all English, yet the one
    Kurmanji story is found (SQLite looks at a window of recent matches first)."""
    async with writing(sessions) as session:
        feeds = await feed_store.register_feeds(
            session,
            [("https://x.example/en.rss", None, "en"), ("https://x.example/kmr.rss", None, "kmr")],
            NOW,
        )
        by_edition = {f.edition: f for f in feeds}
        batches = {
            "kmr": [("kmr-old", "Erdoğan li Hewlêrê", 500.0)],
            "en": [(f"en-{n}", f"Erdogan visit part {n}", n / 10) for n in range(2600)],
        }
        for edition, batch in batches.items():
            await _store(session, by_edition[edition], batch, "news")
    async with sessions() as session:
        found = await story_store.search_stories(session, "erdogan", editions=["kmr"])
        english = await story_store.search_stories(session, "erdogan", editions=["en"])
    assert [s.title for s in found] == ["Erdoğan li Hewlêrê"]
    assert len(english) == 5 and all(s.edition == "en" for s in english)


async def test_a_group_that_becomes_a_supergroup_keeps_its_language_and_editions(
    sessions: SessionFactory,
) -> None:
    async with writing(sessions) as session:
        await chat_store.touch_chat(
            session, -5, type="group", title="Readers", language=None, now=NOW
        )
        await chat_store.subscribe(session, -5, ["*"], NOW)
        await chat_store.set_language(session, -5, NOW, locale="ckb", editions=["ckb", "en"])
        assert await chat_store.move_chat(session, -5, -1005, NOW)
    async with sessions() as session:
        moved = await chat_store.get_chat(session, -1005)
    assert moved is not None
    assert (moved.locale, moved.editions) == ("ckb", ("ckb", "en"))
