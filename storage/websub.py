"""WebSub subscriptions: the hub each feed advertises, and the bot's subscription at it.

The leader writes a subscription row (with its callback token and secret) before it asks
the hub, so that the hub's verification, which may come before the hub even answers and
reach any instance behind the load balancer, finds it. Nothing here logs a secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Feed, WebSubSubscription

SUBSCRIBING, ACTIVE, UNSUBSCRIBING, FAILED = "subscribing", "active", "unsubscribing", "failed"


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A subscription, detached from the session."""

    id: int
    feed_id: int
    hub: str
    topic: str
    token: str
    secret: str
    state: str
    lease_seconds: int | None
    expires_at: datetime | None
    requested_at: datetime | None
    verified_at: datetime | None
    next_attempt_at: datetime | None
    failures: int
    last_error: str | None

    def healthy(self, now: datetime) -> bool:
        """Verified by the hub and within its lease: distributions are expected."""
        return self.state == ACTIVE and self.expires_at is not None and self.expires_at > now


@dataclass(frozen=True, slots=True)
class AdvertisedHub:
    """What a feed's last document advertised."""

    feed_id: int
    feed_url: str
    hub: str
    topic: str


def _view(row: WebSubSubscription) -> SubscriptionView:
    assert row.id is not None
    return SubscriptionView(
        id=row.id,
        feed_id=row.feed_id,
        hub=row.hub,
        topic=row.topic,
        token=row.token,
        secret=row.secret,
        state=row.state,
        lease_seconds=row.lease_seconds,
        expires_at=row.expires_at,
        requested_at=row.requested_at,
        verified_at=row.verified_at,
        next_attempt_at=row.next_attempt_at,
        failures=row.failures,
        last_error=row.last_error,
    )


async def record_hub(
    session: AsyncSession, feed_id: int, hub: str | None, topic: str | None
) -> bool:
    """Keep the hub and topic a feed's document advertised; True when they changed."""
    feed = await session.get(Feed, feed_id)
    if feed is None or (feed.websub_hub, feed.websub_topic) == (hub, topic):
        return False
    feed.websub_hub, feed.websub_topic = hub, topic
    return True


async def advertised_hubs(session: AsyncSession, feed_ids: Sequence[int]) -> list[AdvertisedHub]:
    """The configured feeds whose documents advertise a hub."""
    if not feed_ids:
        return []
    rows = (
        await session.exec(
            select(Feed).where(col(Feed.id).in_(list(feed_ids)), col(Feed.websub_hub).is_not(None))
        )
    ).all()
    return [
        AdvertisedHub(f.id or 0, f.url, f.websub_hub or "", f.websub_topic or f.url) for f in rows
    ]


async def subscriptions(session: AsyncSession) -> list[SubscriptionView]:
    """Every subscription row."""
    rows = (await session.exec(select(WebSubSubscription).order_by(WebSubSubscription.id))).all()  # type: ignore[arg-type]
    return [_view(r) for r in rows]


async def by_token(session: AsyncSession, token: str) -> SubscriptionView | None:
    """The subscription a callback URL names."""
    statement = select(WebSubSubscription).where(col(WebSubSubscription.token) == token)
    row = (await session.exec(statement)).first()
    return _view(row) if row else None


async def for_feed(session: AsyncSession, feed_id: int) -> SubscriptionView | None:
    """A feed's subscription, if any."""
    statement = select(WebSubSubscription).where(col(WebSubSubscription.feed_id) == feed_id)
    row = (await session.exec(statement)).first()
    return _view(row) if row else None


async def request_subscription(
    session: AsyncSession,
    feed_id: int,
    *,
    hub: str,
    topic: str,
    token: str,
    secret: str,
    now: datetime,
) -> SubscriptionView:
    """Write (or rewrite) the feed's subscription as being requested, before the hub is
    asked. A renewal keeps its row's token and secret only when the caller passes them."""
    statement = select(WebSubSubscription).where(col(WebSubSubscription.feed_id) == feed_id)
    row = (await session.exec(statement)).first()
    if row is None:
        row = WebSubSubscription(
            feed_id=feed_id,
            hub=hub,
            topic=topic,
            token=token,
            secret=secret,
            state=SUBSCRIBING,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
    else:
        # A renewal of an active lease stays active (and healthy) until the lease ends.
        renewal = row.state == ACTIVE and (row.hub, row.topic) == (hub, topic)
        row.hub, row.topic, row.token, row.secret = hub, topic, token, secret
        row.state = ACTIVE if renewal else SUBSCRIBING
        row.updated_at = now
    row.requested_at = now
    await session.flush()
    return _view(row)


async def request_unsubscription(
    session: AsyncSession, subscription_id: int, now: datetime
) -> None:
    """The subscription is being withdrawn (its feed left FEEDS)."""
    await session.exec(
        update(WebSubSubscription)
        .where(col(WebSubSubscription.id) == subscription_id)
        .values(state=UNSUBSCRIBING, requested_at=now, updated_at=now)
    )


async def record_refusal(
    session: AsyncSession, subscription_id: int, error: str, now: datetime, retry_in: timedelta
) -> None:
    """The hub refused a request (or could not be reached): try again later."""
    row = await session.get(WebSubSubscription, subscription_id)
    if row is None:
        return
    row.failures += 1
    row.last_error = error[:500]
    row.next_attempt_at = now + retry_in
    if row.state == SUBSCRIBING or (row.expires_at is not None and row.expires_at <= now):
        row.state = FAILED
    row.updated_at = now


async def record_verified(
    session: AsyncSession, subscription_id: int, lease_seconds: int, now: datetime
) -> None:
    """The hub verified the subscription: it is active for ``lease_seconds``."""
    await session.exec(
        update(WebSubSubscription)
        .where(col(WebSubSubscription.id) == subscription_id)
        .values(
            state=ACTIVE,
            lease_seconds=lease_seconds,
            verified_at=now,
            expires_at=now + timedelta(seconds=lease_seconds),
            failures=0,
            last_error=None,
            next_attempt_at=None,
            updated_at=now,
        )
    )


async def record_denied(
    session: AsyncSession, subscription_id: int, reason: str, now: datetime, retry_in: timedelta
) -> None:
    """The hub denied the subscription (``hub.mode=denied``)."""
    await session.exec(
        update(WebSubSubscription)
        .where(col(WebSubSubscription.id) == subscription_id)
        .values(
            state=FAILED,
            expires_at=None,
            last_error=f"denied by the hub: {reason}"[:500],
            failures=WebSubSubscription.failures + 1,
            next_attempt_at=now + retry_in,
            updated_at=now,
        )
    )


async def record_content(session: AsyncSession, subscription_id: int, now: datetime) -> None:
    """A signed distribution arrived."""
    await session.exec(
        update(WebSubSubscription)
        .where(col(WebSubSubscription.id) == subscription_id)
        .values(last_content_at=now)
    )


async def remove(session: AsyncSession, subscription_id: int) -> None:
    """The subscription is gone (unsubscribed, or its feed left and the hub will not say)."""
    await session.exec(
        delete(WebSubSubscription).where(col(WebSubSubscription.id) == subscription_id)
    )


async def healthy_feed(session: AsyncSession, feed_id: int, now: datetime) -> bool:
    """Whether the feed has an active subscription within its lease."""
    statement = select(WebSubSubscription.id).where(
        col(WebSubSubscription.feed_id) == feed_id,
        col(WebSubSubscription.state) == ACTIVE,
        col(WebSubSubscription.expires_at) > now,
    )
    return (await session.exec(statement)).first() is not None
