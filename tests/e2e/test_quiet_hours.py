"""Quiet hours end when the reader says so: what they held arrives at once, grouped."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.auxil.app_storage import deliveries
from tests.auxil.conversation import ask
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import Item
from tests.auxil.pushes import new_item, publish, pushes
from tests.auxil.waiting import eventually
from tests.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.e2e

StartBot = Callable[..., AbstractAsyncContextManager[Any]]
BAGHDAD = ZoneInfo("Asia/Baghdad")  # the readers' default zone in these tests


def hours_around_now(before: int, after: int) -> str:
    """A /quiet argument whose window holds the present moment, in Baghdad time."""
    now = datetime.now(BAGHDAD)
    return f"{now - timedelta(hours=before):%H:%M}-{now + timedelta(hours=after):%H:%M}"


async def held(app: Any, chat_id: int) -> list[Any]:
    now = datetime.now(UTC)
    return [
        d
        for d in await deliveries(app)
        if d.chat_id == chat_id and d.status == "pending" and d.not_before and d.not_before > now
    ]


async def quiet_reader(api: FakeBotApi, reader: Any, hours: str) -> None:
    """The reader subscribes, with quiet hours ``hours``."""
    await ask(api, reader, "/subscribe")
    await ask(api, reader, f"/quiet {hours}")


async def test_quiet_off_releases_what_quiet_hours_held_in_one_message(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    reader = fake_api.add_user("Night", "Owl")
    async with start_bot() as app:
        await quiet_reader(fake_api, reader, hours_around_now(1, 2))
        first, second = new_item(601, "Night story one"), new_item(602, "Night story two")
        await publish(app, outlet, outlet_items, first, second)
        await eventually(lambda: _count_is(held(app, reader.id), 2))
        assert pushes(fake_api, reader, "Night story") == []

        before = len(fake_api.sent(reader))
        answer = await ask(fake_api, reader, "/quiet off")
        assert answer.text == (
            "🔔 Quiet hours are off: pushes arrive at any hour. What they held arrives now."
        )
        arrived = (await fake_api.wait_for_messages(reader, before + 2))[before + 1]
        # Both held stories in one grouped message, as several waiting stories always are.
        assert "Night story one" in (arrived.text or "")
        assert "Night story two" in (arrived.text or "")
        assert await held(app, reader.id) == []


async def test_new_quiet_hours_that_no_longer_cover_now_release_the_held_pushes(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    reader = fake_api.add_user("Early", "Riser")
    async with start_bot() as app:
        await quiet_reader(fake_api, reader, hours_around_now(1, 2))
        story = new_item(611, "Held until the new window")
        await publish(app, outlet, outlet_items, story)
        await eventually(lambda: _count_is(held(app, reader.id), 1))
        # Still quiet now, but ending later: the push waits for the new end.
        await ask(fake_api, reader, f"/quiet {hours_around_now(1, 5)}")
        [still] = await held(app, reader.id)
        assert still.not_before is not None
        assert still.not_before > datetime.now(UTC) + timedelta(hours=4)
        assert pushes(fake_api, reader, story.title) == []
        # Hours that end before now: nothing is held any more.
        now = datetime.now(BAGHDAD)
        earlier = f"{now - timedelta(hours=4):%H:%M}-{now - timedelta(hours=2):%H:%M}"
        answer = await ask(fake_api, reader, f"/quiet {earlier}")
        assert (answer.text or "").endswith("What they held arrives now.")
        await fake_api.wait_for(lambda: bool(pushes(fake_api, reader, story.title)))


async def _count_is(rows: Any, count: int) -> bool:
    return len(await rows) == count
