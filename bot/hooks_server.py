"""The outlet's events endpoint (``HOOKS_PORT``): ``POST /hooks/outlet``, signed as Standard
Webhooks with ``OUTLET_HOOKS_SECRET``.

Anyone who finds the port can POST to it, so the cheap checks come first and refuse on the
headers alone, closing the connection without reading the body: the path (404), the method
(405), the three signature headers and a timestamp within five minutes (401), a compressed
or non-JSON body (415), a declared size over the cap (413), too many bodies being read at
once (503). Only then is the body read, up to the cap whether or not it declared a length,
within ``body_timeout``; then the HMAC (401), the JSON (400 with a one-line reason), and the
event is kept in the inbox before the answer (2xx): a repeated ``webhook-id`` is
acknowledged and changes nothing, a type nobody handles is acknowledged and ignored.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus

from aiohttp import web

from jobs.outlet_inbox import OutletInbox
from news.clock import utcnow
from news.outlet_events import MalformedEvent, read_envelope
from news.standard_webhooks import SignatureError, read_headers, verify

log = logging.getLogger(__name__)

PATH = "/hooks/outlet"
# An event is a comment and a few fields: 256 KiB is far more than the site's own limit.
MAX_EVENT_BYTES = 256 * 1024
BODY_TIMEOUT = 10.0
# Bodies read at once; more are refused (503, the outlet retries) rather than queued.
MAX_READING = 32
LINGER = 1.0
KEEPALIVE = 5.0


def _answer(status: HTTPStatus, reason: str | None = None, *, close: bool = False) -> web.Response:
    body: dict[str, object] = {"ok": status < 300}
    if reason:
        body["error" if status >= 300 else "result"] = reason
    response = web.json_response(body, status=status)
    if close:
        response.force_close()
    return response


class HooksServer:
    """Serves ``POST /hooks/outlet`` on ``listen:port`` until ``stop()``."""

    def __init__(
        self,
        inbox: OutletInbox,
        key: bytes,
        *,
        listen: str,
        port: int,
        max_body: int = MAX_EVENT_BYTES,
        body_timeout: float = BODY_TIMEOUT,
        max_reading: int = MAX_READING,
    ) -> None:
        if not key:
            raise ValueError("the outlet's events must be signed: a key is needed")
        self._inbox = inbox
        self._key = key
        self._listen = listen
        self.port = port
        self._max_body = max_body
        self._body_timeout = body_timeout
        self._reading = asyncio.Semaphore(max_reading)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen; a port already taken is a startup error."""
        app = web.Application(client_max_size=self._max_body)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            lingering_time=LINGER,
            keepalive_timeout=KEEPALIVE,
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, self._listen, self.port).start()
        if self._runner.addresses:
            self.port = int(self._runner.addresses[0][1])
        log.info("outlet events endpoint on %s:%d%s", self._listen, self.port, PATH)

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _read_capped(self, request: web.Request) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        async with asyncio.timeout(self._body_timeout):
            while chunk := await request.content.readany():
                size += len(chunk)
                if size > self._max_body:
                    return None
                chunks.append(chunk)
        return b"".join(chunks)

    async def _handle(self, request: web.Request) -> web.Response:
        if (request.path.rstrip("/") or "/") != PATH:
            return _answer(HTTPStatus.NOT_FOUND, "not found", close=True)
        if request.method != "POST":
            refused = _answer(HTTPStatus.METHOD_NOT_ALLOWED, "only POST", close=True)
            refused.headers["Allow"] = "POST"
            return refused
        try:
            signed = read_headers(request.headers, utcnow())
        except SignatureError as exc:
            return _answer(HTTPStatus.UNAUTHORIZED, exc.reason, close=True)
        if request.headers.get("Content-Encoding", "identity").lower() != "identity":
            return _answer(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "compressed bodies are refused", close=True
            )
        if "json" not in request.content_type:
            return _answer(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "expected application/json", close=True
            )
        declared = request.content_length
        if declared is not None and declared > self._max_body:
            return _answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "event too large", close=True)
        if self._reading.locked():
            return _answer(HTTPStatus.SERVICE_UNAVAILABLE, "busy, retry later", close=True)
        async with self._reading:
            try:
                body = await self._read_capped(request)
            except TimeoutError:
                return _answer(HTTPStatus.REQUEST_TIMEOUT, "body too slow", close=True)
        if body is None:
            return _answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "event too large", close=True)
        try:
            verify(self._key, signed, body)
        except SignatureError as exc:
            log.warning("outlet events: refused a request (%s)", exc.reason)
            return _answer(HTTPStatus.UNAUTHORIZED, exc.reason)
        try:
            envelope = read_envelope(body)
            accepted = await self._inbox.accept(signed.message_id, envelope.type, envelope.data)
        except MalformedEvent as exc:
            log.warning("outlet events: %s refused: %s", signed.message_id[:80], exc.reason)
            return _answer(HTTPStatus.BAD_REQUEST, exc.reason)
        except Exception:
            # Not kept: the outlet must retry, so the answer is no 2xx.
            log.exception("outlet events: could not keep %s", signed.message_id[:80])
            return _answer(HTTPStatus.SERVICE_UNAVAILABLE, "could not store the event; retry")
        if accepted == "ignored":
            return _answer(HTTPStatus.ACCEPTED, "ignored: unknown event type")
        return _answer(HTTPStatus.OK, accepted)
