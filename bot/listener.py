"""What the bot's own HTTP endpoints share (Telegram's webhook, the outlet's events and WebSub
callbacks, health and metrics): a listener that is started and stopped with the bot, and a
body read that stops at a size and a deadline.

aiohttp's own readers would hold a whole body before any limit applied; ours count as they
read, so a refused body is never held in memory.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

log = logging.getLogger(__name__)


class Listener:
    """One aiohttp application on ``listen:port``; ``port`` is the real one once started
    (0 asks the system for a free port)."""

    def __init__(
        self,
        app: web.Application,
        *,
        listen: str,
        port: int,
        linger: float | None = None,
        keepalive: float | None = None,
    ) -> None:
        self._app = app
        self._listen = listen
        self.port = port
        # After an answer that refuses a body, aiohttp drops what still arrives for at most
        # ``linger`` seconds before closing, so the sender reads the answer rather than a
        # connection reset (aiohttp's defaults: ten seconds, and an hour of keep-alive).
        self._linger = linger
        self._keepalive = keepalive
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Listen; a port already taken is a startup error. Returns the port."""
        self._runner = web.AppRunner(
            self._app,
            access_log=None,
            handle_signals=False,
            lingering_time=10.0 if self._linger is None else self._linger,
            keepalive_timeout=3630.0 if self._keepalive is None else self._keepalive,
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, self._listen, self.port).start()
        if self._runner.addresses:
            self.port = int(self._runner.addresses[0][1])
        return self.port

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def read_capped(request: web.Request, limit: int, within: float) -> bytes | None:
    """The body, or None once it grows past ``limit`` (a chunked body declares no length);
    TimeoutError when the whole of it does not arrive within ``within`` seconds."""
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(within):
        while chunk := await request.content.readany():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
    return b"".join(chunks)
