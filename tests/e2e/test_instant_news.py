"""The outlet says "published" (story.published on /hooks/outlet): the real Application,
the fake Bot API and a local outlet; every refusal, the story pushed at once, the feed's
copy of it neither a second story nor a second push (and its correction an edit), and a
link-only event that polls the edition's feeds past a stale CDN."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlmodel import col, func, select

from bot.deps import DEPS_KEY
from storage.models import Story
from tests.auxil.conversation import ask
from tests.auxil.feed_server import FeedServer, Reply
from tests.auxil.feeds import Item, rss
from tests.auxil.hooks import HOOKS_SECRET, send_event
from tests.auxil.ports import free_port
from tests.auxil.pushes import new_item, publish, pushes
from tests.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.e2e

StartBot = Callable[..., AbstractAsyncContextManager[Any]]
STORY = "story.published"


async def stories_at(app: Any, link: str) -> int:
    async with app.bot_data[DEPS_KEY].services.sessions() as session:
        statement = select(func.count()).select_from(Story).where(col(Story.link) == link)
        return int((await session.exec(statement)).one())


def event_of(item: Item, **extra: Any) -> dict[str, Any]:
    """The outlet's story.published for a feed item (no guid: the outlet may not know it)."""
    assert item.published is not None
    data: dict[str, Any] = {
        "link": item.link,
        "title": item.title,
        "summary": item.description,
        "published_at": item.published.isoformat(),
        "sections": item.categories,
    }
    data.update(extra)
    return data


