"""The comment relay against a local outlet, on SQLite and PostgreSQL: what is sent, when, once."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from sqlmodel import col, select
from standardwebhooks import Webhook

from bot.admin_alert_texts import alert_text
from bot.comment_texts import relay_reason, status_text
from bot.i18n import texts
from jobs.comment_relay import CommentRelay, RelaySettings
from jobs.relay.pause import PAUSE_KEY, RelayPause
from jobs.relay.pseudonyms import load_pseudonym_key, pseudonym
from news.admin_alerts import FEED_FAILING, AdminAlert
from news.clock import utcnow
from news.retry_timing import backoff
from storage import comments as comment_store
from storage import outbox
from storage.bot_state import get_state, set_state
from storage.comments import CommentDraft
from storage.engine import SessionFactory, writing
from storage.models import OutletEvent
from storage.records import StoryView
from tests.auxil.comment_relay import (
    KEY,
    READER,
    SECRET,
    RecordingNotifier,
    RelayFactory,
    add_comment,
    add_story,
    comment,
    message_ids,
)
from tests.auxil.outlet import CommentOutlet
from tests.auxil.waiting import eventually


async def outbox_rows(sessions: SessionFactory) -> list[OutletEvent]:
    async with sessions() as session:
        statement = select(OutletEvent).order_by(col(OutletEvent.id))
        return list((await session.exec(statement)).all())


# --- what is sent ---------------------------------------------------------------------------


async def test_one_reply_is_one_signed_post_with_the_contract_body(
    sessions: SessionFactory, comment_outlet: CommentOutlet, make_relay: RelayFactory
) -> None:
    story = await add_story(sessions)
    notifier = RecordingNotifier()
    relay = make_relay(notifier)
    await relay.start()
    written = await add_comment(sessions, story)
    relay.wake()
    await notifier.wait_for(lambda: written.id in notifier.final())
    await relay.stop()

    [received] = comment_outlet.received
    [row] = await outbox_rows(sessions)
    assert received.webhook_id == row.webhook_id
    assert received.verified is True
    assert received.headers["content-type"] == "application/json"
    assert re.fullmatch(r"v1,[A-Za-z0-9+/]+=*", received.headers["webhook-signature"])
    assert re.fullmatch(r"\d{10}", received.timestamp or "")
    # The library any outlet would use accepts it, independently of the test server.
    assert Webhook(SECRET).verify(received.raw, received.headers) == received.body
    assert received.body == {
        "type": "comment.created",
        "timestamp": written.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {
            "article": {
                "url": "https://www.rudaw.net/english/kurdistan/251120251",
                "guid": "251120251",
                "title": "Erbil airport reopens",
            },
            "author": {"name": "Shilan A.", "pseudonym": pseudonym(KEY, READER)},
            "text": "Good news for the whole region.",
            "format": "plain",
            "language": "en",
            "source": "telegram",
        },
    }
    assert str(READER).encode() not in received.raw  # the outlet never sees a Telegram id
    assert relay.pseudonym(READER) == pseudonym(KEY, READER) != pseudonym(KEY, READER + 1)
    assert len(pseudonym(KEY, READER)) == 32

    # The outlet's default answer: 201 {"id": "c1", "status": "pending"}.
    told = notifier.final()[written.id]
    assert (told.status, told.outlet_id, told.outlet_status) == ("relayed", "c1", "pending")
    assert (await comment(sessions, written.id)).status == comment_store.RELAYED
    assert (row.status, row.attempts) == ("done", 0)
    assert [s.webhook_id for s in comment_outlet.stored] == [row.webhook_id]


async def test_without_a_secret_nothing_is_signed(
    sessions: SessionFactory, http: aiohttp.ClientSession
) -> None:
    story = await add_story(sessions)
    async with CommentOutlet() as open_outlet:
        notifier = RecordingNotifier()
        relay = CommentRelay(
            sessions, http, RelaySettings(url=open_outlet.url, secret=None), KEY, notifier
        )
        await relay.start()
        try:
            written = await add_comment(sessions, story)
            relay.wake()
            await notifier.wait_for(lambda: written.id in notifier.final())
        finally:
            await relay.stop()
    [received] = open_outlet.received
    assert "webhook-signature" not in received.headers
    assert received.verified is None
    assert received.webhook_id and received.timestamp


@pytest.mark.parametrize(
    ("status", "body", "published"),
    [(201, {"id": 42, "status": "approved"}, True), (202, {"id": "c7"}, False)],
)
async def test_2xx_answers_publish_or_relay(
    sessions: SessionFactory,
    comment_outlet: CommentOutlet,
    make_relay: RelayFactory,
    status: int,
    body: dict[str, Any] | None,
    published: bool,
) -> None:
    story = await add_story(sessions)
    written = await add_comment(sessions, story)
    comment_outlet.respond(status, body)
    notifier = RecordingNotifier()
    await make_relay(notifier).start()
    await notifier.wait_for(lambda: written.id in notifier.final())
    told = notifier.final()[written.id]
    assert told.status == (comment_store.PUBLISHED if published else comment_store.RELAYED)
    assert told.outlet_id == (str(body["id"]) if body else None)


# --- failures that are the outlet's: retried ------------------------------------------------


async def test_outlet_down_then_healed_gets_the_comment_once_with_one_key(
    sessions: SessionFactory, comment_outlet: CommentOutlet, make_relay: RelayFactory
) -> None:
    story = await add_story(sessions)
    written = await add_comment(sessions, story)
    comment_outlet.respond(503, {"error": "maintenance"}, times=2)
    comment_outlet.hang_next(5, times=2)  # then no answer in time (the relay waits 0.3 s)
    notifier = RecordingNotifier()
    first = make_relay(notifier, timeout=0.3)
    await first.start()
    await comment_outlet.wait_for(3)
    await first.stop()  # a restart in the middle of the outage

    second = make_relay(notifier, timeout=0.3)
    await second.start()
    await notifier.wait_for(lambda: written.id in notifier.final())
    await second.stop()

    ids = {r.webhook_id for r in comment_outlet.received}
    [row] = await outbox_rows(sessions)
    assert ids == {row.webhook_id}  # the same idempotency key on every try, both relays
    assert [r.status for r in comment_outlet.received][:2] == [503, 503]
    assert comment_outlet.received[-1].status == 201
    assert len(comment_outlet.received) >= 5
    assert all(r.verified for r in comment_outlet.received)
    assert len(comment_outlet.stored) == 1
    assert notifier.final()[written.id].status == comment_store.RELAYED
    # The reader heard once, after the third failure, that it is still on its way.
    assert notifier.still_trying() == [written.id]
    assert row.status == "done" and row.attempts >= 3


async def test_stop_hands_a_post_in_flight_back_and_it_goes_again_with_its_key(
    sessions: SessionFactory, comment_outlet: CommentOutlet, make_relay: RelayFactory
) -> None:
    story = await add_story(sessions)
    written = await add_comment(sessions, story)
    # The outlet stores the comment, but its answer comes too late for the stopping relay.
    comment_outlet.hang_next(5, store=True)
    notifier = RecordingNotifier()
    first = make_relay(notifier, timeout=8, lease=timedelta(seconds=20), stop_grace=0.1)
    await first.start()
    await comment_outlet.wait_for(1)
    await first.stop()
    [row] = await outbox_rows(sessions)
    # Handed back at shutdown; the POST may have reached the outlet, so it counts as tried.
    assert (row.status, row.attempts) == ("pending", 1)

    second = make_relay(notifier)
    await second.start()
    await notifier.wait_for(lambda: written.id in notifier.final())
    assert [r.webhook_id for r in comment_outlet.received] == [row.webhook_id] * 2
    assert len(comment_outlet.stored) == 1  # the repeat is recognised by its webhook-id
    # The outlet answers the repeat with the id it gave the first time.
    assert notifier.final()[written.id].outlet_id == "c1"


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_retry_after_is_a_floor_for_the_next_attempt(
    sessions: SessionFactory, comment_outlet: CommentOutlet, make_relay: RelayFactory, form: str
) -> None:
    story = await add_story(sessions)
    await add_comment(sessions, story)
    before = utcnow()
    not_before = before + timedelta(seconds=120)
    value = (
        "120" if form == "seconds" else format_datetime(not_before + timedelta(seconds=1), True)
    )
    if form == "http-date":
        not_before = datetime.fromtimestamp(int(not_before.timestamp()) + 1, UTC)
    comment_outlet.respond(429, headers={"Retry-After": value})
    relay = make_relay(RecordingNotifier())
    await relay.start()

    async def retried() -> bool:
        return (await outbox_rows(sessions))[0].attempts == 1

    await eventually(retried)
    [row] = await outbox_rows(sessions)
    assert row.status == "pending"
    assert row.next_attempt_at >= not_before
    assert row.last_error == "HTTP 429"
    assert len(comment_outlet.received) == 1


async def test_past_the_deadline_the_comment_fails_and_the_reader_is_told(
    sessions: SessionFactory, comment_outlet: CommentOutlet, make_relay: RelayFactory
) -> None:
    story = await add_story(sessions)
    written = await add_comment(sessions, story, retry_for=timedelta(seconds=0.6))
    comment_outlet.respond(500, times=1000)
    notifier = RecordingNotifier()
    await make_relay(notifier).start()
    await notifier.wait_for(lambda: written.id in notifier.final())
    told = notifier.final()[written.id]
    assert told.status == comment_store.FAILED
    assert told.reason == "relay:unreachable?minutes=1"  # a code, worded for each reader
    assert relay_reason(told.reason, t=texts("en")) == (
        "The news site could not be reached for 1 minute."
    )
    [row] = await outbox_rows(sessions)
    assert row.status == "expired"
    assert row.updated_at >= row.deadline
    assert len(comment_outlet.received) >= 2  # retried until then
    assert len({r.webhook_id for r in comment_outlet.received}) == 1


# --- verdicts on the comment: never retried -------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (
            422,
            {"reason": "Comments on this article are closed."},
            "Comments on this article are closed.",
        ),
        (413, None, "The comment is too long for the news site."),
    ],
)
async def test_a_verdict_rejects_the_comment_with_a_reason_for_the_reader(
    sessions: SessionFactory,
    comment_outlet: CommentOutlet,
    make_relay: RelayFactory,
    status: int,
    body: Any,
    reason: str,
) -> None:
    story = await add_story(sessions)
    written = await add_comment(sessions, story)
    later = await add_comment(sessions, story, "A second, fine comment.")
    comment_outlet.respond(status, body)
    notifier = RecordingNotifier()
    await make_relay(notifier, concurrency=1).start()
    await notifier.wait_for(lambda: {written.id, later.id} <= notifier.final().keys())
    told = notifier.final()[written.id]
    assert told.status == comment_store.REJECTED
    assert told.reason and relay_reason(told.reason, t=texts("en")) == reason
    assert (await comment(sessions, written.id)).reason == told.reason
    assert notifier.final()[later.id].status == comment_store.RELAYED
    assert len(comment_outlet.received) == 2  # the rejected one was not retried
    assert notifier.alerts == []


async def test_a_failing_notifier_does_not_stop_the_relay(
    sessions: SessionFactory, comment_outlet: CommentOutlet, make_relay: RelayFactory
) -> None:
    story = await add_story(sessions)
    first = await add_comment(sessions, story)
    notifier = RecordingNotifier(fail=True)
    relay = make_relay(notifier)
    await relay.start()
    await notifier.wait_for(lambda: first.id in notifier.final())
    second = await add_comment(sessions, story, "And another thing.")
    relay.wake()
    await notifier.wait_for(lambda: second.id in notifier.final())
    assert len(comment_outlet.stored) == 2
    assert (await comment(sessions, first.id)).status == comment_store.RELAYED


# --- a wrong endpoint or secret: paused, nothing dropped ------------------------------------


async def wait_paused(sessions: SessionFactory) -> dict[str, Any]:
    async def paused() -> bool:
        async with sessions() as session:
            return await get_state(session, PAUSE_KEY) is not None

    await eventually(paused)
    async with sessions() as session:
        raw = await get_state(session, PAUSE_KEY)
    assert raw is not None
    return dict(json.loads(raw))


@pytest.mark.parametrize("status", [401, 404, 410])
async def test_a_wrong_endpoint_or_secret_pauses_until_the_configuration_changes(
    sessions: SessionFactory, comment_outlet: CommentOutlet, make_relay: RelayFactory, status: int
) -> None:
    story = await add_story(sessions)
    written = [await add_comment(sessions, story, f"Comment {n}") for n in range(3)]
    notifier = RecordingNotifier()
    if status == 401:  # a real wrong secret: the outlet's verification fails
        wrong: dict[str, Any] = {"secret": b"not the outlet's key"}
    elif status == 404:  # a real wrong path: nothing is served there
        wrong = {"url": comment_outlet.url + "/v0"}
    else:  # an endpoint the outlet retired
        comment_outlet.respond(status, {"error": "gone"}, times=3)
        wrong = {"url": comment_outlet.url + "?version=0"}
    first = make_relay(notifier, **wrong)
    await first.start()
    pause = await wait_paused(sessions)
    await eventually(lambda: _rows_idle(sessions))
    await first.stop()

    assert pause["reason"] == f"HTTP {status}"
    assert pause["fingerprint"] == first.settings.fingerprint
    [alert] = notifier.alerts  # once, though three comments hit it
    assert f"HTTP {status}" in alert
    assert f"{'COMMENTS_SECRET' if status == 401 else 'COMMENTS_URL'} is probably wrong" in alert
    assert SECRET not in alert and comment_outlet.url not in alert
    assert notifier.changes == []  # no reader was told anything went wrong
    for row in await outbox_rows(sessions):
        assert (row.status, row.attempts) == ("pending", 0)  # nothing used up or dropped
    for c in written:
        assert (await comment(sessions, c.id)).status == comment_store.QUEUED

    # A restart with the same configuration stays paused and says nothing new.
    same = make_relay(notifier, **wrong)
    await same.start()
    await asyncio.sleep(0.3)
    await same.stop()
    assert len(notifier.alerts) == 1
    sent_while_paused = len(comment_outlet.received)

    # The configuration is fixed: the pause ends and every comment goes, once.
    fixed = make_relay(notifier)
    await fixed.start()
    await notifier.wait_for(lambda: len(notifier.final()) == 3)
    assert len(notifier.alerts) == 2 and "again" in notifier.alerts[1]
    assert sorted(notifier.final()) == sorted(c.id for c in written)
    assert {c.status for c in notifier.final().values()} == {comment_store.RELAYED}
    assert len(comment_outlet.stored) == 3
    assert len(comment_outlet.received) == sent_while_paused + 3
    async with sessions() as session:
        assert await get_state(session, PAUSE_KEY) is None


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_the_comment_endpoints_redirects_are_never_followed(
    sessions: SessionFactory, comment_outlet: CommentOutlet, make_relay: RelayFactory, status: int
) -> None:
    # A redirect could carry readers' comments (and the signature) anywhere, inside the
    # network too: the relay never follows one; it pauses and tells the admins instead.
    async with CommentOutlet() as elsewhere:
        comment_outlet.respond(status, "moved", headers={"Location": elsewhere.url}, times=3)
        story = await add_story(sessions)
        await add_comment(sessions, story)
        notifier = RecordingNotifier()
        relay = make_relay(notifier)
        await relay.start()
        pause = await wait_paused(sessions)
        await relay.stop()
        assert elsewhere.received == []
    assert pause["reason"] == f"HTTP {status}"
    assert len(comment_outlet.received) == 1
    assert "the endpoint has moved, so COMMENTS_URL needs updating" in notifier.alerts[0]


async def _rows_idle(sessions: SessionFactory) -> bool:
    return all(row.status == "pending" for row in await outbox_rows(sessions))


async def test_an_hourly_probe_that_gets_through_resumes_and_gives_time_back(
    sessions: SessionFactory, comment_outlet: CommentOutlet, make_relay: RelayFactory
) -> None:
    story = await add_story(sessions)
    written = [await add_comment(sessions, story, f"Comment {n}") for n in range(3)]
    deadlines = [row.deadline for row in await outbox_rows(sessions)]
    comment_outlet.respond(404, times=3)  # then the outlet is fixed on its side
    notifier = RecordingNotifier()
    relay = make_relay(notifier, probe_every=0.5)
    await relay.start()
    await notifier.wait_for(lambda: len(notifier.final()) == 3)
    assert len(notifier.alerts) == 2
    assert "HTTP 404" in notifier.alerts[0] and "again" in notifier.alerts[1]
    # One probe, then the rest: 3 refused, then 3 accepted, each comment stored once.
    assert [r.status for r in comment_outlet.received] == [404, 404, 404, 201, 201, 201]
    assert len(comment_outlet.stored) == 3
    assert {c.status for c in notifier.final().values()} == {comment_store.RELAYED}
    assert sorted(notifier.final()) == sorted(c.id for c in written)
    # The pause did not count against COMMENT_RETRY_HOURS: the deadlines of the comments
    # that waited for the probe moved on by it.
    probe = comment_outlet.received[3].webhook_id
    rows = await outbox_rows(sessions)
    moved = [row.deadline > old for row, old in zip(rows, deadlines, strict=True)]
    assert moved == [row.webhook_id != probe for row in rows]
    assert relay.stats.paused is False


async def relay_one(
    sessions: SessionFactory,
    relay: CommentRelay,
    notifier: RecordingNotifier,
    story: StoryView,
    user: int,
) -> None:
    told = len(notifier.changes)
    await add_comment(sessions, story, user=user)
    relay.wake()
    # Counted, not looked up by id: SQLite reuses the id of a forgotten comment.
    await notifier.wait_for(lambda: len(notifier.changes) > told)


async def forget(sessions: SessionFactory, relay: CommentRelay, user: int) -> None:
    async with writing(sessions) as session:
        queued = await comment_store.forget_commenter(
            session,
            user,
            pseudonym=relay.pseudonym(user),
            now=utcnow(),
            retry_for=timedelta(hours=24),
        )
    assert queued == 1
    relay.wake()

    async def all_done() -> bool:
        return {r.status for r in await outbox_rows(sessions)} == {"done"}

    await eventually(all_done)


async def test_forget_deletes_at_the_outlet_and_a_404_there_counts_as_done(
    sessions: SessionFactory, comment_outlet: CommentOutlet, make_relay: RelayFactory
) -> None:
    notifier = RecordingNotifier()
    relay = make_relay(notifier)
    await relay.start()
    story = await add_story(sessions)
    await relay_one(sessions, relay, notifier, story, READER)
    await forget(sessions, relay, READER)
    created, deleted = comment_outlet.received
    assert deleted.body == {
        "type": "comment.deleted",
        "timestamp": deleted.body["timestamp"],
        "data": {
            "comment": {"id": "c1", "webhook_id": created.webhook_id},
            "article": created.body["data"]["article"],
            "author": {"pseudonym": pseudonym(KEY, READER)},
        },
    }
    assert deleted.verified and deleted.webhook_id != created.webhook_id
    assert (deleted.status, comment_outlet.stored) == (200, [])  # the outlet deleted it

    # The outlet lost the next one: its 404 to the deletion means done, not a wrong endpoint.
    await relay_one(sessions, relay, notifier, story, READER + 1)
    comment_outlet.respond(404, {"error": "no such comment"})
    await forget(sessions, relay, READER + 1)
    assert [r.status for r in comment_outlet.received[2:]] == [201, 404]  # no retry of the 404
    assert notifier.alerts == []
    async with sessions() as session:
        assert await get_state(session, PAUSE_KEY) is None


# --- several instances ----------------------------------------------------------------------


async def test_two_relays_on_one_database_never_send_an_event_twice(
    sessions: SessionFactory, comment_outlet: CommentOutlet, make_relay: RelayFactory
) -> None:
    story = await add_story(sessions)
    written = [await add_comment(sessions, story, f"Comment {n}") for n in range(16)]
    notifier = RecordingNotifier()
    relays = [make_relay(notifier), make_relay(notifier)]
    await asyncio.gather(*(r.start() for r in relays))
    await notifier.wait_for(lambda: len(notifier.final()) == len(written))
    ids = [r.webhook_id for r in comment_outlet.received]
    assert len(ids) == len(set(ids)) == 16
    assert len(notifier.changes) == 16
    assert sum(r.stats.posts for r in relays) == 16


async def test_the_pseudonym_key_is_generated_once_for_every_instance(
    sessions: SessionFactory,
) -> None:
    first, second = await asyncio.gather(
        load_pseudonym_key(sessions, None), load_pseudonym_key(sessions, None)
    )
    assert first == second and len(first) == 64
    assert await load_pseudonym_key(sessions, "configured") == b"configured"
    assert await load_pseudonym_key(sessions, None) == first


# --- pure pieces ----------------------------------------------------------------------------


def test_retry_delay_doubles_with_jitter_up_to_the_cap() -> None:
    def delay(n: int, draw: float) -> float:
        return backoff(n, first=1.0, cap=1800.0, spread=(0.8, 1.2), draw=draw)

    low = [delay(n, 0.0) for n in (1, 2, 3, 11, 40)]
    high = [delay(n, 1.0) for n in (1, 2, 3, 40)]
    assert low == pytest.approx([0.8, 1.6, 3.2, 819.2, 1440.0])
    assert high == pytest.approx([1.2, 2.4, 4.8, 1800.0])  # never past the cap


async def test_a_verdict_whose_reader_was_never_told_is_told_by_the_sweep(
    sessions: SessionFactory, make_relay: RelayFactory
) -> None:
    """The instance that got the outlet's answer died before it could tell the reader."""
    story = await add_story(sessions)
    waiting = await add_comment(sessions, story)
    long_ago = utcnow() - timedelta(minutes=5)
    async with writing(sessions) as session:
        [job] = await outbox.claim_events(session, utcnow(), limit=1, lease=timedelta(seconds=30))
        await outbox.event_delivered(
            session, job.id, now=long_ago, outlet_id="c9", outlet_status="pending", published=False
        )
    told_already = await add_comment(sessions, story, "Another one", user=READER + 1)
    async with writing(sessions) as session:
        [job] = await outbox.claim_events(session, utcnow(), limit=1, lease=timedelta(seconds=30))
        await outbox.event_delivered(
            session,
            job.id,
            now=long_ago,
            outlet_id="c10",
            outlet_status="pending",
            published=False,
        )
        await comment_store.mark_told(session, told_already.id, comment_store.RELAYED)
    notifier = RecordingNotifier()
    relay = make_relay(notifier)
    await relay.start()
    await notifier.wait_for(lambda: bool(notifier.changes))
    await asyncio.sleep(0.2)  # nothing else is coming
    assert [(c.id, c.status) for c, _ in notifier.changes] == [(waiting.id, "relayed")]
    async with sessions() as session:
        assert await comment_store.untold_verdicts(session, utcnow()) == []


