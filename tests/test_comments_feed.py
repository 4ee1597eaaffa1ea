"""COMMENTS_FEED_URL: a WordPress-style comments feed polled into the inbox (conditional
requests; an item seen again is a repeat), and the pure reading of items and events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from jobs.clients.feeds import create_feed_session
from jobs.comments_feed import CommentsFeed, CommentsFeedSettings
from jobs.outlet_inbox import InboxSettings, OutletInbox
from news.outlet_events import MalformedEvent, plain_comment, read_envelope, read_published
from storage.engine import SessionFactory
from storage.models import PublishedComment
from tests.auxil.feed_server import FeedServer
from tests.auxil.stored_items import add_feed, draft, store

STORY = "https://example.org/news/erbil"
FEED = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Comments</title><link>https://example.org</link>
<item><title>Comment on Erbil by ئاراس</title><link>{STORY}/#comment-5</link>
<dc:creator>ئاراس</dc:creator><guid isPermaLink="false">https://example.org/?p=1#comment-5</guid>
<pubDate>Wed, 25 Nov 2026 10:00:00 +0000</pubDate>
<description><![CDATA[<p>باشە</p><p>Second line &amp; more</p>]]></description></item>
<item><title>Comment on Other by Jo</title><link>https://example.org/news/other/#comment-6</link>
<dc:creator>Jo</dc:creator><guid isPermaLink="false">c6</guid>
<pubDate>Wed, 25 Nov 2026 10:05:00 +0000</pubDate><description>Hi</description></item>
</channel></rss>"""


async def test_feed_items_become_published_comments_once(
    sessions: SessionFactory, feed_server: FeedServer
) -> None:
    feed_id = await add_feed(sessions, "https://example.org/rss")
    await store(sessions, feed_id, [(draft("erbil", link=STORY), [])], announce=False)
    feed_server.serve("/comments/feed", FEED, content_type="application/rss+xml")
    box = OutletInbox(sessions, InboxSettings())
    http_feed = CommentsFeed(
        sessions,
        create_feed_session("newsbot-test", concurrency=2),
        CommentsFeedSettings(url=feed_server.url("/comments/feed")),
        box,
    )
    try:
        assert await http_feed.poll_once() == 2
        assert await http_feed.poll_once() == 0  # not due yet
        assert await http_feed.poll_once(force=True) == 0  # a 304, or the same items again
    finally:
        await http_feed._http.close()
    await box.process_due()
    async with sessions() as session:
        rows = (await session.exec(select(PublishedComment))).all()
    # The comment on a story the bot has is shown; the other waits for its story.
    assert [(r.author, r.text, r.url) for r in rows] == [
        # Feed parsing makes one line of the summary and drops an insignificant fragment.
        ("ئاراس", "باشە Second line & more", f"{STORY}/")
    ]
    assert rows[0].published_at == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    headers = [h for p, h in feed_server.requests if p == "/comments/feed"]
    assert len(headers) == 2 and (
        "If-None-Match" in headers[1] or "If-Modified-Since" in headers[1]
    )


def test_events_are_read_strictly_and_made_plain() -> None:
    envelope = read_envelope(
        b'{"type": "comment.published", "data": {"id": 7, "story": {"guid": "g1"},'
        b' "author": {"name": " \\u202eRTL\\u202c name "}, "text": "a\\u0000b\\n\\n\\nc"}}'
    )
    event = read_published(envelope.data)
    assert (event.id, event.story.guid, event.author, event.text) == (
        "7",
        "g1",
        "RTL name",
        "ab\n\nc",
    )
    for bad in (b"\xff", b"null", b'{"type": 3}', b'{"type": "x", "data": []}'):
        with pytest.raises(MalformedEvent):
            read_envelope(bad)
    assert plain_comment("<b>bold</b> &amp; <script>x</script>text") == "bold & text"
