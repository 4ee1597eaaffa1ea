"""JSON Feed 1.0 and 1.1: the mapping to StoryDraft field by field, detection, encoding, broken
documents, the shared corpus's real JSON Feed, ingestion on both engines, and `newsbot check`.

JSON Feed goes through the same entry rules as RSS and Atom (news.feed_parsing), so these tests
check what is JSON Feed's own: which member becomes which field, and what is refused.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.cli import main
from jobs.clients.feeds import create_feed_session
from jobs.ingestion import FeedPoller, PollSettings
from jobs.parse_process import CHILD_PROCESS_BYTES, parse_in_child_process
from news.feed_parsing import NotAFeedError, ParsedFeed, parse_feed
from news.story_draft import StoryDraft
from news.story_identity import hashed_identity
from storage import feeds as feed_store
from storage import stories as story_store
from storage.engine import SessionFactory, writing
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import Item, rss
from tests.auxil.json_feeds import JSON_FEED_TYPE, json_feed
from tests.auxil.shared_feeds import ABSENT_REASON, SHARED_FEEDS

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URL = "https://www.rudaw.net/english/feed.json"
V11 = "https://jsonfeed.org/version/1.1"
V10 = "https://jsonfeed.org/version/1"


def document(*items: Any, **members: Any) -> bytes:
    """A JSON Feed 1.1 document of these items; ``members`` add or replace top-level ones."""
    feed: dict[str, Any] = {"version": V11, "title": "Rudaw English", "items": list(items)}
    feed.update(members)
    return json.dumps(feed, ensure_ascii=False).encode()


def parse(body: bytes, *, content_type: str | None = JSON_FEED_TYPE, **options: Any) -> ParsedFeed:
    return parse_feed(body, url=URL, content_type=content_type, now=NOW, **options)


def only(feed: ParsedFeed) -> StoryDraft:
    assert len(feed.entries) == 1, feed.entries
    return feed.entries[0]


def item(n: int = 1, **members: Any) -> dict[str, Any]:
    """A plain item; ``members`` add or replace (None removes)."""
    fields: dict[str, Any] = {
        "id": f"rudaw-{n}",
        "url": f"https://www.rudaw.net/english/kurdistan/{n}",
        "title": f"Story {n}",
        "date_published": (NOW - timedelta(hours=n)).isoformat(),
    }
    fields.update(members)
    return {key: value for key, value in fields.items() if value is not None}


# --- the mapping, field by field -----------------------------------------------------------


def test_a_json_feed_1_1_item_maps_to_every_draft_field() -> None:
    body = document(
        {
            "id": "https://www.rudaw.net/english/kurdistan/010320261",
            "url": "https://www.rudaw.net/english/kurdistan/010320261?utm_source=feed",
            "title": "Erbil and Baghdad agree on oil exports",
            "summary": "The KRG and Baghdad reached an agreement on Wednesday.",
            "content_html": "<p>Long <b>article</b> text.</p>",
            "image": "https://www.rudaw.net/images/oil.jpg",
            "date_published": "2026-03-01T09:30:00+03:00",
            "date_modified": "2026-03-01T10:00:00+03:00",
            "tags": ["Kurdistan", "Economy", "kurdistan"],
            "authors": [{"name": "Rudaw"}, {"name": "Second author"}],
            "language": "en-GB",
        },
        home_page_url="https://www.rudaw.net/english",
        language="ar",
    )
    feed = parse(body)
    assert (feed.title, feed.link, feed.language) == (
        "Rudaw English",
        "https://www.rudaw.net/english",
        "ar",
    )
    assert (feed.bozo, feed.bozo_reason, feed.replaced_bytes, feed.item_count) == (
        False,
        None,
        0,
        1,
    )
    assert only(feed) == StoryDraft(
        identity="guid:https://www.rudaw.net/english/kurdistan/010320261",
        title="Erbil and Baghdad agree on oil exports",
        link="https://www.rudaw.net/english/kurdistan/010320261",
        guid="https://www.rudaw.net/english/kurdistan/010320261",
        summary="The KRG and Baghdad reached an agreement on Wednesday.",
        image_url="https://www.rudaw.net/images/oil.jpg",
        author="Rudaw",
        categories=("Kurdistan", "Economy"),
        language="en",
        published_at=datetime(2026, 3, 1, 6, 30, tzinfo=UTC),
        link_is_key=True,
    )


def test_json_feed_1_0_author_numeric_id_and_modified_date() -> None:
    body = document(
        {
            "id": 42,
            "url": "https://blog.example/42",
            "title": "Old style",
            "author": {"name": "Item Author"},
            "date_modified": "2026-02-28T08:00:00Z",
        },
        {"id": 7.5, "url": "https://blog.example/7", "title": "Feed author"},
        version=V10,
        author={"name": "Feed Author", "url": "https://blog.example/about"},
    )
    first, second = parse(body).entries
    # "If an id is presented as a number or other type, a JSON Feed reader must coerce it."
    assert (first.guid, first.identity) == ("42", "guid:42")
    assert first.author == "Item Author"
    assert first.published_at == datetime(2026, 2, 28, 8, 0, tzinfo=UTC)
    assert (second.guid, second.author, second.published_at) == ("7.5", "Feed Author", None)


def test_authors_of_the_feed_stand_in_for_an_items_own() -> None:
    body = document(item(1), authors=[{"url": "https://x.example"}, {"name": "Newsroom"}])
    assert only(parse(body)).author == "Newsroom"


@pytest.mark.parametrize(
    ("members", "summary"),
    [
        ({"summary": "Short.", "content_html": "<p>Long</p>", "content_text": "Text"}, "Short."),
        ({"content_html": "<p>First</p><p>second paragraph</p>"}, "First second paragraph"),
        ({"content_text": "Plain   text\nwith lines"}, "Plain text with lines"),
        ({"content_html": "<p>HTML wins</p>", "content_text": "over text"}, "HTML wins"),
        # Entity-escaped HTML, as the shared corpus's feed has it, is decoded to its text.
        ({"content_html": "&lt;p&gt;Escaped &amp;amp; twice&lt;/p&gt;"}, "Escaped & twice"),
        # A plain-text summary holding an HTML excerpt, as some CMSs write it.
        ({"summary": "<p>Excerpt &amp; more</p>"}, "Excerpt & more"),
        ({"summary": "if a<b and c>d, then"}, "if a<b and c>d, then"),
        ({}, ""),
    ],
)
def test_summary_is_the_summary_else_the_content(members: dict[str, Any], summary: str) -> None:
    assert only(parse(document(item(1, **members)))).summary == summary


def test_hostile_html_is_reduced_to_its_visible_text() -> None:
    body = document(
        item(
            1,
            title="<script>alert('title')</script>Ministers <b>meet</b>",
            content_html=(
                '<p onclick="steal()">Talks <iframe src="https://evil.example"></iframe>'
                "resume<script>document.cookie</script><style>p{}</style></p>"
                '<img src="https://evil.example/pixel.gif" width="1" height="1">'
            ),
        )
    )
    draft = only(parse(body))
    assert (draft.title, draft.summary) == ("Ministers meet", "Talks resume")
    assert draft.image_url is None  # a 1×1 pixel is no picture


def test_a_title_is_plain_text_and_a_missing_one_falls_back_like_rss() -> None:
    body = document(
        item(1, title="Oil <> gas: 5 < 6 & more"),
        item(2, title=None, content_text="A microblog post without a title"),
        item(3, title=42, summary="A title of the wrong type is no title"),
    )
    titles = [draft.title for draft in parse(body).entries]
    assert titles == [
        "Oil <> gas: 5 < 6 & more",
        "A microblog post without a title",
        "A title of the wrong type is no title",
    ]


def test_url_is_the_link_else_external_url() -> None:
    body = document(
        item(1, url="https://www.rudaw.net/1", external_url="https://elsewhere.example/1"),
        item(2, url=None, external_url="https://elsewhere.example/2"),
        item(3, url="javascript:alert(1)", external_url="https://elsewhere.example/3"),
        item(4, url="mailto:desk@rudaw.net"),
    )
    links = [draft.link for draft in parse(body).entries]
    assert links == [
        "https://www.rudaw.net/1",
        "https://elsewhere.example/2",
        "https://elsewhere.example/3",
        None,
    ]


@pytest.mark.parametrize(
    ("members", "base"),
    [
        (
            {
                "home_page_url": "https://www.rudaw.net/english/",
                "feed_url": "https://cdn.x/f.json",
            },
            "https://www.rudaw.net/english/",
        ),
        (
            {"feed_url": "https://feeds.rudaw.net/english/all.json"},
            "https://feeds.rudaw.net/english/",
        ),
        # A relative home page resolves against the URL fetched, and so do the items.
        ({"home_page_url": "/kurdish/"}, "https://www.rudaw.net/kurdish/"),
        ({"home_page_url": "javascript:void(0)"}, "https://www.rudaw.net/english/"),
        ({}, "https://www.rudaw.net/english/"),
    ],
)
def test_relative_urls_resolve_against_the_home_page_else_the_feed_url(
    members: dict[str, Any], base: str
) -> None:
    body = document(
        item(1, url="news/1", image="img/1.jpg"),
        item(2, url="/news/2", id=None, banner_image="//cdn.rudaw.net/2.jpg"),
        **members,
    )
    first, second = parse(body).entries
    assert (first.link, first.image_url) == (f"{base}news/1", f"{base}img/1.jpg")
    root = base.split("/", 3)
    assert second.link == f"{root[0]}//{root[2]}/news/2"
    assert second.image_url == "https://cdn.rudaw.net/2.jpg"
    # Without an id, the canonical link is the identity (news.story_identity).
    assert second.identity == f"link:{root[0]}//{root[2]}/news/2"


def test_the_picture_is_image_then_banner_then_an_attached_image_then_inline() -> None:
    body = document(
        item(1, image="https://x.example/i.jpg", banner_image="https://x.example/b.jpg"),
        item(2, banner_image="https://x.example/b.jpg"),
        item(
            3,
            attachments=[
                {"url": "https://x.example/a.mp3", "mime_type": "audio/mpeg"},
                {"url": "https://x.example/a.png", "mime_type": "image/png"},
            ],
            content_html='<img src="https://x.example/inline.jpg">',
        ),
        item(4, content_html='<p><img src="https://x.example/inline.jpg"> Text</p>'),
        item(5, image="ftp://x.example/no.jpg", attachments="not a list"),
    )
    images = [draft.image_url for draft in parse(body).entries]
    assert images == [
        "https://x.example/i.jpg",
        "https://x.example/b.jpg",
        "https://x.example/a.png",
        "https://x.example/inline.jpg",
        None,
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-01T09:30:00+03:00", datetime(2026, 3, 1, 6, 30, tzinfo=UTC)),
        ("2026-02-16T00:00:00.000Z", datetime(2026, 2, 16, tzinfo=UTC)),
        ("2026-02-16t10:00:00.123456789z", datetime(2026, 2, 16, 10, tzinfo=UTC)),
        ("2026-02-16T10:00:00-0500", datetime(2026, 2, 16, 15, tzinfo=UTC)),
        ("2026-02-16", datetime(2026, 2, 16, tzinfo=UTC)),
        ("2026-02-16T10:00:00", datetime(2026, 2, 16, 10, tzinfo=UTC)),  # no zone: UTC
        ("Mon, 16 Feb 2026 10:00:00 +0100", datetime(2026, 2, 16, 9, tzinfo=UTC)),  # RFC 822
        ("2027-06-01T00:00:00Z", NOW),  # in the future: now, as for RSS
        ("1970-01-01T00:00:00Z", None),  # a placeholder, not a date
        ("0001-01-01T00:00:00+01:00", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_dates_are_rfc_3339_in_utc(raw: str, expected: datetime | None) -> None:
    assert only(parse(document(item(1, date_published=raw)))).published_at == expected


def test_a_date_of_the_wrong_type_is_no_date_and_modified_stands_in() -> None:
    body = document(item(1, date_published=1772366400, date_modified="2026-02-01T00:00:00Z"))
    assert only(parse(body)).published_at == datetime(2026, 2, 1, tzinfo=UTC)


def test_tags_and_languages() -> None:
    body = document(
        item(1, tags=["Kurdistan", 7, "", "Peshmerga"], language="ckb"),
        item(2, tags="Kurdistan"),  # not a list: no categories, the item stays
        item(3, language="ku-Arab-IQ"),
        language="en-US",
    )
    drafts = parse(body).entries
    assert [d.categories for d in drafts] == [("Kurdistan", "Peshmerga"), (), ()]
    assert [d.language for d in drafts] == ["ckb", "en", "ckb"]


def test_values_of_the_wrong_type_are_ignored_not_fatal() -> None:
    body = document(
        item(1, authors="Rudaw", author=["x"], image=["x"], summary={"a": 1}, id=None),
        title=["not", "a", "title"],
        home_page_url=7,
        language=None,
    )
    feed = parse(body)
    draft = only(feed)
    assert (feed.title, feed.link, feed.language) == (None, None, None)
    assert (draft.title, draft.author, draft.image_url, draft.summary) == (
        "Story 1",
        None,
        None,
        "",
    )
    assert draft.identity == "link:https://www.rudaw.net/english/kurdistan/1"


# --- the same identity rules and limits as RSS ----------------------------------------------


def test_the_same_item_repeated_is_kept_once_and_link_only_items_get_link_identities() -> None:
    body = document(
        item(1),
        item(1, title="The same id again"),
        item(2, id=None),
        item(3, id=None, url=None, external_url=None, content_text="Only text"),
    )
    drafts = parse(body).entries
    assert [d.identity for d in drafts] == [
        "guid:rudaw-1",
        "link:https://www.rudaw.net/english/kurdistan/2",
        hashed_identity("Story 3"),
    ]


def test_an_id_given_to_items_on_different_pages_is_no_guid() -> None:
    # As for RSS (news.story_identity): a CMS that repeats one id on every item has none.
    body = document(item(1, id="same"), item(2, id="same"))
    assert [d.identity for d in parse(body).entries] == [
        "link:https://www.rudaw.net/english/kurdistan/1",
        "link:https://www.rudaw.net/english/kurdistan/2",
    ]


def test_feed_max_items_keeps_the_newest_in_document_order() -> None:
    # Hours ago: 5, 1, 4, undated (counts as now), 3.
    body = document(item(5), item(1), item(4), item(9, date_published=None), item(3))
    feed = parse(body, max_items=3)
    assert [d.guid for d in feed.entries] == ["rudaw-1", "rudaw-9", "rudaw-3"]
    assert feed.item_count == 5


def test_an_rss_feed_and_its_json_feed_give_the_same_drafts() -> None:
    items = [
        Item(
            "Peshmerga & coalition meet",
            "https://www.rudaw.net/english/kurdistan/1",
            guid="rudaw-1",
            description="<p>Talks in <b>Erbil</b></p>",
            categories=["Kurdistan"],
            published=NOW - timedelta(hours=1),
        ),
        Item("No guid here", "https://www.rudaw.net/english/world/2", categories=["World"]),
    ]
    from_rss = parse_feed(rss(items).encode(), url=URL, now=NOW)
    from_json = parse_feed(json_feed(items).encode(), url=URL, now=NOW)
    assert from_json.entries == from_rss.entries
    assert (from_json.title, from_json.language) == (from_rss.title, from_rss.language)


# --- detection and encoding -----------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/feed+json",
        "application/feed+json; charset=utf-8",
        "application/json",
        "text/plain",
        "text/html; charset=iso-8859-1",  # JSON is UTF-8 whatever the label says
        "application/rss+xml",
        None,
    ],
)
def test_a_json_feed_is_recognised_by_its_type_or_its_first_byte(content_type: str | None) -> None:
    body = b"\xef\xbb\xbf \n\t" + document(item(1, title="Kurdistan’s news: ههولێر"))
    feed = parse(body, content_type=content_type)
    assert only(feed).title == "Kurdistan’s news: ههولێر"


def test_rss_served_as_json_is_still_read_as_rss() -> None:
    body = rss([Item("Served with the wrong type", "https://www.rudaw.net/english/1")])
    feed = parse(b"\n" + body.encode(), content_type="application/json")
    assert only(feed).title == "Served with the wrong type"


def test_invalid_utf8_bytes_cost_only_themselves_and_are_counted() -> None:
    body = document(item(1, title="هەولێر |", summary="کوردستان |"))
    broken = body.replace(b"|", b"\xff\xfe")
    feed = parse(broken, content_type="application/feed+json; charset=windows-1252")
    assert feed.replaced_bytes == 4
    # Each invalid byte is one U+FFFD (no charset label makes JSON anything but UTF-8).
    assert (only(feed).title, only(feed).summary) == (
        "هەولێر \ufffd\ufffd",
        "کوردستان \ufffd\ufffd",
    )
    # U+FFFD already in the document is a character, not a replacement.
    assert parse(document(item(1, title="\ufffd"))).replaced_bytes == 0


# --- documents that are not feeds, and malformed ones ---------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
            JSON_FEED_TYPE,
            "malformed JSON (Expecting value: line 1 column 59 (char 58))",
        ),
        (b"{'single': 'quotes'}", None, "malformed JSON (Expecting property name enclosed"),
        (b"not json at all", "application/feed+json", "malformed JSON (Expecting value"),
        (b"[" * 100_000 + b"]" * 100_000, None, "malformed JSON (nested too deeply)"),
        (
            b'{"version": "https://jsonfeed.org/version/1", "items": [{"id": '
            + b"9" * 5000
            + b"}]}",
            None,
            "malformed JSON (Exceeds the limit (4300 digits) for integer string conversion",
        ),
        (b'[{"version": "https://jsonfeed.org/version/1"}]', None, "JSON list, not a JSON Feed"),
        (b'"https://jsonfeed.org/version/1"', "application/json", "JSON str, not a JSON Feed"),
        (
            b'{"status": "ok", "items": []}',
            "application/json",
            "JSON document, not a JSON Feed (no https://jsonfeed.org/version/ version)",
        ),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', None, "JSON Feed without an items"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": {"id": "1"}}',
            None,
            "JSON Feed without an items list",
        ),
    ],
)
def test_documents_that_are_not_json_feeds_are_not_feeds(
    body: bytes, content_type: str | None, reason: str
) -> None:
    with pytest.raises(NotAFeedError) as caught:
        parse(body, content_type=content_type)
    assert caught.value.reason.startswith(reason)
    assert len(caught.value.reason) <= 200


def test_a_server_that_says_feed_json_vouches_for_a_feed_without_a_version() -> None:
    body = json.dumps({"title": "Versionless", "items": [item(1)]}).encode()
    feed = parse(body, content_type="application/feed+json")
    assert (feed.bozo, feed.bozo_reason, len(feed.entries)) == (True, "no JSON Feed version", 1)
    with pytest.raises(NotAFeedError, match="not a JSON Feed"):
        parse(body, content_type="application/json")


def test_items_that_are_not_objects_are_skipped_and_the_feed_is_malformed_but_usable() -> None:
    feed = parse(document(item(1), "a string", None, [item(2)], item(3)))
    assert [d.guid for d in feed.entries] == ["rudaw-1", "rudaw-3"]
    assert (feed.bozo, feed.bozo_reason) == (True, "3 of 5 items are not JSON objects")


def test_an_empty_json_feed_is_a_feed_without_items() -> None:
    feed = parse(document())
    assert (feed.entries, feed.item_count, feed.bozo) == ((), 0, False)


async def test_a_big_json_feed_parses_the_same_in_the_child_process() -> None:
    items = [item(n, content_html=f"<p>{'Long paragraph. ' * 60}</p>") for n in range(1, 1200)]
    body = document(*items)
    assert len(body) >= CHILD_PROCESS_BYTES
    options: dict[str, Any] = {"url": URL, "content_type": JSON_FEED_TYPE, "now": NOW}
    in_child = await parse_in_child_process(body, max_items=1000, **options)
    assert in_child == parse_feed(body, max_items=1000, **options)
    assert (len(in_child.entries), in_child.item_count) == (1000, 1199)
    with pytest.raises(NotAFeedError, match="malformed JSON"):
        await parse_in_child_process(body[:-1], max_items=1000, **options)


# --- the shared corpus's real JSON Feed -----------------------------------------------------


def shared_json_feed() -> bytes:
    path = SHARED_FEEDS / "humanwhocodes.json"
    if not path.is_file():
        pytest.skip(ABSENT_REASON)
    return path.read_bytes()


def test_the_corpus_json_feed_matches_its_source_field_by_field() -> None:
    body = shared_json_feed()
    source = json.loads(body)
    feed = parse_feed(
        body, url="https://humanwhocodes.com/feeds/all.json", content_type=None, now=NOW
    )
    assert (feed.title, feed.link, feed.bozo) == (
        "Human Who Codes",
        "https://humanwhocodes.com/",
        False,
    )
    assert len(feed.entries) == len(source["items"]) == 10
    for draft, raw in zip(feed.entries, source["items"], strict=True):
        assert draft.title == raw["title"]
        assert draft.link == raw["url"]
        assert draft.guid == raw["id"]
        assert draft.identity == f"guid:{raw['id']}"
        assert draft.summary == raw["summary"]
        assert draft.categories == tuple(raw["tags"])
        assert draft.author == raw["author"]["name"] == "Nicholas C. Zakas"
        published = datetime.fromisoformat(raw["date_published"])
        assert draft.published_at == published
        assert draft.published_at.tzinfo is UTC


def test_the_corpus_json_feed_without_summaries_shows_its_escaped_html_as_text() -> None:
    # Its content_html is entity-escaped HTML ("&lt;p&gt;&lt;a href=…"): the summary must be
    # the article's words, not markup.
    source = json.loads(shared_json_feed())
    for raw in source["items"]:
        del raw["summary"]
    feed = parse(json.dumps(source).encode())
    assert len(feed.entries) == 10
    for draft in feed.entries:
        assert draft.summary
        assert "<" not in draft.summary and "&lt;" not in draft.summary, draft.summary
    assert feed.entries[0].summary.startswith("Supabase uses JWT signing keys")


# --- ingestion ------------------------------------------------------------------------------


@pytest.fixture
async def feed_http() -> AsyncIterator[aiohttp.ClientSession]:
    """The feeds' HTTP session, as the bot makes it (address guard, gzip)."""
    session = create_feed_session("newsbot-tests/1.0", concurrency=4)
    try:
        yield session
    finally:
        await session.close()


