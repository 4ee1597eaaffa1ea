"""Channel threads and replies between comments, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from jobs.relay.webhooks import webhook_payload
from storage import channels as channel_store
from storage import comments as comment_store
from storage import outbox
from storage.engine import SessionFactory, writing
from storage.models import PRIORITY_NEW, Delivery
from tests.test_comments_storage import LEASE, NOW, RETRY, add_story, draft

CHANNEL, GROUP = -1002100000001, -1002100000002


async def test_a_thread_finds_its_story_even_when_the_forward_came_first(
    sessions: SessionFactory,
) -> None:
    story = await add_story(sessions)
    async with writing(sessions) as session:
        known = await channel_store.record_thread(
            session, GROUP, 5, channel_id=CHANNEL, post_id=41, now=NOW
        )
        # Telegram's forward arrives again (a webhook retry): nothing changes.
        await channel_store.record_thread(
            session, GROUP, 5, channel_id=CHANNEL, post_id=41, now=NOW
        )
    assert known is None
    async with writing(sessions) as session:
        assert await channel_store.thread_story(session, GROUP, 5) is None
        session.add(
            Delivery(
                story_id=story.id,
                chat_id=CHANNEL,
                kind=channel_store.CHANNEL,
                priority=PRIORITY_NEW,
                status="sent",
                message_id=41,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    async with writing(sessions) as session:
        assert await channel_store.thread_story(session, GROUP, 5) == story.id
        assert await channel_store.thread_story(session, GROUP, 6) is None
        assert await channel_store.channel_post_story(session, CHANNEL, 41) == story.id
    async with writing(sessions) as session:
        assert await channel_store.prune_threads(session, NOW) == 0
        assert await channel_store.prune_threads(session, NOW.replace(year=2027)) == 1


async def test_a_reply_carries_how_the_outlet_knows_its_parent(sessions: SessionFactory) -> None:
    story = await add_story(sessions)
    async with writing(sessions) as session:
        parent = await comment_store.add_comment(
            session, draft(10), story, status=comment_store.QUEUED, now=NOW, retry_for=RETRY
        )
        held = await comment_store.add_comment(
            session, draft(11, "held"), story, status=comment_store.HELD, now=NOW, retry_for=RETRY
        )
        reply = await comment_store.add_comment(
            session,
            replace(draft(12, "Agreed", user=8), parent_id=parent.id),
            story,
            status=comment_store.QUEUED,
            now=NOW,
            retry_for=RETRY,
        )
        orphan = await comment_store.add_comment(
            session,
            replace(draft(13, "to a held one", user=9), parent_id=held.id),
            story,
            status=comment_store.QUEUED,
            now=NOW,
            retry_for=RETRY,
        )
    async with writing(sessions) as session:
        jobs = await outbox.claim_events(session, NOW, limit=10, lease=LEASE)
    by_comment = {j.comment.id: j for j in jobs if j.comment is not None}
    assert by_comment[parent.id].in_reply_to is None
    parent_hook = by_comment[parent.id].webhook_id
    # The outlet has not answered the parent with its id yet: the parent's webhook-id only.
    assert by_comment[reply.id].in_reply_to is None
    assert by_comment[reply.id].in_reply_to_webhook_id == parent_hook
    # Its parent never went to the outlet.
    assert by_comment[orphan.id].in_reply_to is None
    assert by_comment[orphan.id].in_reply_to_webhook_id is None
    payload = webhook_payload(by_comment[reply.id], lambda _: "p")
    assert payload is not None
    assert "in_reply_to" not in payload["data"]
    assert payload["data"]["in_reply_to_webhook_id"] == parent_hook
    # Once the outlet gave the parent its id, the reply (sent again) carries it too.
    async with writing(sessions) as session:
        await outbox.event_delivered(
            session,
            by_comment[parent.id].id,
            now=NOW,
            outlet_id="c42",
            outlet_status="pending",
            published=False,
        )
        jobs = await outbox.claim_events(session, NOW.replace(year=2027), limit=10, lease=LEASE)
    again = {j.comment.id: j for j in jobs if j.comment is not None}[reply.id]
    assert (again.in_reply_to, again.in_reply_to_webhook_id) == ("c42", parent_hook)
    payload = webhook_payload(again, lambda _: "p")
    assert payload is not None
    assert payload["data"]["in_reply_to"] == "c42"
    assert payload["data"]["in_reply_to_webhook_id"] == parent_hook
    assert reply.parent_id == parent.id


async def test_a_reader_is_told_why_once_per_quiet_period_on_every_instance(
    sessions: SessionFactory,
) -> None:
    quiet = timedelta(minutes=10)
    told = []
    for minutes in (0, 1, 9, 10, 11, 12):
        async with writing(sessions) as session:
            now = NOW + timedelta(minutes=minutes)
            told.append(await channel_store.may_tell_refusal(session, GROUP, 7, now, quiet))
    assert told == [True, False, False, True, False, False]
    async with writing(sessions) as session:
        # Another reader, or the same one in another group, has a quiet of their own.
        assert await channel_store.may_tell_refusal(session, GROUP, 8, NOW, quiet)
        assert await channel_store.may_tell_refusal(session, GROUP - 1, 7, NOW, quiet)
        assert await channel_store.prune_refusal_notices(session, NOW + timedelta(days=1)) == 3
