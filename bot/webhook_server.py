"""The endpoint Telegram posts updates to in webhook mode (``WEBHOOK_URL``).

Anyone who finds the port can POST to it, so every request is judged on its headers before a
byte of its body is read: the secret (``X-Telegram-Bot-Api-Secret-Token``), the path, the
method, the content type and the declared size. Whatever fails is answered at once and the
connection is closed, so the rest of the body is never read, let alone buffered. A body is read
only for a request carrying the secret, and then only up to ``max_body`` bytes, whether or not
it declared its length (chunked bodies are counted as they arrive).

This replaces PTB's tornado server (``Updater.start_webhook``), which reads the whole body (up
to tornado's 100 MB default) before it looks at the secret. Updates go to PTB's
``application.update_queue``, as PTB's "custom webhook" example does.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web
from telegram import Bot, Update
from telegram.ext import ExtBot

from bot.listener import Listener, read_capped

log = logging.getLogger(__name__)

# Telegram's updates are a few kilobytes (a message holds at most 4,096 characters, a caption
# 1,024, plus entities and a replied-to message); 1 MiB is ample and bounds what one forged
# request can make the bot hold.
MAX_UPDATE_BYTES = 1024 * 1024
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram must have its answer quickly, and a request that trickles its body in is not
# Telegram: the whole body must arrive within this many seconds.
BODY_TIMEOUT = 10.0
LINGER = 1.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _refusal(status: HTTPStatus, reason: str) -> web.Response:
    """A short answer that closes the connection: the unread body is never read."""
    response = web.json_response({"ok": False, "error": reason}, status=status)
    response.force_close()
    return response


class WebhookServer:
    """Serves Telegram's update POSTs on ``listen:port`` at ``path`` until ``stop()``."""

    def __init__(
        self,
        bot: Bot,
        update_queue: asyncio.Queue[object],
        *,
        listen: str,
        port: int,
        path: str,
        secret: str,
        max_body: int = MAX_UPDATE_BYTES,
        body_timeout: float = BODY_TIMEOUT,
        linger: float = LINGER,
    ) -> None:
        if not secret:
            # Without a secret anyone could inject updates; the app always has one.
            raise ValueError("the webhook server needs a secret token")
        self._bot = bot
        self._queue = update_queue
        self._listen = listen
        self._path = "/" + path.strip("/")
        self._secret = secret.encode()
        self._max_body = max_body
        self._body_timeout = body_timeout
        # client_max_size also bounds aiohttp's own readers, should anything call them.
        app = web.Application(client_max_size=max_body)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._listener = Listener(app, listen=listen, port=port, linger=linger)

    @property
    def port(self) -> int:
        """The port listened on (the real one once started)."""
        return self._listener.port

    async def start(self) -> None:
        """Listen; a port already taken is a startup error."""
        port = await self._listener.start()
        # Not the path: WEBHOOK_URL's path often holds a random part that is a secret too.
        log.info("webhook server on %s:%d", self._listen, port)

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        await self._listener.stop()

    def _refuse(self, request: web.Request) -> web.Response | None:
        """The answer for a request that must not be read, or None for one that may."""
        path = request.path.rstrip("/") or "/"
        if path != self._path:
            return _refusal(HTTPStatus.NOT_FOUND, "not found")
        if request.method != "POST":
            refused = _refusal(HTTPStatus.METHOD_NOT_ALLOWED, "only POST")
            refused.headers["Allow"] = "POST"
            return refused
        # The secret before anything else about the body; compared in constant time.
        token = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(token, self._secret):
            return _refusal(HTTPStatus.FORBIDDEN, "wrong or missing secret token")
        if request.content_type != "application/json":
            return _refusal(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "expected application/json")
        # Telegram sends plain JSON; a compressed body could inflate far past the cap.
        if request.headers.get("Content-Encoding", "identity").lower() != "identity":
            return _refusal(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "compressed bodies are refused")
        declared = request.content_length
        if declared is not None and declared > self._max_body:
            return _refusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "update too large")
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        try:
            body = await read_capped(request, self._max_body, self._body_timeout)
        except TimeoutError:
            return _refusal(HTTPStatus.REQUEST_TIMEOUT, "body too slow")
        if body is None:
            return _refusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "update too large")
        try:
            data: Any = json.loads(body)
            update = Update.de_json(data, self._bot) if isinstance(data, dict) else None
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("webhook: an update that cannot be read (%s)", type(exc).__name__)
            return web.json_response(
                {"ok": False, "error": "not an update"}, status=HTTPStatus.BAD_REQUEST
            )
        if update is None:
            return web.json_response(
                {"ok": False, "error": "not an update"}, status=HTTPStatus.BAD_REQUEST
            )
        if isinstance(self._bot, ExtBot):  # as PTB's own server does, for callback data
            self._bot.insert_callback_data(update)
        await self._queue.put(update)
        return web.json_response({"ok": True})
