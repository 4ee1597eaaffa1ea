"""Comments, their outbox and the bot's small state, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from news.story_draft import StoryDraft
from storage import comments as comment_store
from storage import feeds as feed_store
from storage import outbox
from storage import stories as story_store
from storage.bot_state import RELAY_PAUSE_KEY, ensure_state, get_state, relay_paused, set_state
from storage.comments import CommentDraft
from storage.engine import SessionFactory, writing
from storage.models import Comment, OutletEvent
from storage.records import StoryView

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
RETRY = timedelta(hours=24)
LEASE = timedelta(seconds=60)


async def add_story(sessions: SessionFactory, key: str = "erbil") -> StoryView:
    async with writing(sessions) as session:
        [feed] = await feed_store.register_feeds(
            session, [("https://x.example/rss", "news", "en")], NOW
        )
        policy = story_store.IngestPolicy(now=NOW)
        draft = StoryDraft(
            identity=f"guid:{key}",
            guid=key,
            title=f"{key.title()} airport reopens",
            link=f"https://www.rudaw.net/english/{key}",
            language="en",
            published_at=NOW - timedelta(hours=1),
        )
        outcome = await story_store.store_feed_items(session, feed.id, [(draft, ["news"])], policy)
    [story] = outcome.backlog + outcome.new
    return story


def draft(message_id: int, text: str = "Good news for the region.", user: int = 7) -> CommentDraft:
    return CommentDraft(user, user, message_id, "Shilan A.", text, language="ckb")


async def add(
    sessions: SessionFactory,
    story: StoryView | None,
    message_id: int,
    status: str = comment_store.QUEUED,
    user: int = 7,
    now: datetime = NOW,
) -> comment_store.CommentView:
    async with writing(sessions) as session:
        return await comment_store.add_comment(
            session, draft(message_id, user=user), story, status=status, now=now, retry_for=RETRY
        )


async def events(sessions: SessionFactory) -> list[OutletEvent]:
    async with sessions() as session:
        return list(
            (await session.exec(select(OutletEvent).order_by(col(OutletEvent.id)))).scalars()
        )


async def claim(
    sessions: SessionFactory, now: datetime = NOW, limit: int = 10
) -> list[outbox.EventJob]:
    async with writing(sessions) as session:
        return await outbox.claim_events(session, now, limit=limit, lease=LEASE)


# --- writing comments -----------------------------------------------------------------------


async def test_a_readers_history_is_read_at_once_for_checking_a_comment(
    sessions: SessionFactory,
) -> None:
    async with writing(sessions) as session:
        first = await comment_store.commenter_history(
            session, 7, since=NOW - timedelta(hours=1), limit=5
        )
    assert first.previous is None and first.recent == []
    story = await add_story(sessions)
    await add(sessions, story, 1, now=NOW - timedelta(hours=2))
    await add(sessions, story, 2, now=NOW - timedelta(minutes=5))
    async with writing(sessions) as session:
        history = await comment_store.commenter_history(
            session, 7, since=NOW - timedelta(hours=1), limit=5
        )
    assert history.commenter is not None and not history.commenter.banned
    assert history.previous == "Good news for the region."
    assert [t.replace(tzinfo=UTC) for t in history.recent] == [NOW - timedelta(minutes=5)]


async def test_the_confirmation_is_noted_and_the_comment_read_as_it_is_now(
    sessions: SessionFactory,
) -> None:
    comment = await add(sessions, await add_story(sessions), 1)
    async with writing(sessions) as session:
        current = await comment_store.answered(session, comment.id, 555)
    assert current is not None and current.answer_message_id == 555
    assert current.status == comment_store.QUEUED


async def test_a_queued_comment_and_its_webhook_are_written_together(
    sessions: SessionFactory,
) -> None:
    story = await add_story(sessions)
    comment = await add(sessions, story, 100)
    assert comment.status == comment_store.QUEUED
    assert (comment.article_url, comment.article_guid) == (story.link, "erbil")
    assert comment.language == "en"  # the article's language wins over the reader's
    [event] = await events(sessions)
    assert event.comment_id == comment.id
    assert event.type == comment_store.CREATED
    assert event.webhook_id.startswith("msg_")
    assert (event.status, event.attempts, event.next_attempt_at) == ("pending", 0, NOW)
    assert event.deadline == NOW + RETRY

    # A failure in the same transaction leaves neither the comment nor its webhook.
    async def add_then_fail() -> None:
        async with writing(sessions) as session:
            await comment_store.add_comment(
                session, draft(101), story, status="queued", now=NOW, retry_for=RETRY
            )
            raise RuntimeError("the handler failed after storing")

    with pytest.raises(RuntimeError):
        await add_then_fail()
    async with sessions() as session:
        count = (await session.exec(select(func.count()).select_from(Comment))).scalar_one()
    assert count == 1
    assert len(await events(sessions)) == 1


async def test_held_and_choosing_comments_get_a_webhook_only_when_queued(
    sessions: SessionFactory,
) -> None:
    story = await add_story(sessions)
    held = await add(sessions, story, 1, comment_store.HELD)
    choosing = await add(sessions, None, 2, comment_store.CHOOSING)
    assert choosing.story_id is None and choosing.language == "ckb"
    assert await events(sessions) == []

    async with writing(sessions) as session:
        chosen = await comment_store.choose_story(
            session, choosing.id, story, status=comment_store.QUEUED, now=NOW, retry_for=RETRY
        )
        again = await comment_store.choose_story(
            session, choosing.id, story, status=comment_store.QUEUED, now=NOW, retry_for=RETRY
        )
        approved = await comment_store.decide(
            session, held.id, approve=True, by=1, relay=True, now=NOW, retry_for=RETRY
        )
        twice = await comment_store.decide(
            session, held.id, approve=False, by=2, relay=True, now=NOW, retry_for=RETRY
        )
    assert chosen is not None and chosen.story_id == story.id and chosen.status == "queued"
    assert again is None  # already chosen
    assert approved is not None and approved.status == comment_store.QUEUED
    assert twice is None  # already decided
    assert sorted(e.comment_id or 0 for e in await events(sessions)) == sorted(
        [choosing.id, held.id]
    )


async def test_a_site_reply_held_for_the_moderators_is_still_a_reply_when_approved(
    sessions: SessionFactory,
) -> None:
    story = await add_story(sessions)
    reply = CommentDraft(
        7, 7, 1, "Shilan A.", "Thank you, Aras", language="ckb", in_reply_to="c101"
    )
    async with writing(sessions) as session:
        held = await comment_store.add_comment(
            session, reply, story, status=comment_store.HELD, now=NOW, retry_for=RETRY
        )
    assert await events(sessions) == []  # nothing goes out before the moderators decide
    async with writing(sessions) as session:
        await comment_store.decide(
            session, held.id, approve=True, by=1, relay=True, now=NOW, retry_for=RETRY
        )
    async with writing(sessions) as session:
        [job] = await outbox.claim_events(session, NOW, limit=5, lease=LEASE)
    assert job.comment is not None and job.comment.id == held.id
    assert job.in_reply_to == "c101"


async def test_moderators_publish_here_or_reject_with_a_reason(sessions: SessionFactory) -> None:
    story = await add_story(sessions)
    kept = await add(sessions, story, 1, comment_store.HELD)
    refused = await add(sessions, story, 2, comment_store.HELD)
    async with writing(sessions) as session:
        published = await comment_store.decide(
            session, kept.id, approve=True, by=1, relay=False, now=NOW, retry_for=RETRY
        )
        rejected = await comment_store.decide(
            session,
            refused.id,
            approve=False,
            by=1,
            relay=False,
            now=NOW,
            retry_for=RETRY,
            reason="Off topic.",
        )
    assert published is not None and published.status == comment_store.PUBLISHED
    assert rejected is not None
    assert (rejected.status, rejected.reason) == (comment_store.REJECTED, "Off topic.")
    assert await events(sessions) == []
    async with sessions() as session:
        shown = await comment_store.story_comments(session, story.id)
    assert [c.id for c in shown] == [kept.id]


async def test_an_edit_is_refused_once_a_post_was_attempted(sessions: SessionFactory) -> None:
    story = await add_story(sessions)
    comment = await add(sessions, story, 1)
    async with writing(sessions) as session:
        edited = await comment_store.edit_comment(session, comment.id, "Better words.", NOW)
    assert edited is not None and edited.text == "Better words."

    [job] = await claim(sessions)
    assert job.comment is not None and job.comment.text == "Better words."  # read at claim
    async with writing(sessions) as session:
        assert await comment_store.edit_comment(session, comment.id, "Too late.", NOW) is None

    # Back in the queue after a failed POST: the outlet may hold the old text, still refused.
    async with writing(sessions) as session:
        await outbox.event_retry(
            session, job.id, now=NOW, next_attempt_at=NOW + timedelta(seconds=5), error="HTTP 503"
        )
        assert await comment_store.edit_comment(session, comment.id, "Still late.", NOW) is None
        stored = await comment_store.get_comment(session, comment.id)
    assert stored is not None and stored.text == "Better words."


async def test_claiming_reads_the_current_display_name(sessions: SessionFactory) -> None:
    story = await add_story(sessions)
    await add(sessions, story, 1)
    async with writing(sessions) as session:
        await comment_store.touch_commenter(
            session, 7, telegram_name="Shilan", language="ckb", now=NOW
        )
        await comment_store.set_display_name(session, 7, "S. Ahmed", telegram_name=None, now=NOW)
    [job] = await claim(sessions)
    assert job.comment is not None and job.comment.author_name == "S. Ahmed"


# --- the outbox -----------------------------------------------------------------------------


async def test_claim_leases_rows_until_expiry_and_release_hands_them_back(
    sessions: SessionFactory,
) -> None:
    story = await add_story(sessions)
    first = await add(sessions, story, 1)
    later = await add(sessions, story, 2, now=NOW + timedelta(minutes=5))
    async with sessions() as session:
        assert await outbox.next_event_due(session) == NOW

    jobs = await claim(sessions)
    assert [j.comment.id for j in jobs if j.comment] == [first.id]  # the other is not due
    assert await claim(sessions, NOW + timedelta(seconds=30)) == []  # leased
    async with sessions() as session:
        # The lease running out is the next thing due (the sender may have died).
        assert await outbox.next_event_due(session) == NOW + LEASE

    # The sender died: the lease runs out and the row is claimed again, same webhook id.
    [again] = await claim(sessions, NOW + LEASE)
    assert (again.id, again.webhook_id, again.attempts) == (jobs[0].id, jobs[0].webhook_id, 0)

    async with writing(sessions) as session:
        await outbox.release_events(session, [again.id], NOW + LEASE)
    both = await claim(sessions, NOW + timedelta(minutes=5))
    assert sorted(j.comment.id for j in both if j.comment) == sorted([first.id, later.id])
    async with writing(sessions) as session:
        for job in both:
            await outbox.event_delivered(
                session, job.id, now=NOW, outlet_id="c1", outlet_status="pending", published=False
            )
        assert await outbox.next_event_due(session) is None
        assert await outbox.outbox_counts(session) == {"done": 2}


async def test_answers_move_the_comment_on(sessions: SessionFactory) -> None:
    story = await add_story(sessions)
    comments = [await add(sessions, story, n) for n in range(4)]
    jobs = {j.comment.id: j for j in await claim(sessions) if j.comment}
    later = NOW + timedelta(seconds=1)
    async with writing(sessions) as session:
        published = await outbox.event_delivered(
            session,
            jobs[comments[0].id].id,
            now=later,
            outlet_id="c9",
            outlet_status="approved",
            published=True,
        )
        rejected = await outbox.event_rejected(
            session, jobs[comments[1].id].id, now=later, reason="Comments are closed."
        )
        attempts = await outbox.event_retry(
            session, jobs[comments[2].id].id, now=later, next_attempt_at=later, error="HTTP 503"
        )
        paused = await outbox.event_retry(
            session,
            jobs[comments[3].id].id,
            now=later,
            next_attempt_at=later,
            error="HTTP 401",
            count_attempt=False,
        )
    assert published is not None
    assert (published.status, published.outlet_id, published.relayed_at) == (
        comment_store.PUBLISHED,
        "c9",
        later,
    )
    assert rejected is not None
    assert (rejected.status, rejected.reason) == (comment_store.REJECTED, "Comments are closed.")
    assert (attempts, paused) == (1, 0)

    async with writing(sessions) as session:
        expired = await outbox.event_expired(
            session, jobs[comments[2].id].id, now=later, error="Unreachable for 24 hours."
        )
    assert expired is not None and expired.status == comment_store.FAILED
    async with sessions() as session:
        counts = await outbox.outbox_counts(session)
    assert counts == {"done": 1, "rejected": 1, "expired": 1, "pending": 1}


async def test_a_pause_gives_waiting_rows_their_time_back(sessions: SessionFactory) -> None:
    story = await add_story(sessions)
    await add(sessions, story, 1)  # waiting since before the pause
    paused_since = NOW + timedelta(hours=1)
    await add(sessions, story, 2, now=NOW + timedelta(hours=3))  # written during the pause
    resumed = NOW + timedelta(hours=5)
    async with writing(sessions) as session:
        moved = await outbox.extend_deadlines(session, paused_since, resumed)
        due = await outbox.resume_paused(session, resumed)
    assert (moved, due) == (2, 0)
    deadlines = [e.deadline for e in await events(sessions)]
    assert deadlines == [NOW + RETRY + timedelta(hours=4), NOW + RETRY + timedelta(hours=5)]


async def test_concurrent_claimers_never_get_the_same_row(sessions: SessionFactory) -> None:
    story = await add_story(sessions)
    for n in range(12):
        await add(sessions, story, n)
    batches = await asyncio.gather(*(claim(sessions, limit=3) for _ in range(6)))
    ids = [job.id for batch in batches for job in batch]
    assert len(ids) == len(set(ids)) == 12


async def test_postgres_claimers_skip_rows_another_transaction_holds(
    sessions: SessionFactory, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks with SKIP LOCKED are PostgreSQL's; SQLite has one writer")
    story = await add_story(sessions)
    for n in range(4):
        await add(sessions, story, n)
    async with writing(sessions) as holder:
        held = await outbox.claim_events(holder, NOW, limit=2, lease=LEASE)
        # The first claim is not committed yet: a second instance gets the other rows at
        # once instead of waiting, and never the held ones.
        other = await asyncio.wait_for(claim(sessions), timeout=5)
    assert len(held) == 2 and len(other) == 2
    assert {j.id for j in held}.isdisjoint(j.id for j in other)


async def test_postgres_an_edit_racing_a_claim_waits_for_it_and_is_refused(
    sessions: SessionFactory, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers")
    story = await add_story(sessions)
    comment = await add(sessions, story, 1)

    async def edit() -> comment_store.CommentView | None:
        async with writing(sessions) as session:
            return await comment_store.edit_comment(session, comment.id, "Changed.", NOW)

    async with writing(sessions) as holder:
        [job] = await outbox.claim_events(holder, NOW, limit=1, lease=LEASE)
        editing = asyncio.create_task(edit())
        await asyncio.sleep(0.2)  # the edit reaches the locked row and waits for this claim
    # The claim read the old text and committed: the edit must not pretend it changed.
    assert await editing is None
    assert job.comment is not None and job.comment.text == "Good news for the region."


# --- /forget --------------------------------------------------------------------------------


async def test_forget_asks_the_outlet_to_delete_only_what_reached_it(
    sessions: SessionFactory,
) -> None:
    story = await add_story(sessions)
    relayed = await add(sessions, story, 1)
    sending = await add(sessions, story, 2)
    cut_off = await add(sessions, story, 3)
    await add(sessions, story, 4, comment_store.HELD)
    refused = await add(sessions, story, 5)
    someone_else = await add(sessions, story, 6, user=8)
    jobs = {j.comment.id: j for j in await claim(sessions, limit=4) if j.comment}
    assert set(jobs) == {relayed.id, sending.id, cut_off.id, refused.id}
    async with writing(sessions) as session:
        await outbox.event_delivered(
            session,
            jobs[relayed.id].id,
            now=NOW,
            outlet_id="c1",
            outlet_status="pending",
            published=False,
        )
        await outbox.event_rejected(session, jobs[refused.id].id, now=NOW, reason="Closed.")
        await outbox.release_events(session, [jobs[cut_off.id].id], NOW)
        await comment_store.touch_commenter(session, 7, telegram_name="S", language=None, now=NOW)

    later = NOW + timedelta(seconds=10)
    async with writing(sessions) as session:
        queued = await comment_store.forget_commenter(
            session, 7, pseudonym="p" * 32, now=later, retry_for=RETRY
        )
    # The relayed one, the one on its way, and the one whose POST a shutdown cut off (the
    # outlet may hold it); not the held one nor the one the outlet refused.
    assert queued == 3
    deleted = [e for e in await events(sessions) if e.type == comment_store.DELETED]
    payloads = [json.loads(e.payload or "") for e in deleted]
    assert sorted(p["comment"]["webhook_id"] for p in payloads) == sorted(
        [jobs[relayed.id].webhook_id, jobs[sending.id].webhook_id, jobs[cut_off.id].webhook_id]
    )
    by_webhook = {
        p["comment"]["webhook_id"]: (p, e) for p, e in zip(payloads, deleted, strict=True)
    }
    relayed_payload, relayed_event = by_webhook[jobs[relayed.id].webhook_id]
    assert relayed_payload["comment"]["id"] == "c1"
    assert relayed_payload["author"] == {"pseudonym": "p" * 32}
    assert relayed_payload["article"]["url"] == story.link
    assert relayed_event.next_attempt_at == later
    # The POST in flight finishes (or its lease runs out) before its deletion is sent.
    assert by_webhook[jobs[sending.id].webhook_id][1].next_attempt_at == NOW + LEASE

    async with sessions() as session:
        assert await comment_store.user_comments(session, 7) == []
        assert await comment_store.get_commenter(session, 7) is None
        left = await comment_store.user_comments(session, 8)
    assert [c.id for c in left] == [someone_else.id]
    # The forgotten comments' own webhooks went with them; the other reader's stays.
    created = [e for e in await events(sessions) if e.type == comment_store.CREATED]
    assert [e.comment_id for e in created] == [someone_else.id]


# --- bot_state ------------------------------------------------------------------------------


async def test_state_first_writer_wins_and_none_removes(sessions: SessionFactory) -> None:
    async with writing(sessions) as session:
        assert await get_state(session, "pseudonym_key") is None
        first = await ensure_state(session, "pseudonym_key", "aaa", NOW)
    async with writing(sessions) as session:
        second = await ensure_state(session, "pseudonym_key", "bbb", NOW)
    assert first == second == "aaa"

    async with writing(sessions) as session:
        await set_state(session, "comment_relay_paused", '{"reason": "HTTP 401"}', NOW)
        await set_state(session, "comment_relay_paused", '{"reason": "HTTP 404"}', NOW)
    async with writing(sessions) as session:
        value = await get_state(session, "comment_relay_paused", for_update=True)
        await set_state(session, "comment_relay_paused", None, NOW)
    assert value == '{"reason": "HTTP 404"}'
    async with sessions() as session:
        assert await get_state(session, "comment_relay_paused") is None
        assert await get_state(session, "pseudonym_key") == "aaa"


async def test_the_relay_pause_is_any_value_under_its_key(sessions: SessionFactory) -> None:
    async with writing(sessions) as session:
        assert not await relay_paused(session)
        await set_state(session, RELAY_PAUSE_KEY, "not even JSON", NOW)
        assert await relay_paused(session)
