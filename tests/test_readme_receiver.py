"""The README's example receiver, run as printed, against the bot's real comment relay.

If the documented contract and the relay ever disagree (signature, body, answers), an outlet
developer following the README would find out in production; this test finds out first.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp

from bot.config import comments_secret_key
from jobs.comment_relay import CommentRelay, RelaySettings
from news.clock import utcnow
from storage import comments as comment_store
from storage.engine import SessionFactory, writing
from storage.outbox import outbox_counts
from tests.auxil.comment_relay import KEY, RecordingNotifier, add_comment, add_story, comment
from tests.auxil.readme import SECRET
from tests.auxil.waiting import eventually


async def test_the_documented_receiver_takes_refuses_and_deletes_comments(
    sessions: SessionFactory, readme_receiver: tuple[str, dict[str, Any]]
) -> None:
    url, namespace = readme_receiver
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