async def test_a_comment_waiting_behind_a_paused_relay_gets_its_hourglass_once(
    sessions: SessionFactory, comment_outlet: CommentOutlet, make_relay: RelayFactory
) -> None:
    story = await add_story(sessions)
    async with writing(sessions) as session:
        waiting = await comment_store.add_comment(
            session,
            CommentDraft(READER, READER, next(message_ids), "Shilan A.", "Still here?"),
            story,
            status=comment_store.QUEUED,
            now=utcnow() - timedelta(minutes=11),
            retry_for=timedelta(hours=24),
        )
    comment_outlet.respond(401, {"error": "unknown key"}, times=5)
    notifier = RecordingNotifier()
    relay = make_relay(notifier)
    await relay.start()
    await notifier.wait_for(lambda: bool(notifier.alerts) and bool(notifier.still_trying()))
    await relay.stop()
    # A pause counts no attempts, yet the reader hears that it takes long — once, even
    # after a restart.
    again = make_relay(notifier)
    await again.start()
    await asyncio.sleep(0.3)
    assert notifier.still_trying() == [waiting.id]
    assert (await comment(sessions, waiting.id)).status == comment_store.QUEUED


async def test_a_comment_waiting_while_relaying_is_paused_is_told_why(
    sessions: SessionFactory, comment_outlet: CommentOutlet, make_relay: RelayFactory
) -> None:
    # The outlet refused the endpoint earlier; the pause is the same for every instance.
    notifier = RecordingNotifier()
    relay = make_relay(notifier)
    pause = RelayPause(
        reason="HTTP 401",
        since=utcnow() - timedelta(minutes=30),
        fingerprint=relay.settings.fingerprint,
        probe_at=utcnow() + timedelta(hours=1),
    )
    story = await add_story(sessions)
    async with writing(sessions) as session:
        await set_state(session, PAUSE_KEY, pause.dump(), utcnow())
        waiting = await comment_store.add_comment(
            session,
            CommentDraft(READER, READER, next(message_ids), "Shilan A.", "Kept for later?"),
            story,
            status=comment_store.QUEUED,
            now=utcnow() - timedelta(minutes=11),
            retry_for=timedelta(hours=24),
        )
    assert await relay.is_paused()
    await relay.start()
    await notifier.wait_for(lambda: bool(notifier.still_trying()))
    await relay.stop()
    assert notifier.paused == [waiting.id]
    assert (
        comment_outlet.received == []
    )  # nothing is sent while paused (the probe is an hour away)
    text = status_text(
        (await comment(sessions, waiting.id)), t=texts("en"), still_trying=True, paused=True
    )
    assert text.startswith("⏸ The news site is not accepting comments right now")


