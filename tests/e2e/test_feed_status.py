"""/stats after conditional polls: a feed whose server answers 304 Not Modified was polled
successfully, and /stats says so (issue 19: "last success 3 minutes ago" for a feed polled
every 2 s)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client.core import REGISTRY
from sqlalchemy import update
from sqlmodel import col

from bot.deps import DEPS_KEY
from news.clock import utcnow
from storage.engine import writing
from storage.models import Feed
from tests.auxil.conversation import ask
from tests.auxil.feed_server import FeedServer
from tests.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.e2e


def not_modified_polls() -> float:
    """How many polls this process has seen answered 304 (the metric counts finished polls)."""
    value = REGISTRY.get_sample_value("newsbot_feed_polls_total", {"result": "not-modified"})
    return value or 0.0


async def test_stats_counts_a_304_as_the_feeds_last_success(
    start_bot: Callable[..., AbstractAsyncContextManager[Any]],
    fake_api: FakeBotApi,
    outlet: FeedServer,
) -> None:
    editor = fake_api.add_user("Editor")
    polls_before = not_modified_polls()
    async with start_bot(admin_ids=str(editor.id)) as app:
        services = app.bot_data[DEPS_KEY].services
        [feed] = services.feeds
        # The scheduled first poll (a moment after start, or after election on PostgreSQL)
        # would refresh the success this test backdates: let it finish first (a 304).
        deadline = asyncio.get_running_loop().time() + 10
        while not_modified_polls() < polls_before + 1:
            assert asyncio.get_running_loop().time() < deadline, "no scheduled poll"
            await asyncio.sleep(0.02)
        # The last 200 was three minutes ago; every poll since has been answered 304.
        async with writing(services.sessions) as session:
            await session.exec(
                update(Feed)
                .where(col(Feed.id) == feed.id)
                .values(last_success_at=utcnow() - timedelta(minutes=3))
            )
        before = (await ask(fake_api, editor, "/stats")).text or ""
        assert "/english/rss — last success 3 minutes ago" in before

        report = await services.poller.poll(feed.id)
        assert report.status == "not-modified"
        _, headers = outlet.requests[-1]
        assert "If-None-Match" in headers

        after = (await ask(fake_api, editor, "/stats")).text or ""
        assert "/english/rss — last success just now" in after
        assert "failure" not in after
