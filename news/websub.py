"""WebSub (W3C Recommendation, 2018) as the bot's rules: pure, no I/O.

- ``X-Hub-Signature: <method>=<hex HMAC of the body>`` with the subscription's ``hub.secret``
  (sha1, sha256, sha384 or sha512, as the spec allows): ``signature_matches``.
- The hub's verification of intent (``GET callback?hub.mode=…&hub.topic=…&hub.challenge=…``)
  read into a ``Verification`` (``read_verification``), or refused.
- When to renew a lease (``renew_at``) and how long to wait after a failed request
  (``retry_delay``).
- Whether a hub may be given a secret over its scheme (``hub_allowed``): a secret sent in
  clear to a public hub could be read on the way and used to forge distributions, so a
  public hub must be https; a hub on the operator's own network may be http.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

SUBSCRIBE, UNSUBSCRIBE, DENIED = "subscribe", "unsubscribe", "denied"
# Methods the spec names; sha1 is still what many hubs sign with.
_METHODS = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
# The hub.challenge we echo: the spec sets no limit; a real one is a few dozen characters.
CHALLENGE_MAX = 512
# A lease renewed this far before it ends (a tenth of it, at least a minute, at most a day)
# survives a hub that is down for a while when the renewal is due.
RENEW_SHARE = 0.1
RENEW_MIN = timedelta(seconds=60)
RENEW_MAX = timedelta(days=1)


class VerificationRefused(ValueError):
    """The verification request is not one the bot asked for; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Verification:
    """The hub's verification of intent (or its denial of a subscription)."""

    mode: str  # subscribe, unsubscribe or denied
    topic: str
    challenge: str | None  # None for "denied"
    lease_seconds: int | None
    reason: str | None = None  # hub.reason of a denial


def signature_matches(secret: bytes, header: str | None, body: bytes) -> bool:
    """Whether ``X-Hub-Signature`` is the HMAC of ``body`` under ``secret`` (constant time)."""
    if not header or "=" not in header:
        return False
    method, _, given = header.strip().partition("=")
    digest = _METHODS.get(method.strip().lower())
    if digest is None or not given:
        return False
    expected = hmac.new(secret, body, digest).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


def sign(secret: bytes, body: bytes, method: str = "sha256") -> str:
    """The ``X-Hub-Signature`` value a hub sends with ``body`` (for tests and benchmarks)."""
    return f"{method}={hmac.new(secret, body, _METHODS[method]).hexdigest()}"


def read_verification(query: Mapping[str, str]) -> Verification:
    """The hub's GET parameters as a Verification; VerificationRefused when malformed."""
    mode = (query.get("hub.mode") or "").strip().lower()
    topic = (query.get("hub.topic") or "").strip()
    if mode not in (SUBSCRIBE, UNSUBSCRIBE, DENIED):
        raise VerificationRefused("hub.mode must be subscribe, unsubscribe or denied")
    if not topic:
        raise VerificationRefused("hub.topic is missing")
    if mode == DENIED:
        return Verification(mode, topic, None, None, (query.get("hub.reason") or "")[:200])
    challenge = query.get("hub.challenge") or ""
    if not challenge or len(challenge) > CHALLENGE_MAX:
        raise VerificationRefused("hub.challenge is missing or too long")
    lease: int | None = None
    raw_lease = (query.get("hub.lease_seconds") or "").strip()
    if raw_lease:
        if not raw_lease.isdigit() or len(raw_lease) > 10:
            raise VerificationRefused("hub.lease_seconds is not a number of seconds")
        lease = int(raw_lease)
    if mode == SUBSCRIBE and lease is None:
        raise VerificationRefused("hub.lease_seconds is missing")
    return Verification(mode, topic, challenge, lease)


def renew_at(verified_at: datetime, lease_seconds: int) -> datetime:
    """When a lease granted at ``verified_at`` is renewed: before it ends, with a margin."""
    lease = timedelta(seconds=lease_seconds)
    margin = min(max(lease * RENEW_SHARE, RENEW_MIN), RENEW_MAX)
    # A lease shorter than twice the minimum margin is renewed at half-time.
    margin = min(margin, lease / 2)
    return verified_at + lease - margin


def retry_delay(failures: int, *, first: float = 30.0, cap: float = 3600.0) -> float:
    """Seconds before a failed subscription request is tried again (doubling, capped)."""
    return float(min(cap, first * 2 ** max(0, failures - 1)))


def hub_allowed(hub: str, *, internal: bool) -> str | None:
    """None when ``hub`` may be subscribed to with a secret, else the reason it may not."""
    scheme = hub.partition("://")[0].lower()
    if scheme == "https" or (scheme == "http" and internal):
        return None
    if scheme == "http":
        return "the hub is public and not https: its secret would travel in clear"
    return "the hub is not an http(s) URL"
