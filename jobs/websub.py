"""WebSub: subscribing to the hubs feeds advertise, and taking what the hubs push.

``WebSubSubscriber`` is the leader's (a registry entry): for each configured feed whose
last polled document advertises a hub (``<atom:link rel="hub">``, ``<link rel="hub">``, a
JSON Feed's ``hubs``), it writes the subscription (a random callback token and secret)
before it asks the hub, renews the lease before it ends (``news.websub.renew_at``), asks
again with back-off when the hub refuses or never verifies, and unsubscribes when the feed
leaves FEEDS or stops advertising the hub.

``WebSubCallbacks`` is every instance's (the hooks listener calls it, and a load balancer
may send the hub to any instance): it answers the hub's verification of intent from the
database (the mode and topic must be the ones the bot asked for, and the topic a configured
feed's), and ingests a distribution at once once its ``X-Hub-Signature`` matches the
subscription's secret, by the poller's own rules (``FeedPoller.ingest_pushed``). Polling goes
on as the safety net, every ``WEBSUB_POLL_INTERVAL`` while the subscription is healthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp

from jobs.clients.hubs import HubError, ask_hub, hub_is_internal
from jobs.ingestion import FeedPoller, PollReport
from jobs.waking import run_until_stopped
from news.clock import utcnow
from news.websub import (
    DENIED,
    SUBSCRIBE,
    UNSUBSCRIBE,
    VerificationRefused,
    hub_allowed,
    read_verification,
    renew_at,
    retry_delay,
    signature_matches,
)
from storage import websub as store
from storage.engine import SessionFactory, writing
from storage.feeds import FeedView
from storage.websub import AdvertisedHub, SubscriptionView

log = logging.getLogger(__name__)

CALLBACK_PATH = "/hooks/websub/"
TOKEN_BYTES = 24  # the callback's path token: 32 URL-safe characters


def callback_url(public_url: str, token: str) -> str:
    """The callback a subscription gives the hub."""
    return f"{public_url.rstrip('/')}{CALLBACK_PATH}{token}"


@dataclass(frozen=True, slots=True)
class WebSubSettings:
    """The subscriber's knobs."""

    public_url: str  # PUBLIC_URL: where the hooks listener is reached from outside
    lease_seconds: int = 10 * 86400  # asked of the hub; the hub decides
    timeout: float = 10.0
    check_every: float = 300.0  # the longest sleep between two looks at the subscriptions
    # A hub that accepted a request but has not verified it by then is asked again.
    verify_within: timedelta = timedelta(minutes=5)
    # An unsubscription the hub neither verifies nor accepts after this many tries is let go
    # (the lease runs out at the hub).
    unsubscribe_tries: int = 3
    # How soon a request the hub has not verified yet is looked at again.
    pending_look: float = 1.0