async def test_the_relay_notifier_tells_each_reader_in_their_own_language(
    sessions: SessionFactory,
) -> None:
    """Verdicts arrive long after the comment: the reader's chat record says the language."""
    import telegram

    from bot.comment_notify import ReaderCommentNotifier
    from bot.config import load_settings
    from storage import chats as chat_store

    story = await add_story(sessions)
    written = await add_comment(sessions, story)
    settings = load_settings(comments_url="https://o.example/c", default_edition="ar")
    notifier = ReaderCommentNotifier(telegram.Bot("1:x"), settings, sessions)
    # No record of the reader's chat: the default edition's language.
    assert (await notifier.reader_texts(written)).locale == "ar"
    async with writing(sessions) as session:
        await chat_store.touch_chat(
            session, READER, type="private", title="Shilan", language="tr", now=utcnow()
        )
    assert (await notifier.reader_texts(written)).locale == "tr"  # its Telegram language
    async with writing(sessions) as session:
        await chat_store.set_language(session, READER, utcnow(), locale="ckb")
    assert (await notifier.reader_texts(written)).locale == "ckb"  # its own choice
    # Without the database it still answers, in the default edition's language.
    alone = ReaderCommentNotifier(telegram.Bot("1:x"), settings)
    assert (await alone.reader_texts(written)).locale == "ar"