def poller_for(
    sessions: SessionFactory, http: aiohttp.ClientSession, clock: list[datetime], **options: Any
) -> FeedPoller:
    values: dict[str, Any] = {
        "interval": 60.0,
        "max_backoff": 600.0,
        "push_max_age": 6 * 3600.0,
        "fetch_timeout": 5.0,
        "max_bytes": 1_000_000,
    }
    values.update(options)
    return FeedPoller(sessions, http, PollSettings(**values), clock=lambda: clock[0])


async def add_feed(sessions: SessionFactory, url: str) -> int:
    async with writing(sessions) as session:
        [feed] = await feed_store.register_feeds(session, [(url, "kurdistan", "en")], NOW)
    return feed.id


def outlet_items(count: int, start: int = 1) -> list[Item]:
    return [
        Item(
            f"Story {n}",
            f"https://www.rudaw.net/english/kurdistan/{n}",
            guid=f"rudaw-{n}",
            description=f"<p>About story {n}</p>",
            categories=["Kurdistan"],
            published=NOW - timedelta(minutes=10 * n),
        )
        for n in range(start, start + count)
    ]


async def test_a_json_feed_is_polled_stored_and_its_new_items_are_news(
    sessions: SessionFactory, feed_http: aiohttp.ClientSession, feed_server: FeedServer
) -> None:
    feed_server.serve("/feed.json", json_feed(outlet_items(3)), content_type=JSON_FEED_TYPE)
    feed_id = await add_feed(sessions, feed_server.url("/feed.json"))
    clock = [NOW]
    poller = poller_for(sessions, feed_http, clock)

    first = await poller.poll(feed_id)
    assert first.status == "ok"
    assert sorted(s.title for s in first.outcome.backlog) == ["Story 1", "Story 2", "Story 3"]
    _, headers = feed_server.requests[-1]
    assert "application/feed+json" in headers["Accept"]

    clock[0] += timedelta(minutes=1)
    fresh = Item(
        "Dukan dam levels rise",
        "https://www.rudaw.net/english/kurdistan/99",
        guid="rudaw-99",
        description="<p>Water <b>levels</b> rise</p>",
        published=NOW,
    )
    feed_server.serve(
        "/feed.json", json_feed([fresh, *outlet_items(3)]), content_type=JSON_FEED_TYPE
    )
    second = await poller.poll(feed_id)
    assert [(s.title, s.summary, s.link) for s in second.outcome.new] == [
        (
            "Dukan dam levels rise",
            "Water levels rise",
            "https://www.rudaw.net/english/kurdistan/99",
        )
    ]
    clock[0] += timedelta(minutes=1)
    assert (await poller.poll(feed_id)).status == "not-modified"
    async with sessions() as session:
        latest = await story_store.latest_stories(session, limit=10, section="kurdistan")
        feed = await feed_store.get_feed(session, feed_id)
    assert [s.title for s in latest][:2] == ["Dukan dam levels rise", "Story 1"]
    assert feed is not None and feed.title == "Rudaw English"


