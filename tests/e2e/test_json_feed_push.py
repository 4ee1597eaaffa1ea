"""A JSON Feed end to end: the outlet serves application/feed+json, the bot stores it, and a
new item reaches its subscribers through the fake Bot API exactly as an RSS item does."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.deps import DEPS_KEY
from tests.auxil.conversation import ask
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import Item
from tests.auxil.json_feeds import JSON_FEED_TYPE, json_feed
from tests.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.e2e

PATH = "/english/feed.json"


async def poll_now(app: Any) -> None:
    services = app.bot_data[DEPS_KEY].services
    for feed in services.feeds:
        await services.poller.poll(feed.id)


async def test_a_new_json_feed_item_is_pushed_to_its_subscribers_once(
    start_bot: Callable[..., AbstractAsyncContextManager[Any]],
    fake_api: FakeBotApi,
    outlet: FeedServer,
    outlet_items: list[Item],
) -> None:
    outlet.serve(PATH, json_feed(outlet_items), content_type=JSON_FEED_TYPE)
    kurdistan, world = fake_api.add_user("Kurdistan reader"), fake_api.add_user("World reader")
    async with start_bot(feeds=outlet.url(PATH)) as app:
        await ask(fake_api, kurdistan, "/subscribe kurdistan")
        await ask(fake_api, world, "/subscribe world")
        latest = await ask(fake_api, kurdistan, "/latest kurdistan")
        assert outlet_items[0].title in (latest.text or "")  # the baseline was stored

        fresh = Item(
            "Erbil airport reopens",
            "https://www.rudaw.net/english/kurdistan/json-1",
            guid="json-1",
            description="<p>Flights <b>resume</b><script>steal()</script></p>",
            categories=["Kurdistan"],
            published=datetime.now(UTC) - timedelta(minutes=1),
        )
        outlet.serve(PATH, json_feed([fresh, *outlet_items]), content_type=JSON_FEED_TYPE)
        await poll_now(app)

        def pushed() -> list[Any]:
            return [
                m for m in fake_api.sent(kurdistan) if "Erbil airport reopens" in (m.text or "")
            ]

        await fake_api.wait_for(pushed)
        [message] = pushed()
        assert message.link_preview_options == {
            "url": "https://www.rudaw.net/english/kurdistan/json-1"
        }
        assert "steal" not in (message.text or "")

        # Polled again (unchanged, then re-served), it is never pushed twice; the World
        # reader never gets it.
        await poll_now(app)
        outlet.serve(PATH, json_feed([fresh, *outlet_items]), content_type=JSON_FEED_TYPE)
        await poll_now(app)
        assert len(pushed()) == 1
        assert [m for m in fake_api.sent(world) if "Erbil airport" in (m.text or "")] == []
