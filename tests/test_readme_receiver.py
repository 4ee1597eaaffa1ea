"""The README's example receiver, run as printed, against the bot's real comment relay.

If the documented contract and the relay ever disagree (signature, body, answers), an outlet
developer following the README would find out in production; this test finds out first.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.config import comments_secret_key
from jobs.comment_relay import CommentRelay, RelaySettings
from storage import comments as comment_store
from storage.clock import utcnow
from storage.engine import SessionFactory, writing
from storage.outbox import outbox_counts
from tests.test_comment_relay import (
    KEY,
    RecordingNotifier,
    add_comment,
    add_story,
    comment,
    eventually,
)

README = Path(__file__).resolve().parents[1] / "README.md"
SECRET = "whsec_" + base64.b64encode(b"rudaw's webhook signing key 2026").decode()


def receiver_source() -> str:
    """The Python block that follows the ``receiver-example`` marker in the README."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- receiver-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README.md lost its receiver example"
    return match.group(1)


@pytest.fixture
async def receiver(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    monkeypatch.setenv("COMMENTS_SECRET", SECRET)
    namespace: dict[str, Any] = {"__name__": "readme_receiver"}
    exec(compile(receiver_source(), "README.md", "exec"), namespace)
    runner = web.AppRunner(namespace["app"])
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/comments", namespace
    finally:
        await runner.cleanup()


async def test_the_documented_receiver_takes_refuses_and_deletes_comments(
    sessions: SessionFactory, receiver: tuple[str, dict[str, Any]]
) -> None:
    url, namespace = receiver
    story = await add_story(sessions)
    notifier = RecordingNotifier()
    async with aiohttp.ClientSession() as http:
        relay = CommentRelay(
            sessions,
            http,
            RelaySettings(
                url=url,
                secret=comments_secret_key(SECRET),
                timeout=2.0,
                lease=timedelta(seconds=10),
                first_retry=0.05,
                idle_wait=0.5,
            ),
            KEY,
            notifier,
        )
        await relay.start()
        try:
            taken = await add_comment(sessions, story, "Good news for the whole region.")
            too_long = await add_comment(sessions, story, "long " * 400, user=5)
            relay.wake()
            await notifier.wait_for(lambda: len(notifier.final()) == 2)

            first = await comment(sessions, taken.id)
            assert first.status == comment_store.RELAYED  # 202: pending the outlet's moderation
            assert first.outlet_id == "c1"
            refused = await comment(sessions, too_long.id)
            assert refused.status == comment_store.REJECTED
            assert refused.reason == "Comments are limited to 1,500 characters."
            assert len(namespace["seen"]) == 1  # the signature verified; one comment stored

            async with writing(sessions) as session:
                queued = await comment_store.forget_commenter(
                    session,
                    first.user_id,
                    pseudonym=relay.pseudonym(first.user_id),
                    now=utcnow(),
                    retry_for=timedelta(hours=1),
                )
            assert queued == 1
            relay.wake()
            await _until_outbox_done(sessions)
        finally:
            await relay.stop()
    assert notifier.alerts == []  # the receiver never answered 401/404: never paused


async def _until_outbox_done(sessions: SessionFactory) -> None:
    async def counts() -> dict[str, int]:
        async with sessions() as session:
            return await outbox_counts(session)

    async def settled() -> bool:
        now = await counts()
        return not now.get("pending") and not now.get("sending")

    await eventually(settled)
    # The forgotten comment's own row went with it; the refused one stays; the receiver
    # answered 200 to comment.deleted.
    assert await counts() == {"done": 1, "rejected": 1}
