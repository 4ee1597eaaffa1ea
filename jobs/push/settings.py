"""The fan-out's knobs and its counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from news.clock import utcnow


@dataclass(frozen=True, slots=True)
class FanoutSettings:
    """The fan-out knobs, as plain values from the settings."""

    send_rate: int = 25
    paid_broadcast: bool = False
    default_timezone: str = "UTC"
    default_edition: str = "en"
    comment_window: timedelta = timedelta(days=7)
    push_max_age: timedelta = timedelta(hours=6)
    enumerate_batch: int = 500
    max_ahead: int = 2000  # pending deliveries the enumerator may run ahead of the sender
    max_in_flight: int = 32
    flush_interval: float = 0.05


@dataclass(slots=True)
class FanoutStats:
    """Counters for /stats and the logs."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    rate_limited: int = 0
    grouped: int = 0
    last_error: str | None = None
    started_at: datetime = field(default_factory=utcnow)
    # Set when the Bot API refused the token (401), cleared by the next message it accepts.
    unauthorized: bool = False