async def test_an_outlet_moving_from_rss_to_json_feed_pushes_nothing_again(
    sessions: SessionFactory, feed_http: aiohttp.ClientSession, feed_server: FeedServer
) -> None:
    # The same ids and links in the other format are the same stories (news.story_identity).
    items = outlet_items(4)
    items.append(Item("No guid", "https://www.rudaw.net/english/world/5", published=NOW))
    feed_server.serve("/feed", rss(items), etag=False, last_modified=False)
    feed_id = await add_feed(sessions, feed_server.url("/feed"))
    clock = [NOW]
    poller = poller_for(sessions, feed_http, clock)
    assert len((await poller.poll(feed_id)).outcome.backlog) == 5

    feed_server.serve("/feed", json_feed(items), content_type=JSON_FEED_TYPE, etag=False)
    clock[0] += timedelta(minutes=1)
    report = await poller.poll(feed_id)
    assert (report.status, report.outcome.new, report.outcome.updated) == ("ok", (), ())
    assert report.outcome.unchanged == 5


async def test_a_broken_json_feed_fails_the_poll_with_a_clear_reason(
    sessions: SessionFactory, feed_http: aiohttp.ClientSession, feed_server: FeedServer
) -> None:
    feed_server.serve(
        "/feed.json",
        b'{"version": "https://jsonfeed.org/version/1.1", "items": [{',
        content_type=JSON_FEED_TYPE,
    )
    feed_server.serve("/big.json", json_feed(outlet_items(50)), content_type=JSON_FEED_TYPE)
    broken = await add_feed(sessions, feed_server.url("/feed.json"))
    big = await add_feed(sessions, feed_server.url("/big.json"))
    poller = poller_for(sessions, feed_http, [NOW], max_bytes=2_000)

    report = await poller.poll(broken)
    assert report.status == "failed"
    assert report.error is not None
    assert report.error.startswith("not a feed: malformed JSON (Expecting property name")
    oversized = await poller.poll(big)
    assert oversized.status == "failed"
    assert (
        oversized.error
        == f"feed larger than 2000 bytes ({len(json_feed(outlet_items(50)).encode())})"
    )
    async with sessions() as session:
        feed = await feed_store.get_feed(session, broken)
    assert feed is not None
    assert (feed.consecutive_failures, feed.last_error) == (1, report.error)


# --- newsbot check --------------------------------------------------------------------------


@pytest.mark.usefixtures("restore_logging")
async def test_newsbot_check_reports_a_json_feed_as_ok(
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    feed_server.serve("/feed.json", json_feed(outlet_items(2)), content_type=JSON_FEED_TYPE)
    feed_server.serve("/api.json", b'{"status": "ok"}', content_type="application/json")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'check.db'}")
    monkeypatch.setenv("FEEDS", f"{feed_server.url('/feed.json')},{feed_server.url('/api.json')}")

    assert await asyncio.to_thread(main, ["check"]) == 1  # the API answer is no feed
    out = capsys.readouterr().out.splitlines()
    assert f"Feed {feed_server.url('/feed.json')}: OK — 'Rudaw English': 2 items" in out
    assert (
        f"Feed {feed_server.url('/api.json')}: FAILED — not a feed: JSON document, not a JSON "
        "Feed (no https://jsonfeed.org/version/ version)"
    ) in out
