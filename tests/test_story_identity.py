"""Story identity (news/story_identity.py): the pure rule, and what storage makes of it.

The rule is tested on small documents, then on the shared feed corpus (../shared/feeds,
skipped when absent): every document stored, each of its items one story, and the live
blog whose posts differ only by fragment stored post by post.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from news.feed_parsing import NotAFeedError, ParsedFeed, parse_feed
from news.story_draft import StoryDraft
from news.story_identity import StoryKey, hashed_identity, story_keys
from storage import feeds as feed_store
from storage import stories as story_store
from storage.engine import SessionFactory, writing
from storage.models import Story, StorySection
from storage.records import IngestOutcome
from tests.auxil.shared_feeds import ABSENT_REASON, SHARED_FEEDS

NOW = datetime(2026, 3, 1, tzinfo=UTC)
PAGE = "https://outlet.example/live/2026/03/01.html"


def keys(*items: tuple[str | None, str | None]) -> list[StoryKey | None]:
    return story_keys(list(items))


# --- the rule -------------------------------------------------------------------------------


def test_distinct_guids_on_one_page_are_distinct_stories_by_their_fragments() -> None:
    found = keys((f"{PAGE}#a1", f"{PAGE}#a1"), (f"{PAGE}#a2", f"{PAGE}#a2"), ("p3", PAGE))
    assert found == [
        StoryKey(f"guid:{PAGE}#a1", f"{PAGE}#a1", f"{PAGE}#a1", link_is_key=True),
        StoryKey(f"guid:{PAGE}#a2", f"{PAGE}#a2", f"{PAGE}#a2", link_is_key=True),
        StoryKey("guid:p3", "p3", PAGE, link_is_key=True),
    ]


def test_a_fragment_nothing_else_shares_is_dropped() -> None:
    # A tracker (NDTV's #publisher=newsstand) or an in-page anchor: not part of the story.
    [key] = keys(("g1", "https://outlet.example/a#publisher=newsstand"))
    assert key == StoryKey("guid:g1", "g1", "https://outlet.example/a", link_is_key=True)


def test_without_guids_the_fragment_tells_posts_of_one_page_apart() -> None:
    found = keys((None, f"{PAGE}#a1"), (None, f"{PAGE}#a2"), (None, "https://outlet.example/b#x"))
    assert [k.identity if k else None for k in found] == [
        f"link:{PAGE}#a1",
        f"link:{PAGE}#a2",
        "link:https://outlet.example/b",
    ]
    assert all(k is not None and k.link_is_key for k in found)


def test_a_guid_on_several_pages_is_not_real() -> None:
    # A broken feed gives every item one guid: the links tell its stories apart.
    found = keys(("same", "https://outlet.example/a"), ("same", "https://outlet.example/b"))
    assert [(k.identity, k.guid) if k else None for k in found] == [
        ("link:https://outlet.example/a", None),
        ("link:https://outlet.example/b", None),
    ]


def test_a_guid_repeated_on_one_page_is_one_item_listed_twice() -> None:
    found = keys(("g", "https://outlet.example/c"), ("g", "https://outlet.example/c#again"))
    assert found == [
        StoryKey("guid:g", "g", "https://outlet.example/c", link_is_key=True),
        None,
    ]


def test_guidless_items_with_one_link_are_one_item() -> None:
    found = keys((None, "https://outlet.example/c"), (None, "https://outlet.example/c"))
    assert found[1] is None
    assert found[0] == StoryKey(
        "link:https://outlet.example/c", None, "https://outlet.example/c", link_is_key=True
    )


def test_distinct_guids_sharing_a_link_are_stories_the_link_does_not_key() -> None:
    # A live page without anchors, or every item linking to the homepage.
    found = keys(("p1", PAGE), ("p2", PAGE), (None, PAGE))
    assert found == [
        StoryKey("guid:p1", "p1", PAGE, link_is_key=False),
        StoryKey("guid:p2", "p2", PAGE, link_is_key=False),
        StoryKey(f"link:{PAGE}", None, PAGE, link_is_key=False),
    ]


def test_a_permalink_guid_is_a_guid_and_no_guid_nor_link_leaves_a_hash() -> None:
    found = keys(("https://outlet.example/a", "https://outlet.example/a"), (None, None))
    assert found == [
        StoryKey(
            "guid:https://outlet.example/a",
            "https://outlet.example/a",
            "https://outlet.example/a",
            link_is_key=True,
        ),
        StoryKey(None, None, None, link_is_key=False),
    ]
    assert hashed_identity("Title only") == hashed_identity("Title only")
    assert hashed_identity("Title only") != hashed_identity("Another title")


def test_empty_guids_are_no_guids_in_parsing() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>One</title><link>https://outlet.example/1</link><guid> </guid></item>"
        b"<item><title>Two</title><link>https://outlet.example/2</link><guid></guid></item>"
        b"</channel></rss>"
    )
    feed = parse_feed(body, url="https://outlet.example/rss", now=NOW)
    assert [(d.identity, d.guid) for d in feed.entries] == [
        ("link:https://outlet.example/1", None),
        ("link:https://outlet.example/2", None),
    ]


# --- stored ---------------------------------------------------------------------------------


async def add_feed(sessions: SessionFactory, url: str, section: str) -> int:
    async with writing(sessions) as session:
        [feed] = await feed_store.register_feeds(session, [(url, section, "en")], NOW)
    return feed.id


async def store(
    sessions: SessionFactory, feed_id: int, drafts: Sequence[StoryDraft], section: str
) -> IngestOutcome:
    policy = story_store.IngestPolicy(now=NOW)
    async with writing(sessions) as session:
        return await story_store.store_feed_items(
            session, feed_id, [(d, [section]) for d in drafts], policy
        )


async def story_count(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return int((await session.exec(select(func.count()).select_from(Story))).one()[0])  # type: ignore[call-overload]


async def listed_under(sessions: SessionFactory, section: str) -> int:
    statement = select(func.count()).where(col(StorySection.section) == section)
    async with sessions() as session:
        return int((await session.exec(statement)).one()[0])  # type: ignore[call-overload]


def draft(identity: str, link: str | None, *, key: bool = True) -> StoryDraft:
    return StoryDraft(
        identity=identity, title=identity, link=link, published_at=NOW, link_is_key=key
    )


async def test_a_live_page_without_anchors_is_stored_post_by_post(
    sessions: SessionFactory,
) -> None:
    feed_id = await add_feed(sessions, "https://outlet.example/live", "live")
    posts = [draft(f"guid:p{n}", PAGE, key=False) for n in range(3)]
    outcome = await store(sessions, feed_id, posts, "live")
    assert sorted(s.title for s in outcome.backlog) == ["guid:p0", "guid:p1", "guid:p2"]
    assert {s.link for s in outcome.backlog} == {PAGE}
    again = await store(sessions, feed_id, posts, "live")
    assert (again.backlog, again.unchanged) == ((), 3)


async def test_one_article_in_several_feeds_is_one_story(sessions: SessionFactory) -> None:
    world = await add_feed(sessions, "https://outlet.example/world", "world")
    iraq = await add_feed(sessions, "https://outlet.example/iraq", "iraq")
    kurdistan = await add_feed(sessions, "https://outlet.example/kurdistan", "kurdistan")
    link = "https://outlet.example/story/1"
    await store(sessions, world, [draft("guid:1", link)], "world")
    # The same guid in another feed, and the same link under that feed's own guid.
    await store(sessions, iraq, [draft("guid:1", link)], "iraq")
    await store(sessions, kurdistan, [draft("guid:k-77", link)], "kurdistan")
    assert await story_count(sessions) == 1
    async with sessions() as session:
        [story] = await story_store.latest_stories(session)
    assert story.sections == ("iraq", "kurdistan", "world")


# --- the shared corpus ----------------------------------------------------------------------


def _shared(name: str) -> Path:
    path = SHARED_FEEDS / name
    if not path.is_file():
        pytest.skip(ABSENT_REASON)
    return path


def _parse(path: Path) -> ParsedFeed | None:
    try:
        return parse_feed(path.read_bytes(), url=f"https://feeds.example/{path.name}", now=NOW)
    except NotAFeedError:
        return None


async def test_a_live_blog_whose_links_differ_by_fragment_is_stored_post_by_post(
    sessions: SessionFactory,
) -> None:
    # 50 posts, 48 guids (two reused on one permalink each), links /day.html#anchor.
    feed = _parse(_shared("scriptingnews_no_titles.rss"))
    assert feed is not None
    assert len(feed.entries) == 48
    assert len({d.link for d in feed.entries}) == 48
    feed_id = await add_feed(sessions, "https://feeds.example/scripting", "scripting")
    outcome = await store(sessions, feed_id, feed.entries, "scripting")
    assert len(outcome.backlog) == 48
    assert await story_count(sessions) == 48
    again = await store(sessions, feed_id, feed.entries, "scripting")
    assert (again.new, again.backlog, again.unchanged) == ((), (), 48)


async def test_every_corpus_document_stores_each_item_as_one_story(
    sessions: SessionFactory,
) -> None:
    if not SHARED_FEEDS.is_dir():
        pytest.skip(ABSENT_REASON)
    stored = 0
    for path in sorted(SHARED_FEEDS.iterdir()):
        feed = _parse(path) if path.suffix not in (".tsv", ".md") else None
        if feed is None or not feed.entries:
            continue
        section = f"corpus-{stored}"
        feed_id = await add_feed(sessions, f"https://feeds.example/{path.name}", section)
        await store(sessions, feed_id, feed.entries, section)
        # No two items of a document were merged into one story (nor lost).
        assert await listed_under(sessions, section) == len(feed.entries), path.name
        stored += 1
    assert stored > 40


async def test_the_same_corpus_feed_under_two_urls_is_stored_once(
    sessions: SessionFactory,
) -> None:
    feed = _parse(_shared("bbc_news_world_2026.rss"))
    assert feed is not None
    first = await add_feed(sessions, "https://feeds.example/bbc-1", "bbc-1")
    second = await add_feed(sessions, "https://feeds.example/bbc-2", "bbc-2")
    await store(sessions, first, feed.entries, "bbc-1")
    # The second copy without guids: found by link.
    guidless = [
        StoryDraft(
            identity=f"link:{d.link}",
            title=d.title,
            link=d.link,
            published_at=d.published_at or NOW - timedelta(hours=1),
        )
        for d in feed.entries
    ]
    await store(sessions, second, guidless, "bbc-2")
    assert await story_count(sessions) == len(feed.entries)
    assert await listed_under(sessions, "bbc-2") == len(feed.entries)
