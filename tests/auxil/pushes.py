"""The outlet publishes a story and the bot polls at once; what reached a chat as a push."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.deps import DEPS_KEY
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import Item, rss
from tests.fake_bot_api import FakeBotApi, StoredMessage


def new_item(n: int, title: str, category: str = "Kurdistan", **kw: Any) -> Item:
    """A story published a minute ago (number ``n``: its link and guid)."""
    return Item(
        title=title,
        link=f"https://www.rudaw.net/english/news/{n}",
        guid=f"new-{n}",
        description=kw.pop("description", f"Summary {n}"),
        categories=[category],
        published=datetime.now(UTC) - timedelta(minutes=1),
        **kw,
    )


async def publish(app: Any, outlet: FeedServer, items: list[Item], *extra: Item) -> None:
    """The outlet adds ``extra`` to its feed; the bot polls it now."""
    items[:0] = list(extra)
    outlet.serve("/english/rss", rss(items))
    services = app.bot_data[DEPS_KEY].services
    for feed in services.feeds:
        await services.poller.poll(feed.id)


def pushes(api: FakeBotApi, chat: Any, title: str) -> list[StoredMessage]:
    """The bot's messages in ``chat`` that carry ``title``."""
    return [m for m in api.sent(chat) if title in (m.text or "")]
