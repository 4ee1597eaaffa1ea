"""The lean Bot API path for bulk sends: pre-encoded JSON bodies over one aiohttp session.

PTB's Bot builds objects, validates and serialises them on every call; at a thousand messages a
second that cost decides the achievable rate. Broadcasts therefore POST bodies rendered once
and read back only what the sender needs, as one :class:`SendResult` that never raises. PTB
stays the client for everything interactive.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

__all__ = [
    "BotApiClient",
    "SendKind",
    "SendMessageTemplate",
    "SendPhotoTemplate",
    "SendResult",
    "encode_edit_message_caption",
    "encode_edit_message_text",
    "encode_send_message",
]


class SendKind(enum.StrEnum):
    """What became of one Bot API call, in the terms the sender acts on."""

    SENT = "sent"
    """Accepted; ``message_id`` is the new (or edited) message's id."""
    RETRY_AFTER = "retry_after"
    """429: hold every bulk send for ``retry_after`` seconds, then retry the same message."""
    CHAT_GONE = "chat_gone"
    """Blocked, deactivated, kicked, unknown chat: mark it inactive until the reader returns."""
    THREAD_GONE = "thread_gone"
    """The forum topic was deleted or closed: drop that topic's subscriptions only."""
    MIGRATED = "migrated"
    """The group became a supergroup: move the chat to ``migrate_to_chat_id`` and retry."""
    BAD_PHOTO = "bad_photo"
    """Telegram cannot use the photo (a URL too large, of the wrong type or unreachable, an
    unknown file id): the same message without the photo may well go through."""
    BAD_CONTENT = "bad_content"
    """Telegram rejects this message (markup, length, buttons…): retrying it as is won't help."""
    NOT_MODIFIED = "not_modified"
    """An edit that changes nothing: the message already reads like that (a success)."""
    EDIT_TARGET_GONE = "edit_target_gone"
    """The message to edit was deleted or can no longer be edited."""
    UNAUTHORIZED = "unauthorized"
    """401 (or 404, a malformed token): every further call will fail too; stop sending."""
    TRANSIENT = "transient"
    """5xx, timeout, connection error or an unexpected answer: retry with back-off. After a
    timeout the message may have been delivered all the same."""


@dataclass(frozen=True, slots=True)
class SendResult:
    """One call's outcome; ``description`` is Telegram's (or the network error's) for logs."""

    kind: SendKind
    description: str = ""
    status: int | None = None
    """HTTP status, None when no answer arrived."""
    message_id: int | None = None
    retry_after: float | None = None
    migrate_to_chat_id: int | None = None
    photo_file_id: str | None = None
    """A photo sent: the file id of its largest size, to send it again without a fetch."""

    @property
    def ok(self) -> bool:
        """The message reads as intended: sent, or an edit that had nothing to change."""
        return self.kind is SendKind.SENT or self.kind is SendKind.NOT_MODIFIED


_JSON_HEADERS = {"Content-Type": "application/json"}

# Lower-cased fragments of Telegram's 400 descriptions, checked in this order. Anything else
# a 400 says is about the request itself, hence BAD_CONTENT.
_NOT_MODIFIED = ("message is not modified",)
_EDIT_TARGET_GONE = ("message to edit not found", "message can't be edited", "message_id_invalid")
_CHAT_GONE = (
    "chat not found",
    "peer_id_invalid",
    "user not found",
    "bot was kicked",
    "bot was blocked",
    "bot is not a member",
    "user is deactivated",
    "group chat was deactivated",
    "chat_write_forbidden",
    "have no rights to send",
    "not enough rights to send",
    # A channel (or a group open to its admins only) where the bot may not post.
    "need administrator rights",
)
# The forum topic a subscription lives in is gone or closed; the rest of the group is fine.
_THREAD_GONE = ("message thread not found", "topic_deleted", "topic_closed")
# The photo itself is refused: Telegram could not fetch it, or cannot use what it fetched.
_BAD_PHOTO = (
    "wrong file identifier",
    "wrong remote file identifier",
    "failed to get http url content",
    "wrong type of the web page content",
    "type of file mismatch",
    "image_process_failed",
    "photo_invalid_dimensions",
    "photo_save_file_invalid",
    "photo_ext_invalid",
    "file is too big",
)
_RETRY_IN_TEXT = re.compile(r"retry after (\d+)", re.IGNORECASE)


def _dumps(body: dict[str, Any]) -> bytes:
    # Compact and UTF-8 as is: Kurdish and Arabic text stays 2 bytes a letter instead of 6.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _text_fields(
    body: dict[str, Any],
    parse_mode: str | None,
    reply_markup: dict[str, Any] | None,
    link_preview_url: str | None,
    disable_link_preview: bool,
    large_preview: bool = False,
) -> None:
    if parse_mode:
        body["parse_mode"] = parse_mode
    if reply_markup is not None:
        body["reply_markup"] = reply_markup
    if disable_link_preview:
        body["link_preview_options"] = {"is_disabled": True}
    elif link_preview_url and large_preview:
        # The article's picture, large, above the text: a story's look without a photo.
        body["link_preview_options"] = {
            "url": link_preview_url,
            "prefer_large_media": True,
            "show_above_text": True,
        }
    elif link_preview_url:
        body["link_preview_options"] = {"url": link_preview_url}


