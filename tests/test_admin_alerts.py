"""Admin alerts: once per state change, remembered across restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import col

from bot.admin_alert_texts import alert_text
from bot.i18n import texts
from jobs.admin_alerts import AlertMonitor
from news.admin_alerts import AdminAlert
from news.story_draft import StoryDraft
from storage import chats as chat_store
from storage import deliveries as delivery_store
from storage import feeds as feed_store
from storage import stories as story_store
from storage.engine import SessionFactory, writing
from storage.models import PRIORITY_NEW, Delivery

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Inbox:
    def __init__(self) -> None:
        self.messages: list[AdminAlert] = []

    async def __call__(self, alert: AdminAlert) -> None:
        self.messages.append(alert)


def english(alerts: list[AdminAlert]) -> list[str]:
    """The alerts as an English-speaking admin reads them."""
    return [alert_text(alert, t=texts("en")) for alert in alerts]


async def _feed(sessions: SessionFactory) -> int:
    async with writing(sessions) as session:
        [feed] = await feed_store.register_feeds(
            session, [("https://x.example/rss", None, "en")], T0
        )
        await feed_store.record_poll_success(
            session,
            feed.id,
            now=T0 - timedelta(minutes=5),
            etag=None,
            last_modified=None,
            title=None,
        )
    return feed.id


async def _fail(sessions: SessionFactory, feed_id: int, when: datetime) -> None:
    async with writing(sessions) as session:
        await feed_store.record_poll_failure(
            session, feed_id, now=when, error="HTTP 503", next_poll_at=when
        )


async def test_a_feed_failing_for_an_hour_is_announced_once_and_its_recovery_too(
    sessions: SessionFactory,
) -> None:
    feed_id = await _feed(sessions)
    clock, inbox = Clock(), Inbox()
    monitor = AlertMonitor(sessions, inbox, clock=clock)
    await _fail(sessions, feed_id, T0)
    assert await monitor.check() == []

    clock.now = T0 + timedelta(minutes=30)
    await _fail(sessions, feed_id, clock.now)
    assert await monitor.check() == []

    clock.now = T0 + timedelta(minutes=56)
    [alert] = english(await monitor.check())
    assert "https://x.example/rss has been failing for 1 hour 1 minute" in alert
    assert "HTTP 503" in alert
    # Still failing: nothing new to say, also after a restart (a new monitor, same database).
    clock.now += timedelta(minutes=10)
    assert await monitor.check() == []
    assert await AlertMonitor(sessions, inbox, clock=clock).check() == []

    async with writing(sessions) as session:
        await feed_store.record_poll_success(
            session, feed_id, now=clock.now, etag=None, last_modified=None, title=None
        )
    assert english(await monitor.check()) == ["✅ Feed https://x.example/rss works again."]
    assert len(inbox.messages) == 2


async def test_a_short_failure_is_never_announced(sessions: SessionFactory) -> None:
    feed_id = await _feed(sessions)
    clock, inbox = Clock(), Inbox()
    monitor = AlertMonitor(sessions, inbox, clock=clock)
    await _fail(sessions, feed_id, T0)
    await monitor.check()
    async with writing(sessions) as session:
        await feed_store.record_poll_success(
            session, feed_id, now=T0, etag=None, last_modified=None, title=None
        )
    clock.now = T0 + timedelta(hours=3)
    assert await monitor.check() == []
    assert inbox.messages == []


async def test_backlog_and_token_alerts(sessions: SessionFactory) -> None:
    clock, inbox = Clock(), Inbox()
    refused = [False]
    monitor = AlertMonitor(sessions, inbox, clock=clock, token_refused=lambda: refused[0])
    async with writing(sessions) as session:
        [feed] = await feed_store.register_feeds(
            session, [("https://x.example/rss", "n", "en")], T0
        )
        policy = story_store.IngestPolicy(now=T0)
        outcome = await story_store.store_feed_items(
            session,
            feed.id,
            [(StoryDraft(identity="guid:1", title="A", link=None), ["n"])],
            policy,
        )
        recipients = []
        for chat_id in range(1, 4):
            await chat_store.touch_chat(
                session, chat_id, type="private", title=None, language=None, now=T0
            )
            recipients.append((delivery_store.Recipient(chat_id, 0, None, None, None), None))
        await delivery_store.add_deliveries(
            session, outcome.backlog[0].id, "push", PRIORITY_NEW, recipients, T0
        )
    clock.now = T0 + timedelta(minutes=10)
    assert await monitor.check() == []
    clock.now = T0 + timedelta(minutes=16)
    refused[0] = True
    alerts = english(await monitor.check())
    assert any("refuses the bot token (401)" in a for a in alerts)
    assert any(a.startswith("⚠️ 3 pushes are waiting; the oldest for 16 minutes") for a in alerts)

    async with writing(sessions) as session:
        await session.exec(update(Delivery).where(col(Delivery.id) > 0).values(status="sent"))
    refused[0] = False
    assert sorted(english(await monitor.check())) == [
        "✅ The Bot API accepts the bot token again; pushes resumed.",
        "✅ The push backlog has cleared.",
    ]


async def test_an_alert_that_cannot_be_sent_does_not_stop_the_checks(
    sessions: SessionFactory,
) -> None:
    async def broken(_alert: AdminAlert) -> None:
        raise ConnectionError("Telegram unreachable")

    monitor = AlertMonitor(sessions, broken, token_refused=lambda: True, clock=Clock())
    assert len(await monitor.check()) == 1
    # Announced (and logged) even though the chat message failed: not repeated every minute.
    assert await monitor.check() == []