class WebSubSubscriber:
    """Keeps a subscription at each advertising feed's hub; ``start()`` / ``stop()``."""

    def __init__(
        self,
        sessions: SessionFactory,
        http: aiohttp.ClientSession,
        feeds: Sequence[FeedView],
        settings: WebSubSettings,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._http = http
        self._feeds = {f.id: f for f in feeds}
        self.settings = settings
        self._clock = clock
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._refused_hubs: set[str] = set()  # hubs logged as refused, once each

    def wake(self) -> None:
        """A feed's advertised hub changed: look now."""
        self._wake.set()

    async def start(self) -> None:
        """Subscribe, renew and unsubscribe in the background until ``stop()``."""
        if self._task is not None and not self._task.done():
            return
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="websub-subscriber")

    async def stop(self) -> None:
        """Stop; a request under way is abandoned (the next leader asks again)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        await run_until_stopped(
            self.tend_subscriptions,
            self._wake,
            lambda: self._stopping,
            failed="websub: looking at the subscriptions failed",
            wait_after_failure=30.0,
        )

    async def tend_subscriptions(self) -> float:
        """Do what is due; return the seconds until something next is."""
        now = self._clock()
        async with self._sessions() as session:
            advertised = await store.advertised_hubs(session, list(self._feeds))
            current = await store.subscriptions(session)
        wanted = {a.feed_id: a for a in advertised}
        soonest = now + timedelta(seconds=self.settings.check_every)
        for subscription in current:
            offer = wanted.pop(subscription.feed_id, None)
            if offer is None:
                await self._withdraw(subscription, now)
                continue
            if (offer.hub, offer.topic) != (subscription.hub, subscription.topic):
                # The feed moved to another hub or topic: subscribe there afresh; the old
                # lease runs out (and its callback answers 410 Gone meanwhile).
                await self._subscribe(offer, None, now)
                continue
            due = self._due(subscription, now)
            if due <= now:
                await self._subscribe(offer, subscription, now)
                due = now
            soonest = min(soonest, due)
            if self._awaiting_verification(subscription) or due == now:
                # The verification reaches whichever instance the balancer picks, which
                # cannot wake this one: look at the row again shortly.
                soonest = min(soonest, now + timedelta(seconds=self.settings.pending_look))
        for offer in wanted.values():
            await self._subscribe(offer, None, now)
            soonest = min(soonest, now + timedelta(seconds=self.settings.pending_look))
        return max(0.05, (soonest - self._clock()).total_seconds())

    @staticmethod
    def _awaiting_verification(subscription: SubscriptionView) -> bool:
        """Asked of the hub (a subscription or a renewal) and not verified since."""
        if subscription.state == store.SUBSCRIBING:
            return True
        return bool(
            subscription.state == store.ACTIVE
            and subscription.requested_at
            and subscription.verified_at
            and subscription.requested_at > subscription.verified_at
        )

    def _due(self, subscription: SubscriptionView, now: datetime) -> datetime:
        """When a subscription is next to be asked for (renewed, retried, re-requested)."""
        if subscription.state == store.ACTIVE and subscription.failures:
            return subscription.next_attempt_at or now  # a renewal the hub refused
        if subscription.state == store.ACTIVE and subscription.verified_at is not None:
            lease = subscription.lease_seconds or 0
            renewal = renew_at(subscription.verified_at, lease)
            # A renewal asked for and not verified yet is asked again after verify_within.
            if subscription.requested_at and subscription.requested_at > subscription.verified_at:
                return max(renewal, subscription.requested_at + self.settings.verify_within)
            return renewal
        if subscription.state == store.FAILED:
            return subscription.next_attempt_at or now
        if subscription.state == store.SUBSCRIBING:
            requested = subscription.requested_at or now
            return requested + self.settings.verify_within
        return now

    async def _subscribe(
        self, offer: AdvertisedHub, existing: SubscriptionView | None, now: datetime
    ) -> None:
        """Write the subscription, then ask the hub (it may verify before it answers)."""
        internal = await hub_is_internal(self._http, offer.hub)
        refusal = hub_allowed(offer.hub, internal=internal)
        if refusal is not None:
            if offer.hub not in self._refused_hubs:
                self._refused_hubs.add(offer.hub)
                log.warning("feed=%s: not subscribing at its hub: %s", offer.feed_url, refusal)
            return
        renewal = existing is not None and existing.state == store.ACTIVE
        # A renewal keeps its callback and secret (the hub knows them); anything else starts
        # afresh, so a secret that may have leaked with a failed attempt is not reused.
        token = existing.token if renewal and existing else secrets.token_urlsafe(TOKEN_BYTES)
        secret = existing.secret if renewal and existing else secrets.token_urlsafe(32)
        async with writing(self._sessions) as session:
            subscription = await store.request_subscription(
                session,
                offer.feed_id,
                hub=offer.hub,
                topic=offer.topic,
                token=token,
                secret=secret,
                now=now,
            )
        form = {
            "hub.mode": SUBSCRIBE,
            "hub.topic": offer.topic,
            "hub.callback": callback_url(self.settings.public_url, token),
            "hub.lease_seconds": str(self.settings.lease_seconds),
            "hub.secret": secret,
        }
        try:
            await ask_hub(
                self._http,
                offer.hub,
                form,
                feed_url=offer.feed_url,
                timeout=self.settings.timeout,
            )
        except HubError as exc:
            delay = retry_delay(subscription.failures + 1)
            async with writing(self._sessions) as session:
                await store.record_refusal(
                    session, subscription.id, exc.reason, self._clock(), timedelta(seconds=delay)
                )
            log.warning(
                "feed=%s: the hub refused the subscription (%s); next try in %.0f s",
                offer.feed_url,
                exc.reason,
                delay,
            )
            return
        log.info(
            "feed=%s: %s at its hub, waiting for the hub's verification",
            offer.feed_url,
            "renewal asked" if renewal else "subscription asked",
        )

    async def _withdraw(self, subscription: SubscriptionView, now: datetime) -> None:
        """Unsubscribe (the feed left FEEDS or its hub changed); let go after a few tries."""
        if (
            subscription.state == store.UNSUBSCRIBING
            and subscription.requested_at
            and subscription.requested_at + self.settings.verify_within > now
        ):
            return  # asked; the hub's verification removes the row
        if subscription.state != store.ACTIVE and subscription.verified_at is None:
            # Never verified: the hub holds nothing worth withdrawing.
            async with writing(self._sessions) as session:
                await store.remove(session, subscription.id)
            return
        async with writing(self._sessions) as session:
            await store.request_unsubscription(session, subscription.id, now)
        form = {
            "hub.mode": UNSUBSCRIBE,
            "hub.topic": subscription.topic,
            "hub.callback": callback_url(self.settings.public_url, subscription.token),
        }
        try:
            await ask_hub(
                self._http,
                subscription.hub,
                form,
                feed_url=self._feed_url(subscription),
                timeout=self.settings.timeout,
            )
        except HubError as exc:
            async with writing(self._sessions) as session:
                if subscription.failures + 1 >= self.settings.unsubscribe_tries:
                    await store.remove(session, subscription.id)
                else:
                    await store.record_refusal(
                        session, subscription.id, exc.reason, now, timedelta(0)
                    )
            log.warning("websub: unsubscribing from %s failed: %s", subscription.topic, exc.reason)
            return
        log.info("websub: unsubscription from %s asked", subscription.topic)

    def _feed_url(self, subscription: SubscriptionView) -> str:
        feed = self._feeds.get(subscription.feed_id)
        # A feed that left FEEDS: its topic stands for it (the guard judges that address).
        return feed.url if feed is not None else subscription.topic


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer to the hub: status and plain-text body."""

    status: int
    text: str


