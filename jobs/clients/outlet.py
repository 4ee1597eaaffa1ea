"""The outlet's seam: one comment webhook, signed as a Standard Webhook and POSTed.

The answer comes back as it was (status, headers, the first ``MAX_ANSWER_BYTES`` of the
body) for ``news.outlet_answers.classify_answer`` to read; no answer at all (a timeout, a
refused connection) raises ``OutletUnreachable``. Redirects are not followed: one would turn
the POST into a GET.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from news.standard_webhooks import sign

# The outlet's answer is read only this far: enough for an id, a status and a reason.
MAX_ANSWER_BYTES = 64 * 1024


class OutletUnreachable(Exception):
    """The outlet gave no answer: what went wrong, in a few words for the logs."""


@dataclass(frozen=True, slots=True)
class OutletAnswer:
    """The outlet's HTTP answer to one webhook."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class OutletClient:
    """POSTs webhooks to ``url`` through the relay's HTTP session, signed with ``secret``
    (COMMENTS_SECRET decoded; None: no signature header)."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        url: str,
        secret: bytes | None,
        *,
        timeout: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._http = http
        self._url = url
        self._timeout = timeout
        self._clock = clock
        self._secret = secret

    async def post(self, webhook_id: str, payload: Mapping[str, Any]) -> OutletAnswer:
        """Send one webhook (``webhook_id`` is the outlet's idempotency key) and return its
        answer; raises ``OutletUnreachable`` when there is none."""
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        try:
            async with self._http.post(
                self._url,
                data=text.encode(),
                headers=self._headers(webhook_id, text),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                allow_redirects=False,  # a redirect would turn the POST into a GET
            ) as response:
                body = await response.content.read(MAX_ANSWER_BYTES)
                return OutletAnswer(response.status, dict(response.headers), body)
        except TimeoutError as exc:
            raise OutletUnreachable("no answer in time") from exc
        except aiohttp.ClientError as exc:
            raise OutletUnreachable(f"connection failed ({type(exc).__name__})") from exc

    def _headers(self, webhook_id: str, body: str) -> dict[str, str]:
        # Whole seconds: the header carries them, and the signature must cover the same value.
        sent_at = datetime.fromtimestamp(math.floor(self._clock().timestamp()), UTC)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
        }
        if self._secret:
            headers["webhook-signature"] = sign(self._secret, webhook_id, sent_at, body)
        return headers
