"""A local comment outlet: receives Standard Webhooks, verifies them, answers as scripted.

``async with CommentOutlet(secret) as outlet:`` serves ``outlet.url`` (``…/comments``) on
127.0.0.1. Every request is recorded in ``outlet.received``; the comments the outlet holds
are in ``outlet.stored`` (one per webhook id, as an idempotent receiver keeps them).

Default answers, when nothing is scripted:

- ``comment.created``: 201 ``{"id": "c<n>", "status": "pending"}``; a repeat of a webhook id
  already stored gets the same answer again (same id), and stores nothing new.
- ``comment.deleted``: 200 and the comment leaves ``stored`` when the payload names a stored
  comment (by ``data.comment.id`` or ``data.comment.webhook_id``), else 404.

With a secret, a request whose signature does not verify is answered 401 and recorded with
``verified=False`` (before any script is used). The secret is read as COMMENTS_SECRET is:
``whsec_<base64>`` by the ``standardwebhooks`` library itself, any other string as the raw key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError


def verifier(secret: str) -> Webhook:
    """The outlet's verifier for COMMENTS_SECRET: the library's own decoding of ``whsec_``
    keys (what a real outlet runs), any other string as its UTF-8 bytes."""
    return Webhook(secret if secret.startswith("whsec_") else secret.encode())


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the outlet saw it, and what it answered."""

    webhook_id: str | None
    timestamp: str | None  # the webhook-timestamp header, as sent
    headers: dict[str, str]  # lower-case names
    body: Any  # the parsed JSON body (None if it was not JSON)
    raw: bytes
    verified: bool | None  # None: the outlet has no secret, so nothing was checked
    status: int  # what the outlet answered (or, for a hung request, would have answered)


@dataclass(slots=True)
class _Answer:
    status: int | None  # None: the default answer
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    store: bool = True  # for a hang: does the outlet keep the comment it answers too late?


class CommentOutlet:
    """The outlet's comment endpoint, for relay and end-to-end tests."""

    def __init__(self, secret: str | None = None) -> None:
        self._webhook = verifier(secret) if secret else None
        self.received: list[Received] = []
        self._stored: dict[str, Received] = {}
        self._answers: dict[str, tuple[int, Any]] = {}  # webhook id → the answer it got
        self._script: list[_Answer] = []
        self._count = 0
        self._arrived = asyncio.Condition()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Where the relay posts comments (COMMENTS_URL)."""
        return f"http://127.0.0.1:{self.port}/comments"

    @property
    def stored(self) -> list[Received]:
        """The comments the outlet holds: accepted, one per webhook id, minus deleted ones."""
        return list(self._stored.values())

    def respond(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests with this status (a dict/list body is JSON)."""
        for _ in range(times):
            self._script.append(_Answer(status, body, dict(headers or {})))

    def hang_next(self, seconds: float, times: int = 1, *, store: bool = False) -> None:
        """Hold the next requests ``seconds`` before answering, so the sender times out.

        A hung request is answered 504 and stores nothing, unless ``store``: then the outlet
        keeps the comment and its (late) default answer is lost — the case the idempotency
        key exists for.
        """
        for _ in range(times):
            self._script.append(_Answer(None if store else 504, delay=seconds, store=store))

    async def wait_for(
        self,
        count: int,
        timeout: float = 10,  # noqa: ASYNC109 - a deadline per wait is this helper's point
    ) -> list[Received]:
        """Wait until at least ``count`` requests arrived; returns them all."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)
        return list(self.received)

    async def __aenter__(self) -> CommentOutlet:
        app = web.Application()
        app.router.add_post("/comments", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing.set()  # hung handlers end now, so cleanup does not wait for them
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        verified: bool | None = None
        if self._webhook is not None:
            try:
                self._webhook.verify(raw, headers)
                verified = True
            except (WebhookVerificationError, ValueError):
                verified = False
        webhook_id = headers.get("webhook-id")
        if verified is False:
            answer = _Answer(401, {"error": "invalid signature"})
        elif self._script:
            answer = self._script.pop(0)
        else:
            answer = _Answer(None)
        status, payload = self._decide(answer, webhook_id, body)
        received = Received(
            webhook_id=webhook_id,
            timestamp=headers.get("webhook-timestamp"),
            headers=headers,
            body=body,
            raw=raw,
            verified=verified,
            status=status,
        )
        async with self._arrived:
            self.received.append(received)
            if answer.store and 200 <= status < 300 and webhook_id:
                self._keep(webhook_id, received)
            self._arrived.notify_all()
        if answer.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), answer.delay)
        if isinstance(payload, dict | list):
            return web.json_response(payload, status=status, headers=answer.headers)
        return web.Response(status=status, text=payload, headers=answer.headers)

    def _decide(self, answer: _Answer, webhook_id: str | None, body: Any) -> tuple[int, Any]:
        """The status and body to send: the scripted ones, else the default behaviour."""
        kind = body.get("type") if isinstance(body, dict) else None
        if answer.status is not None:
            if kind != "comment.deleted" and webhook_id and 200 <= answer.status < 300:
                # A scripted acceptance is what a repeat of this webhook id gets later.
                self._answers.setdefault(webhook_id, (answer.status, answer.body))
            return answer.status, answer.body
        if kind == "comment.deleted":
            return self._delete(body.get("data") or {})
        if webhook_id in self._answers:
            return self._answers[webhook_id]
        self._count += 1
        reply = (201, {"id": f"c{self._count}", "status": "pending"})
        if webhook_id:
            self._answers[webhook_id] = reply
        return reply

    def _keep(self, webhook_id: str, received: Received) -> None:
        if isinstance(received.body, dict) and received.body.get("type") == "comment.deleted":
            return
        self._stored.setdefault(webhook_id, received)

    def _delete(self, data: dict[str, Any]) -> tuple[int, Any]:
        target = data.get("comment") or {}
        for webhook_id in list(self._stored):
            answered = self._answers.get(webhook_id, (0, None))[1]
            outlet_id = answered.get("id") if isinstance(answered, dict) else None
            if webhook_id == target.get("webhook_id") or (
                outlet_id is not None and outlet_id == target.get("id")
            ):
                del self._stored[webhook_id]
                return 200, {"deleted": True}
        return 404, {"error": "no such comment"}
