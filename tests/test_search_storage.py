"""Search at scale, on SQLite and PostgreSQL (storage.search): the page is exactly the newest
matches whatever the ids say, rare words are found behind thousands of newer stories,
prefixes spelled out as the indexed words match what the prefix matched, and editions
filter without losing or reordering anything."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from news.story_draft import StoryDraft
from storage import feeds as feed_store
from storage import stories as story_store
from storage.engine import SessionFactory, writing
from storage.records import StoryView
from tests.auxil.stored_items import NOW, draft


async def _feed(sessions: SessionFactory, name: str, edition: str = "en") -> int:
    async with writing(sessions) as session:
        [feed] = await feed_store.register_feeds(
            session, [(f"https://{name}.example/rss", None, edition)], NOW
        )
    return feed.id


async def _store(
    sessions: SessionFactory, feed_id: int, drafts: Sequence[StoryDraft], edition: str = "en"
) -> None:
    """Store as one poll of a feed would: a batch per 500 items, backlog (nothing pushed)."""
    for start in range(0, len(drafts), 500):
        policy = story_store.IngestPolicy(now=NOW, edition=edition)
        batch = [(d, ["news"]) for d in drafts[start : start + 500]]
        async with writing(sessions) as session:
            await story_store.store_feed_items(session, feed_id, batch, policy)


async def _search(sessions: SessionFactory, query: str, **kwargs: Any) -> list[str]:
    async with sessions() as session:
        return _keys(await story_store.search_stories(session, query, **kwargs))


def _keys(stories: Sequence[StoryView]) -> list[str]:
    return [s.guid or "" for s in stories]


def _newest(stories: Sequence[tuple[str, float]], limit: int, offset: int = 0) -> list[str]:
    """The keys of (key, hours ago) stories, newest first, as search must list them (stories
    of the same moment: the later stored first, i.e. the later in the list)."""
    order = sorted(enumerate(stories), key=lambda p: (-p[1][1], p[0]), reverse=True)
    return [key for _, (key, _) in order][offset : offset + limit]


async def test_a_rare_word_in_the_oldest_story_is_found_behind_5000_newer(
    sessions: SessionFactory,
) -> None:
    feed_id = await _feed(sessions, "daily")
    oldest = draft("qandil", hours_ago=2000, title="Qandil shepherds count their flocks")
    newer = [
        draft(f"d{n}", hours_ago=1000 - n / 10, title=f"Erbil daily {n}") for n in range(5000)
    ]
    await _store(sessions, feed_id, [oldest, *newer])
    for query in ("qandil", "QANDIL shepherds", "qand", "qan", "flocks erbil"):
        expected = [] if query == "flocks erbil" else ["qandil"]
        assert await _search(sessions, query) == expected, query
        assert await _search(sessions, query, editions=["en"]) == expected, query
        assert await _search(sessions, query, editions=["ckb"]) == [], query
    assert await _search(sessions, "erbil daily", limit=3) == ["d4999", "d4998", "d4997"]


async def test_newest_publication_first_when_ids_say_otherwise(sessions: SessionFactory) -> None:
    # A feed added later brings a year-old backlog: the highest ids are the oldest stories,
    # so reading the matches newest id first meets 1,200 old ones before any recent one.
    recent = [(f"r{n}", 0.5 + n / 100) for n in range(1200)]
    backlog = [(f"b{n}", 8000 - n) for n in range(1200)]
    await _store(
        sessions,
        await _feed(sessions, "recent"),
        [draft(k, hours_ago=h, title=f"Kirkuk report {k}") for k, h in recent],
    )
    await _store(
        sessions,
        await _feed(sessions, "archive"),
        [draft(k, hours_ago=h, title=f"Kirkuk archive {k}") for k, h in backlog],
    )
    every = recent + backlog
    assert await _search(sessions, "kirkuk") == _newest(every, 5)
    assert await _search(sessions, "kirkuk", offset=5) == _newest(every, 5, 5)
    # A page that straddles the two feeds, and one deep in the backlog.
    assert await _search(sessions, "kirk", limit=10, offset=1195) == _newest(every, 10, 1195)
    assert await _search(sessions, "kirkuk", limit=7, offset=2000) == _newest(every, 7, 2000)
    assert await _search(sessions, "archive", limit=3) == ["b1199", "b1198", "b1197"]


async def test_editions_filter_across_many_matches(sessions: SessionFactory) -> None:
    # Sorani stories are one in ten of the newest and all of the oldest; Kurmanji ones only
    # old (an edition the outlet stopped), all under the ids of a thousand newer matches.
    feeds = {e: await _feed(sessions, e, e) for e in ("en", "ckb", "kmr")}
    stored: dict[str, list[tuple[str, float]]] = {"en": [], "ckb": [], "kmr": []}
    stored["kmr"] = [(f"kmr{n}", 3000 + n) for n in range(30)]
    stored["ckb"] = [(f"ckb-old{n}", 2000 + n) for n in range(30)]
    for n in range(1500):
        edition = "ckb" if n % 10 == 0 else "en"
        stored[edition].append((f"{edition}{n}", 1500 - n))
    for edition in ("kmr", "ckb", "en"):
        drafts = [draft(k, hours_ago=h, title=f"Duhok dam {k}") for k, h in stored[edition]]
        await _store(sessions, feeds[edition], drafts, edition)
    assert await _search(sessions, "duhok", editions=["ckb"]) == _newest(stored["ckb"], 5)
    assert await _search(sessions, "duhok", editions=["ckb"], limit=10, offset=150) == (
        _newest(stored["ckb"], 10, 150)
    )
    assert await _search(sessions, "duhok dam", editions=["kmr"]) == _newest(stored["kmr"], 5)
    two = stored["kmr"] + stored["ckb"]
    assert await _search(sessions, "duhok", editions=["kmr", "ckb"], limit=8, offset=175) == (
        _newest(two, 8, 175)
    )
    assert await _search(sessions, "duhok", editions=["tr"]) == []
    assert await _search(sessions, "duhok", editions=[]) == []
    everyone = stored["en"] + stored["ckb"] + stored["kmr"]
    assert await _search(sessions, "duhok", limit=6, offset=1555) == _newest(everyone, 6, 1555)


async def test_prefixes_match_every_word_they_begin(sessions: SessionFactory) -> None:
    feed_id = await _feed(sessions, "words")
    titles = {
        "a": "Kurdistan region",
        "b": "Kurdistani delegation",
        "c": "Kurdistanê nûçe",
        "d": "Kurd history",
        "e": "کوردستان و کوردستانی",
    }
    # Seventy words with one beginning: more than are spelled out, so it stays a prefix.
    many = [draft(f"z{n}", hours_ago=50 + n, title=f"Zanyar{n:02d} award") for n in range(70)]
    await _store(
        sessions,
        feed_id,
        [*many, *(draft(k, hours_ago=n, title=t) for n, (k, t) in enumerate(titles.items()))],
    )
    assert await _search(sessions, "kurdistan") == ["a", "b", "c"]
    assert await _search(sessions, "kurdis") == ["a", "b", "c"]
    assert await _search(sessions, "kurd") == ["a", "b", "c", "d"]
    assert await _search(sessions, "كوردستان") == ["e"]
    assert await _search(sessions, "kurdistanix") == []
    zanyar = await _search(sessions, "zanyar", limit=100)
    assert zanyar == [f"z{n}" for n in range(70)]
    assert await _search(sessions, "zanyar0 award", limit=100) == [f"z{n}" for n in range(10)]


async def test_an_edited_storys_new_words_are_searchable(sessions: SessionFactory) -> None:
    feed_id = await _feed(sessions, "edits")
    await _store(sessions, feed_id, [draft("s", title="Bridge closed")])
    await _store(sessions, feed_id, [draft("s", title="Bridge reopened by Halabjayi engineers")])
    assert await _search(sessions, "halabjayi") == ["s"]
    assert await _search(sessions, "halab") == ["s"]
    assert await _search(sessions, "closed") == []


async def test_later_stories_extend_a_prefix(sessions: SessionFactory) -> None:
    feed_id = await _feed(sessions, "growing")
    await _store(sessions, feed_id, [draft("one", hours_ago=3, title="Peshmerga parade")])
    assert await _search(sessions, "peshm") == ["one"]
    # A word first seen later, with the same beginning, joins what the prefix finds.
    await _store(sessions, feed_id, [draft("two", hours_ago=2, title="Peshmergeyan li Duhok")])
    assert await _search(sessions, "peshm") == ["two", "one"]


async def test_deep_pages_and_limits(sessions: SessionFactory) -> None:
    feed_id = await _feed(sessions, "pages")
    stories = [(f"p{n}", 900 - n * 0.5) for n in range(1800)]
    drafts = [draft(k, hours_ago=h, title=f"Sulaimani market {k}") for k, h in stories]
    await _store(sessions, feed_id, drafts)
    async with sessions() as session:
        page = await story_store.search_stories(session, "sulaimani", limit=50, offset=1000)
        nothing = await story_store.search_stories(session, "sulaimani", limit=0)
    assert _keys(page) == _newest(stories, 50, 1000)
    assert nothing == []