async def test_every_refusal_stores_nothing_and_a_replay_pushes_once(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    reader = fake_api.add_user("Reader")
    port = free_port()
    async with start_bot(hooks_port=port, outlet_hooks_secret=HOOKS_SECRET) as app:
        await ask(fake_api, reader, "/subscribe")
        link = "https://www.rudaw.net/english/news/900"
        good = {"link": link, "title": "Erbil airport reopens", "published_at": None}

        other = "whsec_" + "b3RoZXIta2V5LW9mLXNvbWVvbmUtZWxzZQ=="
        assert (await send_event(port, STORY, good, secret=other))[0] == 401
        stale = datetime.now(UTC) - timedelta(minutes=10)
        assert (await send_event(port, STORY, good, when=stale))[0] == 401
        malformed: list[tuple[dict[str, Any], str]] = [
            ({"title": "No link"}, "'data.link' is missing"),
            ({"link": link, "summary": "A teaser but no title"}, "'data.title' is missing"),
            ({"link": link, "title": "   "}, "'data.title'"),
            ({"link": "ftp://www.rudaw.net/x", "title": "t"}, "http(s) URL"),
            ({"link": "javascript:alert(1)", "title": "t"}, "http(s) URL"),
            ({"link": link, "title": "t", "edition": "xx"}, "not served here"),
            ({"link": link, "title": "t", "edition": "E N!"}, "edition code"),
            ({"link": link, "title": "t" * 1001}, "longer than 1000"),
            ({"link": link + "/" + "a" * 2000, "title": "t"}, "longer than 2000"),
            ({"link": link, "title": "t", "summary": "s" * 50_001}, "longer than 50000"),
            ({"link": link, "title": "t", "sections": ["x"] * 21}, "more than 20"),
            ({"link": link, "title": "t", "breaking": "yes"}, "true or false"),
            ({"link": link, "title": "t", "image_url": "file:///etc/passwd"}, "http(s) URL"),
            ({"link": link, "title": "t", "published_at": "yesterday"}, "ISO 8601"),
        ]
        for data, reason in malformed:
            status, answer = await send_event(port, STORY, data)
            assert (status, reason in answer["error"]) == (400, True), (data, answer)
        huge = {"link": link, "title": "t", "summary": "s" * 300_000}
        assert (await send_event(port, STORY, huge))[0] == 413
        assert await stories_at(app, link) == 0

        # The same event twice (a retry with the same webhook-id) is one story, one push.
        assert (await send_event(port, STORY, good, message_id="msg_once"))[0] == 200
        status, answer = await send_event(port, STORY, good, message_id="msg_once")
        assert (status, answer["result"]) == (200, "repeat")
        await fake_api.wait_for(lambda: pushes(fake_api, reader, "Erbil airport reopens"))
        # A new webhook-id for the same story (the outlet sent it again) changes nothing.
        assert (await send_event(port, STORY, good))[0] == 200
        await _settle(app)
        assert await stories_at(app, link) == 1
        assert len(pushes(fake_api, reader, "Erbil airport reopens")) == 1


async def test_an_event_is_pushed_at_once_and_the_feed_copy_is_the_same_story(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    reader = fake_api.add_user("Reader")
    kurdistan = fake_api.add_user("Kurdistan reader")
    port = free_port()
    async with start_bot(hooks_port=port, outlet_hooks_secret=HOOKS_SECRET) as app:
        await ask(fake_api, reader, "/subscribe")
        await ask(fake_api, kurdistan, "/subscribe kurdistan")
        item = new_item(901, "Erbil airport reopens to flights")
        # POLL_INTERVAL is an hour here: a push can only come from the event.
        assert (await send_event(port, STORY, event_of(item)))[0] == 200
        for user in (reader, kurdistan):
            await fake_api.wait_for(lambda u=user: pushes(fake_api, u, "Erbil airport reopens"))
        (pushed,) = pushes(fake_api, reader, "Erbil airport reopens")

        # The feed now carries it (with its guid): no second story, no second push.
        await publish(app, outlet, outlet_items, item)
        await publish(app, outlet, outlet_items)
        await _settle(app)
        assert await stories_at(app, item.link) == 1
        assert len(pushes(fake_api, reader, "Erbil airport reopens")) == 1
        assert len(pushes(fake_api, kurdistan, "Erbil airport reopens")) == 1

        # The feed's corrected headline edits the pushed message, like any correction.
        item.title = "Erbil airport reopens to all flights"
        await publish(app, outlet, outlet_items)
        await fake_api.wait_for(
            lambda: fake_api.message(reader.id, pushed.message_id).edit_count >= 1
        )
        edited = fake_api.message(reader.id, pushed.message_id)
        assert (edited.text or "").startswith("Erbil airport reopens to all flights")
        assert await stories_at(app, item.link) == 1


async def test_a_link_only_event_polls_the_edition_feeds_past_a_stale_cache(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    reader = fake_api.add_user("Reader")
    port = free_port()
    async with start_bot(hooks_port=port, outlet_hooks_secret=HOOKS_SECRET):
        await ask(fake_api, reader, "/subscribe")
        stale = rss(outlet_items).encode()
        item = new_item(902, "Dukan dam levels rise")
        outlet_items.insert(0, item)
        outlet.serve("/english/rss", rss(outlet_items))
        # A CDN in front still serves the old document (it cached it a moment ago): to the
        # event's first poll, and to the bot's own first timer poll if it comes meanwhile.
        cached = Reply(200, stale, {"Content-Type": "application/rss+xml"})
        outlet.script("/english/rss", cached, cached)
        before = outlet.hits("/english/rss")
        status, _ = await send_event(port, STORY, {"link": item.link})
        assert status == 200
        await fake_api.wait_for(lambda: pushes(fake_api, reader, "Dukan dam"), timeout=15)
        # The event's polls ask past the cache (a timer poll may fall in between and ask as
        # usual); after the stale answer a later one finds the story.
        polled = [h for p, h in outlet.requests[before:] if p == "/english/rss"]
        fresh = [h for h in polled if h.get("Cache-Control") == "no-cache"]
        assert len(fresh) >= 2 and all(h.get("Pragma") == "no-cache" for h in fresh)
        # A link-only event for an edition the bot does not serve is refused.
        status, answer = await send_event(port, STORY, {"link": item.link, "edition": "tr"})
        assert status == 400 and "not served" in answer["error"]


async def _settle(app: Any) -> None:
    """Give the inbox and the fan-out time to do anything more (nothing more should come)."""
    await asyncio.sleep(1.0)


# --- WebSub --------------------------------------------------------------------------------


async def _subscription(app: Any) -> Any:
    from storage import websub as websub_store

    async with app.bot_data[DEPS_KEY].services.sessions() as session:
        rows = await websub_store.subscriptions(session)
    return rows[0] if rows else None


async def test_websub_subscribe_verify_distribute_refuse_forgery_slow_polling_and_unsubscribe(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    from tests.auxil.hub import WebSubHub
    from tests.auxil.waiting import wait_until

    reader = fake_api.add_user("Reader")
    port = free_port()
    topic = outlet.url("/english/rss")
    async with WebSubHub(lease=3600) as hub:
        outlet.serve("/english/rss", rss(outlet_items, hub=hub.url, self_url=topic))
        settings = {
            "hooks_port": port,
            "outlet_hooks_secret": HOOKS_SECRET,
            "public_url": f"http://127.0.0.1:{port}",
            "poll_interval": 0.5,
            "websub_poll_interval": 3600,
        }
        async with start_bot(**settings) as app:
            await ask(fake_api, reader, "/subscribe")
            # Subscribed with a callback under PUBLIC_URL and a secret; verified by challenge.
            assert await wait_until(lambda: bool(hub.subscribers), 10)
            (request,) = hub.requests
            assert request.mode == "subscribe" and request.topic == topic
            assert request.callback.startswith(f"http://127.0.0.1:{port}/hooks/websub/")
            assert request.secret and len(request.secret) >= 32
            assert [v.challenge_echoed for v in hub.verified] == [True]
            subscription = await _subscription(app)
            assert subscription.state == "active" and subscription.lease_seconds == 3600

            # Healthy: the feed is polled every WEBSUB_POLL_INTERVAL, not every 0.5 s.
            await asyncio.sleep(0.6)
            hits = outlet.hits("/english/rss")
            await asyncio.sleep(2.0)
            assert outlet.hits("/english/rss") == hits

            # The hub pushes the feed with a new story: ingested and pushed at once.
            item = new_item(903, "Halabja memorial reopens")
            pushed_feed = rss([item, *outlet_items], hub=hub.url, self_url=topic).encode()
            # The outlet's own document does not hold it: a push can only come from the hub.
            assert await hub.publish(topic, pushed_feed) == [200]
            await fake_api.wait_for(lambda: pushes(fake_api, reader, "Halabja memorial"))

            # A forged distribution (wrong X-Hub-Signature) is refused and stores nothing.
            forged = new_item(904, "Forged story")
            forged_feed = rss([forged, item, *outlet_items]).encode()
            assert await hub.publish(topic, forged_feed, forge=True) == [403]
            assert await stories_at(app, forged.link) == 0
            # Nor is a callback that names no subscription anyone's way in.
            callback = request.callback.rsplit("/", 1)[0] + "/" + "x" * 32
            async with (
                aiohttp.ClientSession() as http,
                http.post(callback, data=forged_feed, headers={"X-Hub-Signature": "sha1=00"}) as r,
            ):
                assert r.status == 410
            # A verification the bot did not ask for is not agreed to.
            params = {"hub.mode": "subscribe", "hub.topic": "https://elsewhere.example/rss"}
            params["hub.challenge"], params["hub.lease_seconds"] = "c", "60"
            async with (
                aiohttp.ClientSession() as http,
                http.get(request.callback, params=params) as r,
            ):
                assert r.status == 404

        # The feed leaves FEEDS: the next start unsubscribes (and the hub verifies it).
        outlet.serve("/other/rss", rss([]))
        async with start_bot(**settings, feeds=outlet.url("/other/rss")) as app:
            assert await wait_until(lambda: not hub.subscribers, 10)
            assert [r.mode for r in hub.requests] == ["subscribe", "unsubscribe"]
            assert hub.verified[-1].mode == "unsubscribe" and hub.verified[-1].challenge_echoed
            assert await _subscription(app) is None


async def test_websub_lease_is_renewed_before_it_ends_and_polling_resumes_when_it_lapses(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    from tests.auxil.hub import WebSubHub
    from tests.auxil.waiting import wait_until

    port = free_port()
    topic = outlet.url("/english/rss")
    async with WebSubHub(lease=3) as hub:
        outlet.serve("/english/rss", rss(outlet_items, hub=hub.url, self_url=topic))
        async with start_bot(
            hooks_port=port,
            outlet_hooks_secret=HOOKS_SECRET,
            public_url=f"http://127.0.0.1:{port}",
            poll_interval=0.5,
            websub_poll_interval=3600,
        ):
            assert await wait_until(lambda: len(hub.verified) >= 1, 10)
            first = hub.verified[0]
            # Renewed (same callback) before the 3-second lease ends, and verified again.
            assert await wait_until(lambda: len(hub.verified) >= 2, 3)
            renewal = hub.requests[1]
            assert (renewal.mode, renewal.callback) == ("subscribe", first.callback)
            hits = outlet.hits("/english/rss")
            await asyncio.sleep(1.0)
            assert outlet.hits("/english/rss") <= hits + 1  # healthy: slow polling

            # The hub goes down: renewals fail, the lease lapses, polling is back to 0.5 s.
            hub.refuse = True
            assert await wait_until(lambda: outlet.hits("/english/rss") >= hits + 4, 8)
