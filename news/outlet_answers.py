"""What the outlet's answer to a comment webhook means, and the reasons a reader is told.

Pure: the HTTP status, the headers and the body's bytes in, what the relay records out.

- 2xx: the outlet has the comment (published, or held for its own moderation).
- 403, 413, 422 and other 4xx: a verdict on this comment; never retried.
- 408, 409, 429, 5xx: worth another try, honouring Retry-After.
- 401, 404, 410 (and redirects): the endpoint or the secret is wrong, not the comment:
  relaying pauses (``pause_alert`` says what to tell the admins).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from news.admin_alerts import (
    RELAY_BAD_SECRET,
    RELAY_MOVED,
    RELAY_NO_ENDPOINT,
    RELAY_PAUSED,
    AdminAlert,
)
from news.plain_text import clean_plain
from news.retry_timing import parse_retry_after

# The event a new comment is sent as (``storage.comments.CREATED``); every other event deletes.
CREATED_EVENT = "comment.created"
REASON_LIMIT = 200

# Statuses that say the endpoint or the secret is wrong, whatever the comment.
MISCONFIGURED = frozenset({401, 404, 410})
# 4xx that are about timing or conflicts, not about the comment: worth another try.
RETRYABLE_4XX = frozenset({408, 409, 429})

# Why a comment was refused or failed, as the reader is told it: stored (comment.reason) as
# a language-free code with its figures, "relay:refused?status=418", and worded in the
# reader's language when shown (bot.comment_texts.relay_reason). An outlet's own explanation
# is stored as it came, and so are the English sentences stored before codes existed.
REASON_PREFIX = "relay:"
REASON_UNREADABLE = "unreadable"  # 400, 415
REASON_REFUSED_HERE = "refused_here"  # 403: comments may be closed on the article
REASON_TOO_LONG = "too_long"  # 413
REASON_NOT_ACCEPTED = "not_accepted"  # 422
REASON_REFUSED = "refused"  # any other 4xx verdict; figures: status
REASON_UNREACHABLE = "unreachable"  # retries ran out; figures: minutes tried

_PLAIN_REASONS = {
    400: REASON_UNREADABLE,
    403: REASON_REFUSED_HERE,
    413: REASON_TOO_LONG,
    415: REASON_UNREADABLE,
    422: REASON_NOT_ACCEPTED,
}


def reason_code(code: str, **figures: int) -> str:
    """A reason for the reader, as stored: ``relay:<code>`` with its figures as a query."""
    query = "&".join(f"{key}={value}" for key, value in sorted(figures.items()))
    return f"{REASON_PREFIX}{code}{'?' + query if query else ''}"


def parse_reason(reason: str | None) -> tuple[str, dict[str, int]] | None:
    """A stored reason's code and figures; None when it is words (the outlet's own, or a
    sentence stored before codes existed), to be shown as they are."""
    if not reason or not reason.startswith(REASON_PREFIX):
        return None
    code, _, query = reason.removeprefix(REASON_PREFIX).partition("?")
    figures: dict[str, int] = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        if not value.isdigit():
            return None
        figures[key] = int(value)
    return (code, figures) if code.isidentifier() else None


OutcomeKind = Literal["delivered", "rejected", "retry", "pause"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to record for one POST."""

    kind: OutcomeKind
    status: int | None = None  # the HTTP status; None for a timeout or a connection error
    published: bool = False
    outlet_id: str | None = None
    outlet_status: str | None = None
    # For ``rejected``, what the reader is told: a reason code (``reason_code``) or the
    # outlet's own words; otherwise what went wrong, for the logs.
    reason: str = ""
    retry_after: float | None = None  # seconds, from the Retry-After header

    @property
    def endpoint_works(self) -> bool:
        """The outlet read the comment and answered it: the URL and the secret are right."""
        return self.kind in ("delivered", "rejected") and self.status not in MISCONFIGURED


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; empty when it is not one (or not JSON at all)."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def outlet_reason(body: Mapping[str, Any]) -> str | None:
    """The outlet's own explanation, as one short line of plain text."""
    for key in ("reason", "message", "error", "detail"):
        value = body.get(key)
        if isinstance(value, dict):  # {"error": {"message": "..."}}
            value = value.get("message") or value.get("reason")
        if isinstance(value, str) and value.strip():
            return clean_plain(value, REASON_LIMIT)
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever the case of its name (HTTP names are case-insensitive)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def classify_answer(
    event_type: str, status: int, raw: bytes, headers: Mapping[str, str], now: datetime
) -> Outcome:
    """Turn the outlet's HTTP answer to one webhook into what the relay records."""
    body = json_object(raw)
    if 200 <= status < 300:
        outlet_status = body.get("status") if isinstance(body.get("status"), str) else None
        outlet_id = body.get("id")
        # 202: accepted for the outlet's own moderation, unless the body says approved.
        published = outlet_status == "approved" if status == 202 else outlet_status != "pending"
        return Outcome(
            "delivered",
            status,
            published=published,
            outlet_id=str(outlet_id) if isinstance(outlet_id, str | int) else None,
            outlet_status=outlet_status,
        )
    if event_type != CREATED_EVENT and status in (404, 410):
        # Deleting what the outlet does not have (any more) is done.
        return Outcome("delivered", status, reason=f"HTTP {status}: nothing to delete")
    if status in MISCONFIGURED or 300 <= status < 400:
        return Outcome("pause", status, reason=f"HTTP {status}")
    if 400 <= status < 500 and status not in RETRYABLE_4XX:
        code = _PLAIN_REASONS.get(status)
        reason = outlet_reason(body) or (
            reason_code(code) if code else reason_code(REASON_REFUSED, status=status)
        )
        return Outcome("rejected", status, reason=reason)
    return Outcome(
        "retry",
        status,
        reason=f"HTTP {status}",
        retry_after=parse_retry_after(_header(headers, "Retry-After"), now),
    )


def pause_alert(status: int | None) -> AdminAlert:
    """The admins' alert for a pause: the outlet's answer and what it says to fix."""
    if status == 401:
        cause = RELAY_BAD_SECRET  # it refused the signature: COMMENTS_SECRET is probably wrong
    elif status is not None and 300 <= status < 400:
        cause = RELAY_MOVED  # the endpoint has moved: COMMENTS_URL needs updating
    else:
        cause = RELAY_NO_ENDPOINT  # no such endpoint: COMMENTS_URL is probably wrong
    params: dict[str, str | int | float] = {"cause": cause}
    if status is not None:
        params["status"] = status
    return AdminAlert(RELAY_PAUSED, params)