def encode_send_message(
    chat_id: int | str,
    text: str,
    *,
    parse_mode: str | None = "HTML",
    message_thread_id: int | None = None,
    reply_markup: dict[str, Any] | None = None,
    link_preview_url: str | None = None,
    disable_link_preview: bool = False,
    allow_paid_broadcast: bool = False,
    disable_notification: bool = False,
) -> bytes:
    """The JSON body of a ``sendMessage`` call; ``reply_markup`` as the Bot API's dict."""
    body: dict[str, Any] = {"chat_id": chat_id, "text": text}
    if message_thread_id is not None:
        body["message_thread_id"] = message_thread_id
    _text_fields(body, parse_mode, reply_markup, link_preview_url, disable_link_preview)
    if disable_notification:
        body["disable_notification"] = True
    if allow_paid_broadcast:
        body["allow_paid_broadcast"] = True
    return _dumps(body)


def _head(chat_id: int | str, message_thread_id: int | None, disable_notification: bool) -> bytes:
    """The per-reader start of a templated body: the chat, its topic, and its sound."""
    if type(chat_id) is int:
        head = b'{"chat_id":%d' % chat_id
    else:
        head = b'{"chat_id":' + json.dumps(chat_id, ensure_ascii=False).encode()
    if message_thread_id is not None:
        head += b',"message_thread_id":%d' % message_thread_id
    if disable_notification:
        head += b',"disable_notification":true'
    return head


class SendMessageTemplate:
    """``encode_send_message`` for many chats: everything but the chat is serialised once.

    A broadcast sends the same text, buttons and preview to every reader of a time zone; only
    ``chat_id`` (a forum topic's ``message_thread_id``, and whether it rings) differ. The body
    is the same JSON object as ``encode_send_message``'s, with those keys first.
    """

    __slots__ = ("_tail",)

    def __init__(
        self,
        text: str,
        *,
        parse_mode: str | None = "HTML",
        reply_markup: dict[str, Any] | None = None,
        link_preview_url: str | None = None,
        disable_link_preview: bool = False,
        large_preview: bool = False,
        allow_paid_broadcast: bool = False,
    ) -> None:
        body: dict[str, Any] = {"text": text}
        _text_fields(
            body, parse_mode, reply_markup, link_preview_url, disable_link_preview, large_preview
        )
        if allow_paid_broadcast:
            body["allow_paid_broadcast"] = True
        self._tail = b"," + _dumps(body)[1:]  # the object without its opening brace

    def encode(
        self,
        chat_id: int | str,
        message_thread_id: int | None = None,
        *,
        disable_notification: bool = False,
    ) -> bytes:
        """The JSON body of ``sendMessage`` to this chat (topic)."""
        return _head(chat_id, message_thread_id, disable_notification) + self._tail


class SendPhotoTemplate:
    """``sendPhoto`` bodies for many chats: the caption and buttons serialised once.

    The photo is per send: the picture's URL until Telegram has fetched it once, then the
    file id it answered with (Telegram's way of sending one file many times).
    """

    __slots__ = ("_tail",)

    def __init__(
        self,
        caption: str,
        *,
        parse_mode: str | None = "HTML",
        reply_markup: dict[str, Any] | None = None,
        allow_paid_broadcast: bool = False,
    ) -> None:
        body: dict[str, Any] = {"caption": caption}
        if parse_mode:
            body["parse_mode"] = parse_mode
        if reply_markup is not None:
            body["reply_markup"] = reply_markup
        if allow_paid_broadcast:
            body["allow_paid_broadcast"] = True
        self._tail = b"," + _dumps(body)[1:]

    def encode(
        self,
        chat_id: int | str,
        photo: str,
        message_thread_id: int | None = None,
        *,
        disable_notification: bool = False,
    ) -> bytes:
        """The JSON body of ``sendPhoto`` of ``photo`` (a URL or a file id) to this chat."""
        head = _head(chat_id, message_thread_id, disable_notification)
        return head + b',"photo":' + json.dumps(photo, ensure_ascii=False).encode() + self._tail


def encode_edit_message_text(
    chat_id: int | str,
    message_id: int,
    text: str,
    *,
    parse_mode: str | None = "HTML",
    reply_markup: dict[str, Any] | None = None,
    link_preview_url: str | None = None,
    disable_link_preview: bool = False,
    large_preview: bool = False,
) -> bytes:
    """The JSON body of an ``editMessageText`` call.

    Without ``reply_markup`` Telegram removes the message's inline keyboard: pass it again.
    """
    body: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id, "text": text}
    _text_fields(
        body, parse_mode, reply_markup, link_preview_url, disable_link_preview, large_preview
    )
    return _dumps(body)


