"""Two-way comments end to end: the real Application, the fake Bot API, a local outlet that
receives relayed comments and signs its events to the bot's /hooks/outlet endpoint."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from bot.deps import DEPS_KEY
from news.standard_webhooks import secret_key, sign
from tests.auxil.app_storage import story_titled
from tests.auxil.conversation import (
    ask,
    button_data,
    edited,
    first_reply,
    open_story,
    reply,
)
from tests.auxil.outlet import CommentOutlet
from tests.auxil.ports import free_port
from tests.auxil.waiting import eventually
from tests.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.e2e

StartBot = Callable[..., AbstractAsyncContextManager[Any]]
SECRET = "whsec_" + "c2VjcmV0LWZvci10aGUtb3V0bGV0"
HOOKS_SECRET = "whsec_" + base64.b64encode(b"the site tells the bot, signed").decode()


async def send(port: int, kind: str, data: dict[str, Any]) -> int:
    """The outlet POSTs one signed event to the bot."""
    message_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    body = json.dumps({"type": kind, "timestamp": now.isoformat(), "data": data})
    headers = {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sign(secret_key(HOOKS_SECRET), message_id, now, body),
    }
    url = f"http://127.0.0.1:{port}/hooks/outlet"
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status


async def test_published_status_comments_pages_and_a_reply_notice_with_its_answer(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    reader = fake_api.add_user("Shilan", "Ahmed")
    port = free_port()
    async with (
        CommentOutlet(secret=SECRET) as site,
        start_bot(
            comments_url=site.url,
            comments_secret=SECRET,
            hooks_port=port,
            outlet_hooks_secret=HOOKS_SECRET,
        ) as app,
    ):
        story = await story_titled(app, "kirkuk")
        shown = await open_story(app, fake_api, reader, story)
        answer, _ = await first_reply(fake_api, reader, shown, "Kirkuk deserves peace")
        [created] = await site.wait_for(1)
        article = created.body["data"]["article"]
        assert "in_reply_to" not in created.body["data"]

        # The site publishes it (naming our webhook-id), and a site reader answers, in Sorani.
        assert (
            await send(
                port,
                "comment.published",
                {
                    "id": "c100",
                    "story": {"link": article["url"]},
                    "author": "Shilan A.",
                    "text": "Kirkuk deserves peace",
                    "published_at": "2026-11-25T10:00:00Z",
                    "idempotency_key": created.webhook_id,
                    "url": article["url"] + "#comment-100",
                },
            )
            == 200
        )
        told = await edited(fake_api, reader.id, answer.message_id, 2)
        assert (told.text or "").startswith(f"✅ Your comment on ‘{story.title}’ is published.")
        assert "See it on the site" in (told.text or "")
        # /mycomments says so too, "published" linking to where the site shows it.
        mine = await ask(fake_api, reader, "/mycomments")
        assert "✅" in (mine.text or "") and "published" in (mine.text or "")
        assert {"type": "text_link", "url": article["url"] + "#comment-100"}.items() <= next(
            e for e in mine.entities if e["type"] == "text_link" and "#comment" in e["url"]
        ).items()

        before = len(fake_api.sent(reader))
        assert (
            await send(
                port,
                "comment.published",
                {
                    "id": "c101",
                    "story": {"guid": story.guid} if story.guid else {"link": article["url"]},
                    "author": "ئاراس محەمەد",
                    "text": "ئاشتی بۆ هەمووان",
                    "published_at": "2026-11-25T11:00:00Z",
                    "in_reply_to": "c100",
                },
            )
            == 200
        )
        notice = (await fake_api.wait_for_messages(reader, before + 1))[before]
        assert "ئاراس محەمەد" in (notice.text or "") and "ئاشتی بۆ هەمووان" in (notice.text or "")
        assert [d[:3] for d in button_data(notice)] == ["sr:"]

        # /comments replied to the story: the site's conversation, oldest first, hers marked.
        listing = await reply(fake_api, reader, shown, "/comments")
        text = listing.text or ""
        assert text.index("Kirkuk deserves peace") < text.index("ئاشتی بۆ هەمووان")
        assert "✍️ you" in text and "1–2 of 2" in text

        # She answers the reply by replying to the notice: the outlet gets in_reply_to.
        await reply(fake_api, reader, notice, "Thank you, Aras")
        received = await site.wait_for(2)
        assert received[1].body["data"]["in_reply_to"] == "c101"

        # The same reply delivered again tells her nothing new.
        count = len(fake_api.sent(reader))
        assert (
            await send(
                port,
                "comment.published",
                {
                    "id": "c101",
                    "story": {"link": article["url"]},
                    "author": "ئاراس محەمەد",
                    "text": "ئاشتی بۆ هەمووان",
                    "in_reply_to": "c100",
                },
            )
            == 200
        )
        inbox = app.bot_data[DEPS_KEY].services.outlet_inbox
        assert inbox is not None

        async def processed() -> bool:
            return bool(inbox.stats.processed >= 3)

        await eventually(processed)
        assert len(fake_api.sent(reader)) == count

        # What You Say lists it with its story and count.
        whatyousay = await ask(fake_api, reader, "/whatyousay")
        assert "What You Say" in (whatyousay.text or "") and "2 comments" in (
            whatyousay.text or ""
        )
