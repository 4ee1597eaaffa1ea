"""The comment relay's knobs and its counters."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta


def settings_fingerprint(url: str, secret: bytes | None) -> str:
    """A short hash of the endpoint and the secret: a pause lasts until this changes."""
    digest = hashlib.sha256(url.encode() + b"\0" + (secret or b""))
    return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """The relay's knobs, as plain values from the settings."""

    url: str
    secret: bytes | None  # the HMAC key (COMMENTS_SECRET decoded); None: no signature header
    timeout: float = 10.0
    lease: timedelta = timedelta(seconds=60)
    first_retry: float = 1.0  # seconds before the first retry; doubles with each failure
    max_backoff: float = 30 * 60.0
    concurrency: int = 4  # POSTs in flight at once, per instance
    # The longest the relay sleeps without looking at the outbox: rows written by other
    # instances (which cannot wake this one) are seen within this time.
    idle_wait: float = 20.0
    probe_every: float = 3600.0  # while paused, how often one comment tests the outlet
    stop_grace: float = 5.0  # how long stop() waits for POSTs in flight

    def __post_init__(self) -> None:
        # A lease shorter than a POST would let another instance send the same row again.
        if self.lease.total_seconds() < self.timeout + 5:
            raise ValueError("the lease must outlast the HTTP timeout by a few seconds")

    @property
    def fingerprint(self) -> str:
        """A hash of URL and secret: a pause for a wrong endpoint/secret ends when this changes."""
        return settings_fingerprint(self.url, self.secret)


@dataclass(slots=True)
class RelayStats:
    """What this instance's relay has done since it started (for /stats and tests)."""

    posts: int = 0
    delivered: int = 0
    rejected: int = 0
    retried: int = 0
    expired: int = 0
    paused: bool = False
    last_error: str | None = None
