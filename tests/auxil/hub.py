"""A local WebSub hub: takes (un)subscription requests, verifies intent at the callback, and
distributes content signed with each subscriber's secret.

``async with WebSubHub() as hub:`` serves ``hub.url`` on 127.0.0.1. ``hub.requests`` lists
every request (mode, topic, callback, secret, lease asked); ``hub.verified`` the
verifications the subscriber agreed to, with the challenge echoed back. ``hub.lease``
is the lease the hub grants; ``hub.refuse`` makes it answer requests 503 (a hub that is
down); ``hub.publish(topic, body)`` POSTs to every verified subscriber of ``topic``.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from aiohttp import web

from news.websub import sign


@dataclass(frozen=True, slots=True)
class HubRequest:
    """One (un)subscription request the hub received."""

    mode: str
    topic: str
    callback: str
    secret: str | None
    lease_seconds: str | None


@dataclass(frozen=True, slots=True)
class Verification:
    """One verification of intent and the subscriber's answer."""

    mode: str
    topic: str
    callback: str
    status: int
    challenge_echoed: bool


class WebSubHub:
    """A hub on 127.0.0.1 (see the module docstring)."""

    def __init__(self, *, lease: int = 3600) -> None:
        self.lease = lease
        self.refuse = False
        self.requests: list[HubRequest] = []
        self.verified: list[Verification] = []
        # Verified subscriptions: callback → (topic, secret).
        self.subscribers: dict[str, tuple[str, str | None]] = {}
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hub"

    async def __aenter__(self) -> WebSubHub:
        app = web.Application()
        app.router.add_post("/hub", self._request)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    async def _request(self, request: web.Request) -> web.Response:
        form = await request.post()
        hub_request = HubRequest(
            mode=str(form.get("hub.mode", "")),
            topic=str(form.get("hub.topic", "")),
            callback=str(form.get("hub.callback", "")),
            secret=str(form["hub.secret"]) if "hub.secret" in form else None,
            lease_seconds=str(form["hub.lease_seconds"]) if "hub.lease_seconds" in form else None,
        )
        self.requests.append(hub_request)
        if self.refuse:
            return web.Response(status=503, text="hub down")
        # As the spec has it: 202 now, the verification of intent right after.
        task = asyncio.create_task(self._verify(hub_request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=202)

    async def _verify(self, hub_request: HubRequest) -> None:
        challenge = secrets.token_hex(8)
        params = {
            "hub.mode": hub_request.mode,
            "hub.topic": hub_request.topic,
            "hub.challenge": challenge,
        }
        if hub_request.mode == "subscribe":
            params["hub.lease_seconds"] = str(self.lease)
        async with (
            aiohttp.ClientSession() as http,
            http.get(hub_request.callback, params=params) as answer,
        ):
            text = await answer.text()
        echoed = answer.status == 200 and text == challenge
        self.verified.append(
            Verification(
                hub_request.mode, hub_request.topic, hub_request.callback, answer.status, echoed
            )
        )
        if not echoed:
            return
        if hub_request.mode == "subscribe":
            self.subscribers[hub_request.callback] = (hub_request.topic, hub_request.secret)
        else:
            self.subscribers.pop(hub_request.callback, None)

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        content_type: str = "application/rss+xml",
        forge: bool = False,
    ) -> list[int]:
        """Distribute ``body`` to the verified subscribers of ``topic``; their answers."""
        statuses = []
        async with aiohttp.ClientSession() as http:
            for callback, (subscribed, secret) in list(self.subscribers.items()):
                if subscribed != topic:
                    continue
                key = b"not the secret" if forge or secret is None else secret.encode()
                headers = {"Content-Type": content_type, "X-Hub-Signature": sign(key, body)}
                async with http.post(callback, data=body, headers=headers) as answer:
                    statuses.append(answer.status)
        return statuses