def encode_edit_message_caption(
    chat_id: int | str,
    message_id: int,
    caption: str,
    *,
    parse_mode: str | None = "HTML",
    reply_markup: dict[str, Any] | None = None,
) -> bytes:
    """The JSON body of an ``editMessageCaption`` call (a photo's caption).

    Without ``reply_markup`` Telegram removes the message's inline keyboard: pass it again.
    """
    body: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id, "caption": caption}
    if parse_mode:
        body["parse_mode"] = parse_mode
    if reply_markup is not None:
        body["reply_markup"] = reply_markup
    return _dumps(body)


class BotApiClient:
    """POSTs pre-encoded bodies to ``{api_url}/bot{token}/{method}``; never raises for a failure.

    ``http`` is the application's session for the Bot API; its connector's limit bounds the
    connections, which stay open between calls.
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        api_url: str,
        token: str,
        *,
        timeout: float = 15,
    ) -> None:
        self._http = http
        self._api_url = api_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._urls: dict[str, URL] = {}
        # aiohttp puts the URL, hence the token, into some of its errors' messages.
        self._secrets = sorted({token, quote(token), quote(token, safe="")}, key=len, reverse=True)

    def __repr__(self) -> str:
        return f"BotApiClient(api_url={self._api_url!r})"

    async def send(self, method: str, body: bytes) -> SendResult:
        """Call ``method`` with a JSON object body (see the ``encode_*`` helpers)."""
        try:
            url = self._urls.get(method)
            if url is None:
                # Parsed once per method: yarl's parsing is a visible cost per message.
                url = self._urls[method] = URL(f"{self._api_url}/bot{self._token}/{method}")
            async with self._http.post(
                url,
                data=body,
                headers=_JSON_HEADERS,
                timeout=self._timeout,
                # Telegram never redirects API calls; following one would turn the POST into a
                # GET without its body.
                allow_redirects=False,
            ) as response:
                status = response.status
                raw = await response.read()
        except TimeoutError:
            return SendResult(
                SendKind.TRANSIENT, f"timed out after {self._timeout.total:g} s", None
            )
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            # ValueError: an api_url yarl or aiohttp cannot use. Either way no answer came.
            return SendResult(SendKind.TRANSIENT, self._scrub(f"{type(exc).__name__}: {exc}"))
        return _classify(status, raw)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "<token>")
        return text


def _classify(status: int, raw: bytes) -> SendResult:
    """Turn an HTTP answer of the Bot API into a SendResult."""
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("ok"), bool):
        # A proxy's error page, a truncated body: nothing says the call took effect.
        return SendResult(SendKind.TRANSIENT, f"HTTP {status} with an unexpected body", status)
    description = str(payload.get("description") or "")
    if payload["ok"]:
        result = payload.get("result")
        message_id = result.get("message_id") if isinstance(result, dict) else None
        if not isinstance(message_id, int):
            message_id = None  # inline-message edits answer `true`
        return SendResult(
            SendKind.SENT,
            description,
            status,
            message_id=message_id,
            photo_file_id=_photo_file_id(result),
        )

    parameters = payload.get("parameters")
    if not isinstance(parameters, dict):
        parameters = {}
    code = payload.get("error_code")
    if status == 200 and isinstance(code, int):
        status = code  # an error wrapped in a 200 (some proxies do): the body is what counts
    migrate_to = parameters.get("migrate_to_chat_id")
    if isinstance(migrate_to, int):
        return SendResult(SendKind.MIGRATED, description, status, migrate_to_chat_id=migrate_to)
    if status == 429 or "retry_after" in parameters:
        return SendResult(
            SendKind.RETRY_AFTER,
            description,
            status,
            retry_after=_retry_after(parameters, description),
        )
    if status in (401, 404):
        return SendResult(SendKind.UNAUTHORIZED, description, status)
    if status == 403:
        return SendResult(SendKind.CHAT_GONE, description, status)
    if status == 400:
        lowered = description.lower()
        for fragments, kind in (
            (_NOT_MODIFIED, SendKind.NOT_MODIFIED),
            (_EDIT_TARGET_GONE, SendKind.EDIT_TARGET_GONE),
            (_THREAD_GONE, SendKind.THREAD_GONE),
            (_CHAT_GONE, SendKind.CHAT_GONE),
            (_BAD_PHOTO, SendKind.BAD_PHOTO),
        ):
            if any(fragment in lowered for fragment in fragments):
                return SendResult(kind, description, status)
        return SendResult(SendKind.BAD_CONTENT, description, status)
    return SendResult(SendKind.TRANSIENT, description or f"HTTP {status}", status)


def _photo_file_id(result: Any) -> str | None:
    """The file id of a sent photo's largest size (the last one Telegram lists)."""
    sizes = result.get("photo") if isinstance(result, dict) else None
    if not isinstance(sizes, list) or not sizes or not isinstance(sizes[-1], dict):
        return None
    file_id = sizes[-1].get("file_id")
    return file_id if isinstance(file_id, str) and file_id else None


def _retry_after(parameters: dict[str, Any], description: str) -> float:
    value = parameters.get("retry_after")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _RETRY_IN_TEXT.search(description)
    # A 429 that does not say how long: wait a second, Telegram's usual shortest answer.
    return float(match.group(1)) if match else 1.0
