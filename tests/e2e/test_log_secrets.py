"""No secret and no reader's text reaches a log line: a push, a relayed comment and a failing
feed at LOG_LEVEL=DEBUG, in both log formats, with every kind of secret configured."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.deps import DEPS_KEY
from bot.logs import configure_logging
from jobs.relay.pseudonyms import PSEUDONYM_KEY_STATE
from storage.models import BotState
from tests.auxil.app_storage import story_titled
from tests.auxil.conversation import ask, open_story, reply
from tests.auxil.feed_server import FeedServer, Reply
from tests.auxil.feeds import Item
from tests.auxil.outlet import CommentOutlet
from tests.auxil.pushes import new_item, publish, pushes
from tests.auxil.waiting import eventually
from tests.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.e2e

StartBot = Callable[..., AbstractAsyncContextManager[Any]]
COMMENTS_SECRET = "whsec_" + "bG9nLXRlc3Qtc2lnbmluZy1rZXktOTkx"  # base64 of a raw key
WEBHOOK_SECRET = "webhook-secret-5520"
FEED_PASSWORD = "feed-pass-7731"
FEED_KEY = "feedkey-4412"
DB_PASSWORD = "db-pass-3309"
COMMENT = "Erbil's new bridge is great news for Ainkawa 8842"


def with_password(url: str) -> str:
    """The same database with a password in its URL (the test server trusts any)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return url
    return parsed.set(password=DB_PASSWORD).render_as_string(hide_password=False)


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_no_secret_or_comment_text_in_any_log_line_at_debug(
    log_format: str,
    bot_settings: Callable[..., Any],
    start_bot: StartBot,
    fake_api: FakeBotApi,
    outlet: FeedServer,
    outlet_items: list[Item],
    database_url: str,
    log_stream: io.StringIO,
) -> None:
    # Credentials in feed URLs, as a partner's paywalled feed has them; one feed keeps failing.
    port = outlet.port
    feed = f"http://reader:{FEED_PASSWORD}@127.0.0.1:{port}/english/rss?api_key={FEED_KEY}"
    outlet.serve("/broken.rss", b"")
    outlet.script("/broken.rss", *[Reply(500, b"down")] * 5)
    broken = f"world=http://reader:{FEED_PASSWORD}@127.0.0.1:{port}/broken.rss"
    reader = fake_api.add_user("Shilan", "Ahmed", username="shilan_private_handle")
    async with CommentOutlet(secret=COMMENTS_SECRET) as site:
        overrides = {
            "feeds": f"{feed},{broken}",
            "database_url": with_password(database_url),
            "comments_url": site.url,
            "comments_secret": COMMENTS_SECRET,
            "webhook_secret": WEBHOOK_SECRET,
            "log_level": "DEBUG",
            "log_format": log_format,
        }
        settings = bot_settings(**overrides)
        configure_logging("DEBUG", log_format, settings.secret_values(), stream=log_stream)
        async with start_bot(**overrides) as app:
            await ask(fake_api, reader, "/subscribe")
            story = new_item(901, "Kirkuk council meets on oil revenue")
            await publish(app, outlet, outlet_items, story)
            await eventually(lambda: _has(fake_api, reader, story.title))
            shown = await open_story(app, fake_api, reader, await story_titled(app, "kirkuk"))
            await reply(fake_api, reader, shown, COMMENT)
            [created] = await site.wait_for(1)
            assert created.verified and created.body["data"]["text"] == COMMENT
            async with app.bot_data[DEPS_KEY].services.sessions() as session:
                state = await session.get(BotState, PSEUDONYM_KEY_STATE)
            assert state is not None
            logging.getLogger("test").info("about to fail on purpose: %s", feed)
    log = log_stream.getvalue()
    lines = log.splitlines()
    assert len(lines) > 10, log  # the bot really logged, at DEBUG
    if log_format == "json":
        levels = {json.loads(line)["level"] for line in lines}
    else:
        levels = {line.split(" ")[2] for line in lines if line[:2] == "20"}
    assert "DEBUG" in levels and "WARNING" in levels, levels  # the failing feed warned
    assert f"reader:***@127.0.0.1:{port}/english/rss?api_key=***" in log  # masked, not dropped
    token_secret = fake_api.token.split(":", 1)[1]
    secrets = {
        "bot token": token_secret,
        "COMMENTS_SECRET": COMMENTS_SECRET.removeprefix("whsec_"),
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "pseudonym key": state.value,
        "feed password": FEED_PASSWORD,
        "feed key": FEED_KEY,
        "database password": DB_PASSWORD,
        "comment text": COMMENT,
        "comment text (JSON-escaped)": json.dumps(COMMENT)[1:-1],
        "username": "shilan_private_handle",
    }
    leaked = {name: value for name, value in secrets.items() if value in log}
    assert not leaked, f"{leaked} in the log"


async def _has(api: FakeBotApi, chat: Any, title: str) -> bool:
    return bool(pushes(api, chat, title))
