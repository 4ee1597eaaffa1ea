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

With ``PUBLIC_URL``, the same listener is the WebSub callback, ``/hooks/websub/<token>``
(``jobs.websub``): a GET is the hub's verification of intent, answered from the database;
a POST is a distribution, refused on its headers alone when it carries no
``X-Hub-Signature``, is compressed, declares more than ``FETCH_MAX_BYTES`` or names no live
subscription (410, so the hub drops it), then read up to that cap, its signature checked
before anything parses it (403), and stored before the answer (200; 503 asks the hub to
retry).
"""

from __future__ import annotations

import asyncio
import logging
import re
from http import HTTPStatus

from aiohttp import web

from bot.listener import Listener, read_capped
from jobs.outlet_inbox import OutletInbox
from jobs.websub import CALLBACK_PATH, WebSubCallbacks
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
# A callback's token, as jobs.websub makes them (anything else is no callback of ours).
_CALLBACK_RE = re.compile(rf"(?:.*){re.escape(CALLBACK_PATH)}([A-Za-z0-9_-]{{16,64}})")


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
        websub: WebSubCallbacks | None = None,
        max_pushed: int = 10 * 1024 * 1024,
    ) -> None:
        if not key:
            raise ValueError("the outlet's events must be signed: a key is needed")
        self._inbox = inbox
        self._key = key
        self._max_body = max_body
        self._body_timeout = body_timeout
        self._reading = asyncio.Semaphore(max_reading)
        app = web.Application(client_max_size=max_body)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._listener = Listener(
            app, listen=listen, port=port, linger=LINGER, keepalive=KEEPALIVE
        )
        self._listen = listen
        self._websub = websub
        self._max_pushed = max_pushed  # FETCH_MAX_BYTES: a pushed feed is capped as a polled one

    @property
    def port(self) -> int:
        """The port listened on (the real one once started)."""
        return self._listener.port

    async def start(self) -> None:
        """Listen; a port already taken is a startup error."""
        port = await self._listener.start()
        log.info("outlet events endpoint on %s:%d%s", self._listen, port, PATH)

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        await self._listener.stop()

    async def _handle(self, request: web.Request) -> web.Response:
        if (request.path.rstrip("/") or "/") != PATH:
            callback = _CALLBACK_RE.fullmatch(request.path)
            if callback is not None and self._websub is not None:
                return await self._callback(request, callback.group(1))
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
                body = await read_capped(request, self._max_body, self._body_timeout)
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

    async def _callback(self, request: web.Request, token: str) -> web.Response:
        """The WebSub callback: the hub's verification (GET) or a distribution (POST)."""
        assert self._websub is not None
        if request.method == "GET":
            answer = await self._websub.verify(token, dict(request.query))
            return _plain(answer.status, answer.text)
        if request.method != "POST":
            refused = _plain(HTTPStatus.METHOD_NOT_ALLOWED, "only GET and POST")
            refused.headers["Allow"] = "GET, POST"
            return refused
        signature = request.headers.get("X-Hub-Signature")
        if not signature:
            return _plain(HTTPStatus.FORBIDDEN, "X-Hub-Signature is missing")
        if request.headers.get("Content-Encoding", "identity").lower() != "identity":
            return _plain(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "compressed bodies are refused")
        declared = request.content_length
        if declared is not None and declared > self._max_pushed:
            return _plain(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "document too large")
        if self._reading.locked():
            return _plain(HTTPStatus.SERVICE_UNAVAILABLE, "busy, retry later")
        subscription = await self._websub.subscription(token)
        if subscription is None:
            return _plain(HTTPStatus.GONE, "no such subscription")
        async with self._reading:
            try:
                body = await read_capped(request, self._max_pushed, self._body_timeout)
            except TimeoutError:
                return _plain(HTTPStatus.REQUEST_TIMEOUT, "body too slow")
        if body is None:
            return _plain(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "document too large")
        answer = await self._websub.distribute(
            subscription, signature, body, request.headers.get("Content-Type")
        )
        return _plain(answer.status, answer.text, close=answer.status >= 400)


def _plain(status: int, text: str, *, close: bool = True) -> web.Response:
    """A plain-text answer to a hub; refusals close the connection (nothing more is read)."""
    response = web.Response(status=status, text=text, content_type="text/plain")
    if close:
        response.force_close()
    return response
