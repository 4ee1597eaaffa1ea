"""Prometheus metrics: what the jobs count as they work, and what is read at scrape time.

Counters and histograms are module-level (prometheus-client's convention: the code that does
the work counts it, wherever it runs). Gauges that describe the database — queue depth, the
oldest waiting push, comments by status — are read when ``/metrics`` is scraped, so they are
true for every instance, leader or not.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import REGISTRY

from news.clock import utcnow
from storage import comments as comment_store
from storage import deliveries as delivery_store
from storage import feeds as feed_store
from storage import outbox
from storage.engine import SessionFactory

FEED_POLLS = Counter(
    "newsbot_feed_polls", "Feed polls by result (ok, not-modified, failed)", ["result"]
)
FEED_POLL_SECONDS = Histogram(
    "newsbot_feed_poll_duration_seconds",
    "Time to fetch, parse and store one feed",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
STORIES = Counter(
    "newsbot_stories_ingested", "Stories stored, by kind (new, updated, backlog)", ["kind"]
)
DELIVERIES = Counter(
    "newsbot_deliveries", "Push messages by result (sent, failed, retried, skipped)", ["result"]
)
RATE_LIMITED = Counter("newsbot_telegram_429", "429 Too Many Requests answers from the Bot API")
UNAUTHORIZED = Counter("newsbot_telegram_401", "401 Unauthorized answers from the Bot API")
COMMENT_WEBHOOKS = Counter(
    "newsbot_comment_webhooks",
    "Webhooks to the outlet by result (delivered, rejected, retried, paused, expired)",
    ["result"],
)

QUEUE_DEPTH = Gauge("newsbot_delivery_queue_depth", "Push messages waiting to be sent")
QUEUE_OLDEST = Gauge(
    "newsbot_delivery_oldest_pending_seconds", "Age of the oldest push message still waiting"
)
SEND_BACKOFF = Gauge(
    "newsbot_send_backoff_seconds", "Seconds left in the current pause after a 429 (0: none)"
)
SEND_RATE = Gauge("newsbot_send_rate", "Push messages sent per second since the last scrape")
SEND_RATE_LIMIT = Gauge(
    "newsbot_send_rate_limit", "Push messages per second the sender may send (SEND_RATE)"
)
COMMENTS = Gauge("newsbot_comments", "Stored comments by status", ["status"])
OUTBOX = Gauge("newsbot_comment_outbox", "Webhooks to the outlet by status", ["status"])
FEEDS_FAILING = Gauge("newsbot_feeds_failing", "Feeds whose last poll failed")
FEED_OLDEST_SUCCESS = Gauge(
    "newsbot_feed_oldest_success_seconds",
    "Seconds since the least recently successful feed last succeeded (a 304 Not Modified is "
    "a success, stored at most a minute apart); feeds that never succeeded are among "
    "newsbot_feeds_failing",
)
LEADER = Gauge("newsbot_leader", "1 while this instance polls feeds and sends pushes")

# The relay's outcome kinds, worded as COMMENT_WEBHOOKS' results.
_WEBHOOK_RESULTS = {"retry": "retried", "pause": "paused"}
_COMMENT_STATES = ("choosing", "held", "queued", "relayed", "published", "rejected", "failed")
_OUTBOX_STATES = ("pending", "sending", "done", "rejected", "expired")


def count_comment_webhook(kind: str, *, expired: bool = False) -> None:
    """One try of an outbox row, by the relay's outcome ``kind`` (delivered, rejected, retry,
    pause), or ``expired`` when it was a retry past the comment's deadline."""
    result = "expired" if expired else _WEBHOOK_RESULTS.get(kind, kind)
    COMMENT_WEBHOOKS.labels(result).inc()


class ScrapeState:
    """What the scrape-time gauges need between two scrapes (for the send rate)."""

    def __init__(self) -> None:
        self._last_sent = 0.0
        self._last_time = time.monotonic()

    def send_rate(self) -> float:
        sent = REGISTRY.get_sample_value("newsbot_deliveries_total", {"result": "sent"}) or 0.0
        now = time.monotonic()
        rate = (sent - self._last_sent) / max(now - self._last_time, 1e-6)
        self._last_sent, self._last_time = sent, now
        return max(rate, 0.0)


async def refresh(
    sessions: SessionFactory,
    state: ScrapeState,
    *,
    backoff_seconds: float = 0.0,
    leader: bool = False,
) -> None:
    """Read the database-backed gauges (called on each scrape)."""
    now = utcnow()
    async with sessions() as session:
        depth, oldest = await delivery_store.queue_stats(session, now)
        comments = await comment_store.comment_counts(session)
        events = await outbox.outbox_counts(session)
        feeds = await feed_store.list_feeds(session)
    QUEUE_DEPTH.set(depth)
    QUEUE_OLDEST.set((now - oldest).total_seconds() if oldest else 0.0)
    for status in _COMMENT_STATES:
        COMMENTS.labels(status).set(comments.get(status, 0))
    for status in _OUTBOX_STATES:
        OUTBOX.labels(status).set(events.get(status, 0))
    FEEDS_FAILING.set(sum(1 for feed in feeds if feed.consecutive_failures))
    ages = [(now - f.last_success_at).total_seconds() for f in feeds if f.last_success_at]
    FEED_OLDEST_SUCCESS.set(max(max(ages, default=0.0), 0.0))
    SEND_BACKOFF.set(max(backoff_seconds, 0.0))
    SEND_RATE.set(state.send_rate())
    LEADER.set(1 if leader else 0)


def exposition(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The Prometheus text format of every metric."""
    return generate_latest(registry)