class RecordingBot:
    """Stands in for telegram.Bot: records what the notifier sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, Any]] = []

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> None:
        self.sent.append((chat_id, text, kwargs.get("parse_mode")))


async def test_admin_alerts_reach_each_admin_in_their_own_language(
    sessions: SessionFactory,
) -> None:
    """An alert is worded per admin: the admin whose chat chose Arabic reads it in Arabic."""
    from bot.admin_alerter import AdminAlerter
    from bot.config import load_settings
    from storage import chats as chat_store

    english_admin, arabic_admin = 111, 222
    settings = load_settings(
        comments_url="https://o.example/c", admin_ids=f"{english_admin},{arabic_admin}"
    )
    async with writing(sessions) as session:
        for admin in (english_admin, arabic_admin):
            await chat_store.touch_chat(
                session, admin, type="private", title="Admin", language="en", now=utcnow()
            )
        await chat_store.set_language(session, arabic_admin, utcnow(), locale="ar")
    bot = RecordingBot()
    alerter = AdminAlerter(bot, settings, sessions)  # type: ignore[arg-type]
    alert = AdminAlert(
        FEED_FAILING,
        {"url": "https://x.example/rss", "minutes": 125, "polls": 9, "error": "HTTP <503>"},
    )
    await alerter.alert_admins(alert)

    in_english = alert_text(alert, t=texts("en"))
    in_arabic = alert_text(alert, t=texts("ar"))
    assert in_english == (
        "⚠️ Feed https://x.example/rss has been failing for 2 hours 5 minutes (9 polls): "
        "HTTP &lt;503&gt;"
    )
    assert in_arabic != in_english
    assert "2 hours" not in in_arabic and "https://x.example/rss" in in_arabic
    assert bot.sent == [
        (english_admin, in_english, "HTML"),
        (arabic_admin, in_arabic, "HTML"),
    ]