class WebSubCallbacks:
    """Every instance's side of WebSub: verifications and distributions, from the database."""

    def __init__(
        self,
        sessions: SessionFactory,
        poller: FeedPoller,
        feeds: Sequence[FeedView],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._poller = poller
        self._feeds = {f.id: f for f in feeds}
        self._clock = clock

    async def subscription(self, token: str) -> SubscriptionView | None:
        """The live subscription a callback names (None: unknown, or its feed left FEEDS)."""
        async with self._sessions() as session:
            subscription = await store.by_token(session, token)
        if subscription is None or subscription.feed_id not in self._feeds:
            return None
        return subscription

    async def verify(self, token: str, query: dict[str, str]) -> Answer:
        """The hub's verification of intent: the challenge when the bot asked for exactly
        this, else 404 (the spec's "does not agree")."""
        try:
            verification = read_verification(query)
        except VerificationRefused as exc:
            return Answer(404, exc.reason)
        async with self._sessions() as session:
            subscription = await store.by_token(session, token)
        if subscription is None or verification.topic != subscription.topic:
            return Answer(404, "no such subscription")
        now = self._clock()
        configured = subscription.feed_id in self._feeds
        mode = verification.mode
        if mode == SUBSCRIBE:
            if not configured or subscription.state == store.UNSUBSCRIBING:
                return Answer(404, "not subscribing to this topic")
            lease = verification.lease_seconds or 0
            async with writing(self._sessions) as session:
                await store.record_verified(session, subscription.id, lease, now)
            log.info("websub: subscription to %s verified for %d s", subscription.topic, lease)
            return Answer(200, verification.challenge or "")
        if mode == UNSUBSCRIBE:
            if configured and subscription.state != store.UNSUBSCRIBING:
                return Answer(404, "not unsubscribing from this topic")
            async with writing(self._sessions) as session:
                await store.remove(session, subscription.id)
            log.info("websub: unsubscribed from %s", subscription.topic)
            return Answer(200, verification.challenge or "")
        assert mode == DENIED
        async with writing(self._sessions) as session:
            await store.record_denied(
                session,
                subscription.id,
                verification.reason or "",
                now,
                timedelta(seconds=retry_delay(subscription.failures + 1)),
            )
        log.warning(
            "websub: the hub denied the subscription to %s: %s",
            subscription.topic,
            verification.reason or "no reason given",
        )
        return Answer(200, "ok")

    async def distribute(
        self,
        subscription: SubscriptionView,
        signature: str | None,
        body: bytes,
        content_type: str | None,
    ) -> Answer:
        """A hub's distribution: checked against the subscription's secret before anything
        reads it, then stored at once by the poller's rules."""
        if subscription.state == store.UNSUBSCRIBING:
            return Answer(410, "unsubscribed")
        if not signature_matches(subscription.secret.encode(), signature, body):
            log.warning("websub: refused a distribution for %s: bad signature", subscription.topic)
            return Answer(403, "bad signature")
        try:
            report: PollReport = await self._poller.ingest_pushed(
                subscription.feed_id, body, content_type
            )
        except Exception:
            log.exception("websub: could not store a distribution for %s", subscription.topic)
            return Answer(503, "could not store it; retry")
        if report.status == "failed":
            error = report.error or "failed"
            # A document that is no feed is the hub's to fix; anything else, ours: retry.
            return Answer(400 if error.startswith("pushed document") else 503, error)
        async with writing(self._sessions) as session:
            await store.record_content(session, subscription.id, self._clock())
        log.info(
            "websub: feed=%s pushed: new=%d updated=%d",
            report.feed.url,
            len(report.outcome.new),
            len(report.outcome.updated),
        )
        return Answer(200, "ok")
