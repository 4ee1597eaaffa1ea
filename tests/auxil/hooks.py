"""The outlet POSTs signed events to the bot's /hooks/outlet (as the README's sender does)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp

from news.standard_webhooks import secret_key, sign

HOOKS_SECRET = "whsec_" + base64.b64encode(b"the site tells the bot, signed").decode()


async def send_event(
    port: int,
    kind: str,
    data: dict[str, Any],
    *,
    message_id: str | None = None,
    when: datetime | None = None,
    secret: str = HOOKS_SECRET,
    body: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST one signed event; its status and JSON answer."""
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    when = when or datetime.now(UTC)
    body = body or json.dumps({"type": kind, "timestamp": when.isoformat(), "data": data})
    headers = {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": sign(secret_key(secret), message_id, when, body),
    }
    url = f"http://127.0.0.1:{port}/hooks/outlet"
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status, await r.json(content_type=None)
