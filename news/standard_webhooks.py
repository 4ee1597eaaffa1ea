"""The Standard Webhooks signature rule, both ways: the comments we send, the events we receive.

One rule (https://www.standardwebhooks.com/): ``webhook-signature`` is ``v1,`` + base64 of
HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}``, keyed with the secret
(``whsec_<base64>`` decoded, any other string as its UTF-8 bytes). Signing is the
``standardwebhooks`` library's own, so what we send is exactly what outlets' off-the-shelf
verifiers expect; verifying recomputes that signature with the same call, and reads the
timestamp against a clock the caller gives (the library's own verifier reads the wall clock).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from standardwebhooks import Webhook

# Messages further than this from our clock are refused, either way (the specification's).
TOLERANCE = timedelta(minutes=5)
# Header values longer than these are not Standard Webhooks headers: refused before any HMAC.
MAX_ID_LENGTH = 256
MAX_SIGNATURE_HEADER = 1024


def secret_key(raw: str) -> bytes:
    """A secret as the HMAC key: ``whsec_<base64>`` decoded, any other string as UTF-8.

    The Standard Webhooks form is what outlets' tools are given, so it is decoded exactly as
    they decode it (standard base64, padding optional); anything else is used as it is.
    """
    if not raw.startswith("whsec_"):
        return raw.encode()
    encoded = raw.removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError("it starts with whsec_ but the rest is not valid base64") from None
    if not key:
        raise ValueError("it starts with whsec_ but holds no key after it")
    return key


def sign(key: bytes, message_id: str, timestamp: datetime, body: bytes | str) -> str:
    """The ``webhook-signature`` value for one message (whole seconds of ``timestamp``)."""
    return Webhook(key).sign(message_id, timestamp, body)


class SignatureError(Exception):
    """A message that is not verifiably ours to accept; ``reason`` is one short phrase."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SignedHeaders:
    """The three Standard Webhooks headers of a request, as sent."""

    message_id: str
    timestamp: datetime
    signatures: tuple[str, ...]


def read_headers(headers: Mapping[str, str], now: datetime) -> SignedHeaders:
    """The headers, checked for presence, size and timestamp, before any body is read.

    This is the cheap part of the check: a flood of unsigned or stale requests is refused
    here without an HMAC or a read of its body.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    message_id = lowered.get("webhook-id", "")
    raw_timestamp = lowered.get("webhook-timestamp", "")
    signature = lowered.get("webhook-signature", "")
    if not (message_id and raw_timestamp and signature):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    if len(message_id) > MAX_ID_LENGTH or len(signature) > MAX_SIGNATURE_HEADER:
        raise SignatureError("oversized signature headers")
    if not raw_timestamp.isascii() or not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
        raise SignatureError("webhook-timestamp is not a number of seconds")
    timestamp = datetime.fromtimestamp(int(raw_timestamp), UTC)
    if abs(timestamp - now) > TOLERANCE:
        raise SignatureError("webhook-timestamp is more than five minutes away")
    versioned = tuple(s for s in signature.split(" ") if s.startswith("v1,"))
    if not versioned:
        raise SignatureError("no v1 signature")
    return SignedHeaders(message_id, timestamp, versioned)


def verify(key: bytes, signed: SignedHeaders, body: bytes) -> None:
    """Raise SignatureError unless one of the signatures is ours for this body."""
    expected = sign(key, signed.message_id, signed.timestamp, body).encode()
    if not any(hmac.compare_digest(expected, s.encode()) for s in signed.signatures):
        raise SignatureError("wrong signature")
