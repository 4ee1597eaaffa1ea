"""A local outlet serving feeds: conditional GET, gzip, scripted failures and delays."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import web


@dataclass
class Reply:
    """One scripted answer, used instead of the feed body while it lasts."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class FeedRoute:
    """A feed document at a path, with the validators a real server would give it."""

    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: bool = True
    last_modified: bool = True
    gzip: bool = False
    modified_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    script: list[Reply] = field(default_factory=list)


class FeedServer:
    """``await FeedServer().start()``; ``server.url('/rss')``; ``server.requests`` logs hits."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host  # any loopback address: 127.0.0.2 stands for an internal host
        self.routes: dict[str, FeedRoute] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    def serve(self, path: str, body: bytes | str, **options: object) -> FeedRoute:
        """Serve (or replace) a feed at ``path``."""
        data = body.encode() if isinstance(body, str) else body
        route = FeedRoute(body=data, **options)  # type: ignore[arg-type]
        old = self.routes.get(path)
        if old is not None:
            route.script = old.script
        self.routes[path] = route
        return route

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``path`` with these replies, in order."""
        self.routes[path].script.extend(replies)

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        return f"http://{self.host}:{self.port}{path}"

    def hits(self, path: str) -> int:
        """How many requests reached ``path``."""
        return sum(1 for p, _ in self.requests if p == path)

    async def start(self) -> FeedServer:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests.append((path, dict(request.headers)))
        route = self.routes.get(path)
        if route is None:
            return web.Response(status=404, text="not found")
        if route.script:
            reply = route.script.pop(0)
            if reply.delay:
                await asyncio.sleep(reply.delay)
            return web.Response(status=reply.status, body=reply.body, headers=reply.headers)
        headers = {"Content-Type": route.content_type}
        etag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
        last_modified = format_datetime(route.modified_at, usegmt=True)
        if route.etag:
            headers["ETag"] = etag
        if route.last_modified:
            headers["Last-Modified"] = last_modified
        if (route.etag and request.headers.get("If-None-Match") == etag) or (
            not route.etag
            and route.last_modified
            and request.headers.get("If-Modified-Since") == last_modified
        ):
            return web.Response(status=304, headers=headers)
        body = route.body
        if route.gzip and "gzip" in request.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return web.Response(status=200, body=body, headers=headers)
