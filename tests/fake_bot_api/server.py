"""An HTTP server that answers like the Telegram Bot API, plus helpers to play the users.

The bot under test talks to it over real HTTP (``TELEGRAM_API_URL``), from this process or from
a subprocess; all state lives in the :class:`FakeBotApi` object inside the test process.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import re
import socket
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from tests.fake_bot_api.errors import ApiError, bad_request, forbidden
from tests.fake_bot_api.html_entities import sort_entities, utf16_len
from tests.fake_bot_api.models import FakeChat, FakeUser, Stats, StoredMessage
from tests.fake_bot_api.ratelimit import SlidingWindow
from tests.fake_bot_api.validation import (
    format_text,
    scope_key,
    validate_commands,
    validate_inline_results,
    validate_reply_markup,
)

__all__ = ["ALL_UPDATE_TYPES", "DEFAULT_ALLOWED_UPDATES", "FakeBotApi"]

T = TypeVar("T")
Params = dict[str, Any]
Handler = Callable[[Params], Awaitable[Any]]
ChatRef = FakeChat | FakeUser | int
MessageRef = StoredMessage | dict[str, Any]

ALL_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
# What Telegram sends when allowed_updates was never given (or given as an empty list).
DEFAULT_ALLOWED_UPDATES = ALL_UPDATE_TYPES - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

# How form-encoded values are decoded. PTB 22 posts application/x-www-form-urlencoded (or
# multipart/form-data when uploading) where strings are sent raw and every other value is
# json.dumps()-ed, so "123", "true" and '{"inline_keyboard": …}' all arrive as strings.
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
        "results",
        "commands",
        "scope",
        "allowed_updates",
        "button",
        "media",
        "message_ids",
        "options",
        "prices",
        "permissions",
        "menu_button",
        "rights",
        "reaction",
        "question_entities",
        "explanation_entities",
        "suggested_post_parameters",
    }
)
_INT_PARAMS = frozenset(
    {
        "message_id",
        "offset",
        "limit",
        "timeout",
        "message_thread_id",
        "cache_time",
        "max_connections",
        "user_id",
        "reply_to_message_id",
        "until_date",
        "direct_messages_topic_id",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "allow_sending_without_reply",
        "show_alert",
        "is_personal",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_paid_broadcast",
        "revoke_messages",
        "only_if_banned",
        "for_channels",
        "has_spoiler",
        "show_caption_above_media",
        "disable_content_type_detection",
    }
)
_CHAT_ID_PARAMS = frozenset({"chat_id", "from_chat_id"})
_TEXT_PARAMS = frozenset({"text", "caption", "callback_query_id", "inline_query_id"})
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")

_AUTO_ENTITIES = (
    (
        "bot_command",
        re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>@])"),
    ),
    ("url", re.compile(r"(?<![\w@/])https?://[^\s<>\"']+", re.IGNORECASE)),
    ("mention", re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{4,32}(?![\w@])")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
)
_URL_TAIL = ".,;:!?)'\""


def _coerce(name: str, value: Any) -> Any:
    """Decode one parameter the way the Bot API types it, whatever the request encoding."""
    if isinstance(value, str):
        if name in _JSON_PARAMS:
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        if name in _INT_PARAMS:
            try:
                return int(value)
            except ValueError:
                pass
            try:
                return int(float(value))
            except ValueError:
                raise bad_request(f'field "{name}" must be a valid Number') from None
        if name in _BOOL_PARAMS:
            lowered = value.lower()
            if lowered in ("true", "1"):
                return True
            if lowered in ("false", "0", ""):
                return False
            raise bad_request(f'field "{name}" must be of type Boolean')
        if name in _CHAT_ID_PARAMS:
            with contextlib.suppress(ValueError):
                return int(value)
        return value
    if name in _TEXT_PARAMS and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _detect_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram finds by itself in a user's text: commands, links, mentions, tags."""
    taken: list[tuple[int, int]] = []
    entities: list[dict[str, Any]] = []
    for kind, pattern in _AUTO_ENTITIES:
        for match in pattern.finditer(text):
            start, end = match.span()
            if kind == "url":
                end = start + len(match.group().rstrip(_URL_TAIL))
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            offset = utf16_len(text[:start])
            entities.append({"type": kind, "offset": offset, "length": utf16_len(text[start:end])})
    sort_entities(entities)
    return entities


def _embedded(message: dict[str, Any]) -> dict[str, Any]:
    """A message as nested in another one: Telegram never nests replies two levels deep."""
    nested = dict(message)
    nested.pop("reply_to_message", None)
    return nested


@dataclass(eq=False)
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    slots: asyncio.Semaphore
    ip_address: str | None = None


@dataclass
class _Described:
    """A successful result that also carries Telegram's human ``description``."""

    result: Any
    description: str


@dataclass
class _PendingQuery:
    kind: str
    user_id: int
    created: float = field(default_factory=time.monotonic)


class FakeBotApi:
    """A faithful stand-in for ``https://api.telegram.org`` for one bot token.

    Use as ``async with FakeBotApi() as api:`` and point PTB at ``api.base_url`` /
    ``api.base_file_url`` (or give the bot ``api.url`` as ``TELEGRAM_API_URL``).
    """

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        *,
        global_rate: float | None = None,
        paid_rate: float = 1000,
        per_chat_limits: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_username: str = "newsbot_test_bot",
        bot_first_name: str = "Newsbot Test",
        privacy_mode: bool = False,
        webhook_attempts: int = 4,
        webhook_retry_delay: float = 0.05,
        webhook_timeout: float = 10.0,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.global_rate = global_rate
        self.paid_rate = paid_rate
        self.per_chat_limits = per_chat_limits
        self.privacy_mode = privacy_mode
        self.webhook_attempts = webhook_attempts
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout

        bot_id_text = token.split(":", 1)[0]
        bot_id = int(bot_id_text) if bot_id_text.isdigit() else 123456
        self.bot = FakeUser(
            id=bot_id, first_name=bot_first_name, username=bot_username, is_bot=True
        )
        self._bot_dict = self.bot.to_dict()

        # What tests read back.
        self.requests: list[tuple[str, Params]] = []
        self.answers: list[dict[str, Any]] = []
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.descriptions: dict[tuple[str, str], str] = {}
        self.inline_edits: list[Params] = []
        self.webhook_dropped: list[dict[str, Any]] = []
        self.internal_errors: list[tuple[str, Params, Exception]] = []
        self.stats = Stats()

        self.users: dict[int, FakeUser] = {}
        self.chats: dict[int, FakeChat] = {}
        self._chats_by_username: dict[str, FakeChat] = {}
        self._messages: dict[tuple[int, int], StoredMessage] = {}
        self._sent_all: list[StoredMessage] = []
        self._sent_by_chat: dict[int, list[StoredMessage]] = defaultdict(list)
        self._live_sent: dict[int, int] = defaultdict(int)
        self._calls: dict[str, list[Params]] = defaultdict(list)

        self._user_ids = itertools.count(7_100_000_001)
        self._group_ids = itertools.count(4_100_000_001)
        self._supergroup_ids = itertools.count(1_002_100_000_001)
        self._update_ids = itertools.count(500_000_001)
        self._query_ids = itertools.count(4_400_000_000_000_001)
        self._file_ids = itertools.count(1)

        self._updates: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self._pending_queries: dict[str, _PendingQuery] = {}
        self._poll_waiter: asyncio.Future[str] | None = None
        self._webhook: _Webhook | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._webhook_event: asyncio.Event | None = None
        self._in_flight: set[int] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

        self._faults: dict[str, deque[ApiError]] = defaultdict(deque)
        self._delays: dict[str, deque[float]] = defaultdict(deque)
        self._waiters: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []

        self._global_window = SlidingWindow(global_rate, 1.0) if global_rate else None
        self._paid_window = SlidingWindow(paid_rate, 1.0) if global_rate else None
        self._chat_windows: dict[int, SlidingWindow] = {}
        self._second_window = SlidingWindow(float("inf"), 1.0)

        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._bound_port: int | None = None

        handlers: list[tuple[str, Handler]] = [
            ("getMe", self._get_me),
            ("logOut", self._log_out),
            ("close", self._close),
            ("getUpdates", self._get_updates),
            ("setWebhook", self._set_webhook),
            ("deleteWebhook", self._delete_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("sendMessage", self._send_message),
            ("sendPhoto", self._send_photo),
            ("sendDocument", self._send_document),
            ("editMessageText", self._edit_message_text),
            ("editMessageCaption", self._edit_message_caption),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("deleteMessage", self._delete_message),
            ("deleteMessages", self._delete_messages),
            ("sendChatAction", self._send_chat_action),
            ("getChat", self._get_chat),
            ("getChatMember", self._get_chat_member),
            ("getChatAdministrators", self._get_chat_administrators),
            ("getChatMemberCount", self._get_chat_member_count),
            ("leaveChat", self._leave_chat),
            ("answerCallbackQuery", self._answer_callback_query),
            ("answerInlineQuery", self._answer_inline_query),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("setMyDescription", self._set_my_description),
            ("getMyDescription", self._get_my_description),
            ("setMyShortDescription", self._set_my_short_description),
            ("getMyShortDescription", self._get_my_short_description),
            ("setMyName", self._set_my_name),
            ("getMyName", self._get_my_name),
        ]
        self._methods: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in handlers
        }

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind the port and start serving."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self._bound_port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock, backlog=1024)
        await site.start()
        self._session = aiohttp.ClientSession()
        self._webhook_event = asyncio.Event()
        self._spawn(self._webhook_loop())

    async def stop(self) -> None:
        """Finish pending long polls, stop webhook delivery and close the server."""
        self._wake_poller("shutdown")
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:PORT`` (what the bot gets as TELEGRAM_API_URL)."""
        if self._bound_port is None:
            raise RuntimeError("FakeBotApi is not started")
        return f"http://{self.host}:{self._bound_port}"

    @property
    def base_url(self) -> str:
        """PTB's ``base_url`` (the token is appended by PTB)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """PTB's ``base_file_url``."""
        return f"{self.url}/file/bot"

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- HTTP -----------------------------------------------------------------------------

    @staticmethod
    def _json(body: dict[str, Any], status: int = 200) -> web.Response:
        return web.Response(
            body=json.dumps(body).encode(), status=status, content_type="application/json"
        )

    async def _file(self, request: web.Request) -> web.Response:
        """File downloads are not stored; Telegram answers unknown paths with 404."""
        return self._json(ApiError(404, "Not Found").payload(), 404)

    async def _read_params(self, request: web.Request) -> Params:
        params: Params = dict(request.query) if request.query_string else {}
        if request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                raw = await request.read()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise bad_request("can't parse JSON object") from None
                    if not isinstance(body, dict):
                        raise bad_request("can't parse JSON object")
                    params.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        data = value.file.read()
                        params[key] = {
                            "file_name": value.filename,
                            "mime_type": value.content_type,
                            "file_size": len(data),
                            "data": data,
                        }
                    else:
                        params[key] = value
        return {key: _coerce(key, value) for key, value in params.items()}

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._json(ApiError(401, "Unauthorized").payload(), 401)
        key = request.match_info["method"].lower()
        entry = self._methods.get(key)
        if entry is None:
            return self._json(ApiError(404, "Not Found").payload(), 404)
        name, handler = entry
        params: Params = {}
        try:
            try:
                params = await self._read_params(request)
            finally:
                self.requests.append((name, params))
                self._calls[name].append(params)
                self.stats.requests[name] += 1
                self._notify()  # a long poll may sit in the handler: report its arrival now
            if self._delays:
                delay = self._take(self._delays, key)
                if delay:
                    # The call still takes effect afterwards, as on Telegram when the client
                    # gives up waiting.
                    await asyncio.sleep(delay)
            if self._faults:
                fault = self._take(self._faults, key)
                if fault is not None:
                    self.stats.injected_failures += 1
                    raise fault
            result = await handler(params)
        except ApiError as exc:
            self.stats.errors[exc.status] += 1
            response = self._json(exc.payload(), exc.status)
        except Exception as exc:  # a bug in the fake: answer like Telegram's 500, keep it visible
            self.internal_errors.append((name, params, exc))
            self.stats.errors[500] += 1
            error = ApiError(500, f"Internal Server Error: fake Bot API failed: {exc!r}")
            response = self._json(error.payload(), 500)
        else:
            if isinstance(result, _Described):
                body = {"ok": True, "result": result.result, "description": result.description}
            else:
                body = {"ok": True, "result": result}
            response = self._json(body)
        self._notify()
        return response

    @staticmethod
    def _take(queues: dict[str, deque[T]], key: str) -> T | None:
        for name in (key, "*"):
            queue = queues.get(name)
            if queue:
                item = queue.popleft()
                if not queue:
                    del queues[name]
                return item
        return None

    # --- waiting --------------------------------------------------------------------------

    def _notify(self) -> None:
        """Re-check every ``wait_for`` condition after a change of state."""
        if not self._waiters:
            return
        for predicate, future in list(self._waiters):
            if future.done():
                continue
            try:
                value = predicate()
            except Exception as exc:  # the test's predicate failed: surface it in the test
                future.set_exception(exc)
                continue
            if value:
                future.set_result(value)

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109 -- a per-call deadline is this helper's point
    ) -> T:
        """Return ``predicate()`` as soon as it is truthy; it is re-checked on every change."""
        value = predicate()
        if value:
            return value
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            recent = [name for name, _ in self.requests[-10:]]
            raise TimeoutError(
                f"condition not met within {timeout}s; last Bot API calls: {recent}"
            ) from None
        finally:
            self._waiters.remove(entry)

    async def wait_for_messages(
        self,
        chat_id: ChatRef,
        n: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 -- see wait_for
    ) -> list[StoredMessage]:
        """Wait until the bot has at least ``n`` (undeleted) messages in a chat; return them."""
        key = self._chat_id(chat_id)
        await self.wait_for(lambda: self._live_sent[key] >= n, timeout)
        return self.sent(key)

    async def wait_for_calls(
        self,
        method: str,
        n: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 -- see wait_for
    ) -> list[Params]:
        """Wait until ``method`` was called at least ``n`` times; return all its params."""
        calls = self.calls(method)
        await self.wait_for(lambda: len(calls) >= n, timeout)
        return calls

    # --- reading back ---------------------------------------------------------------------

    def sent(
        self, chat_id: ChatRef | None = None, *, include_deleted: bool = False
    ) -> list[StoredMessage]:
        """Messages the bot sent (current state after edits), optionally in one chat.

        ``chat_id`` may be an id, a :class:`FakeChat` or a :class:`FakeUser` (their private chat).
        """
        if chat_id is None:
            messages = self._sent_all
        else:
            messages = self._sent_by_chat.get(self._chat_id(chat_id), [])
        return [m for m in messages if include_deleted or not m.deleted]

    def message(self, chat_id: ChatRef, message_id: int) -> StoredMessage:
        """Any stored message (bot's or user's) by chat and id."""
        return self._messages[(self._chat_id(chat_id), message_id)]

    def calls(self, method: str) -> list[Params]:
        """Parameters of every call to ``method`` (case-insensitive), oldest first."""
        entry = self._methods.get(method.lower())
        return self._calls[entry[0] if entry else method]

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed (getUpdates) or delivered (webhook)."""
        return list(self._updates.values())

    # --- users and chats ------------------------------------------------------------------

    def add_user(
        self,
        first_name: str = "Ali",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        *,
        started: bool = True,
    ) -> FakeUser:
        """A new user with a private chat; ``started=False``: never pressed Start."""
        user = FakeUser(
            id=next(self._user_ids),
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            started=started,
        )
        self.users[user.id] = user
        chat = FakeChat(id=user.id, type="private", user=user)
        self.chats[chat.id] = chat
        return user

    def private_chat(self, user: FakeUser) -> FakeChat:
        """The user's private chat with the bot (its id is the user's id)."""
        return self.chats[user.id]

    def add_group(
        self,
        title: str = "Test group",
        *,
        admins: Iterable[FakeUser] = (),
        members: Iterable[FakeUser] = (),
        supergroup: bool = False,
        forum: bool = False,
        username: str | None = None,
        bot_admin: bool = False,
    ) -> FakeChat:
        """A group the bot is a member of; the first admin is its creator.

        Basic groups get ids like -4100000001, supergroups (and forums) -1002100000001.
        """
        supergroup = supergroup or forum or username is not None
        chat_id = -next(self._supergroup_ids) if supergroup else -next(self._group_ids)
        chat = FakeChat(
            id=chat_id,
            type="supergroup" if supergroup else "group",
            title=title,
            username=username,
            is_forum=forum,
            bot_status="administrator" if bot_admin else "member",
        )
        for index, admin in enumerate(admins):
            chat.members[admin.id] = "creator" if index == 0 else "administrator"
        for member in members:
            chat.members.setdefault(member.id, "member")
        self._register_chat(chat)
        return chat

    def _register_chat(self, chat: FakeChat) -> None:
        self.chats[chat.id] = chat
        if chat.username:
            self._chats_by_username[chat.username.lower()] = chat

    def add_topic(self, group: FakeChat, name: str) -> int:
        """Create a forum topic (silently, as setup); returns its ``message_thread_id``."""
        if not group.is_forum:
            raise ValueError("topics exist only in forum supergroups (add_group(forum=True))")
        creator = self._group_actor(group)
        message = self._new_message(group, creator)
        thread_id = message["message_id"]
        message["message_thread_id"] = thread_id
        message["is_topic_message"] = True
        message["forum_topic_created"] = {"name": name, "icon_color": 7322096}
        self._store(message, from_bot=False)
        group.topics[thread_id] = name
        return int(thread_id)

    def block(self, user: FakeUser) -> None:
        """The user blocks the bot: sends answer 403 "bot was blocked by the user"."""
        user.blocked = True

    def unblock(self, user: FakeUser) -> None:
        """The user unblocks the bot."""
        user.blocked = False

    def deactivate(self, user: FakeUser) -> None:
        """The account is deleted: sends answer 403 "user is deactivated"."""
        user.deactivated = True

    def kick_bot(self, group: FakeChat) -> None:
        """Remove the bot from a group: calls answer 403 "bot was kicked from the … chat"."""
        group.bot_status = "kicked"

    def migrate(self, group: FakeChat, *, notify: bool = True) -> int:
        """Upgrade a basic group to a supergroup; returns the new chat id.

        Calls to the old id then fail with "group chat was upgraded to a supergroup chat" and
        ``migrate_to_chat_id``. With ``notify`` the two service messages Telegram sends
        (``migrate_to_chat_id`` / ``migrate_from_chat_id``) are queued as updates.
        """
        if group.type != "group" or group.migrated_to is not None:
            raise ValueError("only a basic group that was not migrated yet can be migrated")
        new = FakeChat(
            id=-next(self._supergroup_ids),
            type="supergroup",
            title=group.title,
            members=dict(group.members),
            bot_status=group.bot_status,
        )
        self._register_chat(new)
        if notify:
            actor = self._group_actor(group)
            old_message = self._new_message(group, actor)
            old_message["migrate_to_chat_id"] = new.id
            self._store(old_message, from_bot=False)
            new_message = self._new_message(new, actor)
            new_message["migrate_from_chat_id"] = group.id
            self._store(new_message, from_bot=False)
            self._enqueue("message", old_message)
            self._enqueue("message", new_message)
        group.migrated_to = new.id
        return new.id

    def _group_actor(self, group: FakeChat) -> FakeUser:
        """Whoever performs a group-level action: the creator, else an admin, else anyone."""
        for wanted in ("creator", "administrator", "member"):
            for user_id, status in group.members.items():
                if status == wanted and user_id in self.users:
                    return self.users[user_id]
        return self.add_user("Group owner")

    # --- injecting what users do --------------------------------------------------------

    def send_message(
        self,
        user: FakeUser,
        chat: ChatRef | None,
        text: str,
        *,
        reply_to: MessageRef | int | None = None,
        message_thread_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """The user sends ``text``; returns the queued ``message`` Update.

        Entities Telegram detects itself (bot_command incl. ``/cmd@bot``, url, mention, hashtag)
        are added unless ``entities`` is given. ``reply_to`` embeds the full stored message.
        """
        if len(text) > 4096:
            # Telegram clients split longer text into several messages; none arrives whole.
            raise ValueError(
                f"a user's message holds at most 4,096 characters (got {len(text):,})"
            )
        message = self._user_message(user, chat, reply_to, message_thread_id)
        message["text"] = text
        found = entities if entities is not None else _detect_entities(text)
        if found:
            message["entities"] = found
        return self._deliver_user_message(message)

    def send_sticker(
        self,
        user: FakeUser,
        chat: ChatRef | None,
        *,
        emoji: str = "👍",
        reply_to: MessageRef | int | None = None,
        message_thread_id: int | None = None,
    ) -> dict[str, Any]:
        """The user sends a sticker (a non-text message)."""
        message = self._user_message(user, chat, reply_to, message_thread_id)
        file_number = next(self._file_ids)
        message["sticker"] = {
            "file_id": f"CAACAgIAAxkBAAE{file_number:08d}",
            "file_unique_id": f"AgAD{file_number:06d}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": 24_000,
        }
        return self._deliver_user_message(message)

    def send_photo(
        self,
        user: FakeUser,
        chat: ChatRef | None,
        *,
        caption: str | None = None,
        reply_to: MessageRef | int | None = None,
        message_thread_id: int | None = None,
    ) -> dict[str, Any]:
        """The user sends a photo, optionally with a caption."""
        message = self._user_message(user, chat, reply_to, message_thread_id)
        message["photo"] = self._photo_sizes()
        if caption:
            message["caption"] = caption
            found = _detect_entities(caption)
            if found:
                message["caption_entities"] = found
        return self._deliver_user_message(message)

    def edit_user_message(self, message: MessageRef, new_text: str) -> dict[str, Any]:
        """The user edits their text message; returns the queued ``edited_message`` Update."""
        stored = self._stored(message)
        if stored.from_bot:
            raise ValueError("users can edit only their own messages")
        if "text" not in stored.message:
            raise ValueError("only text messages can be edited with edit_user_message")
        current = stored.message
        current["text"] = new_text
        found = _detect_entities(new_text)
        if found:
            current["entities"] = found
        else:
            current.pop("entities", None)
        current["edit_date"] = max(int(time.time()), current["date"] + 1)
        stored.edit_count += 1
        if not self._bot_sees(self.chats[stored.chat_id], current):
            return {"update_id": None, "edited_message": copy.deepcopy(current)}
        return self._enqueue("edited_message", current)

    def press_button(
        self, user: FakeUser, message: MessageRef, callback_data: str
    ) -> dict[str, Any]:
        """The user presses the inline button carrying ``callback_data``."""
        stored = self._stored(message)
        if stored.deleted:
            raise ValueError("the message was deleted")
        if not any(b.get("callback_data") == callback_data for b in stored.buttons):
            raise ValueError(f"message has no button with callback_data {callback_data!r}")
        query_id = str(next(self._query_ids))
        self._pending_queries[query_id] = _PendingQuery("callback_query", user.id)
        callback = {
            "id": query_id,
            "from": user.to_dict(),
            "message": stored.message,
            "chat_instance": str(abs(stored.chat_id) * 7919 % 10**19),
            "data": callback_data,
        }
        return self._enqueue("callback_query", callback)

    def inline_query(
        self, user: FakeUser, query: str, offset: str = "", *, chat_type: str = "sender"
    ) -> dict[str, Any]:
        """The user types ``@bot query`` somewhere; returns the queued ``inline_query`` Update."""
        query_id = str(next(self._query_ids))
        self._pending_queries[query_id] = _PendingQuery("inline_query", user.id)
        inline = {
            "id": query_id,
            "from": user.to_dict(),
            "query": query,
            "offset": offset,
            "chat_type": chat_type,
        }
        return self._enqueue("inline_query", inline)

    def chat_member_update(
        self,
        chat: ChatRef,
        member: FakeUser,
        old_status: str,
        new_status: str,
        *,
        by: FakeUser | None = None,
    ) -> dict[str, Any]:
        """A membership change, applied to the state and queued as an Update.

        * private chat (``member`` is the user or the bot): the user blocks (``kicked``) or
          restarts (``member``) the bot → ``my_chat_member``;
        * group, ``member`` is the bot (``api.bot``): bot added/removed/promoted →
          ``my_chat_member``;
        * group, ``member`` is a user → ``chat_member`` (delivered only when allowed_updates
          asks for it, as on Telegram).
        """
        target = self._resolve_chat(chat)
        if target.type == "private":
            user = target.user
            assert user is not None
            kind, subject, actor = "my_chat_member", self.bot, user
            user.blocked = new_status == "kicked"
            if new_status == "member":
                user.started = True
        elif member.is_bot:
            kind, subject = "my_chat_member", self.bot
            actor = by or self._group_actor(target)
            target.bot_status = new_status
        else:
            kind, subject, actor = "chat_member", member, by or member
            target.members[member.id] = new_status
        if by is not None:
            actor = by
        payload = {
            "chat": target.to_dict(),
            "from": actor.to_dict(),
            "date": int(time.time()),
            "old_chat_member": self._member_dict(subject, old_status),
            "new_chat_member": self._member_dict(subject, new_status),
        }
        return self._enqueue(kind, payload)

    def _user_message(
        self,
        user: FakeUser,
        chat: ChatRef | None,
        reply_to: MessageRef | int | None,
        thread_id: int | None,
    ) -> dict[str, Any]:
        target = self.private_chat(user) if chat is None else self._resolve_chat(chat)
        if target.migrated_to is not None:
            raise ValueError("this group was migrated; use the supergroup")
        if target.type == "private":
            if target.user is not user:
                raise ValueError("a user can write only in their own private chat with the bot")
            if user.blocked:
                # Writing again means pressing "Restart bot", which Telegram reports first.
                self.chat_member_update(target, user, "kicked", "member")
            user.started = True
        else:
            status = target.members.get(user.id)
            if status == "kicked":
                raise ValueError("the user was banned from this group")
            if status in (None, "left"):
                target.members[user.id] = "member"
        replied = None
        if reply_to is not None:
            replied = (
                self._messages.get((target.id, reply_to))
                if isinstance(reply_to, int)
                else self._stored(reply_to)
            )
            if replied is None or replied.deleted:
                raise ValueError(f"no message {reply_to!r} to reply to in chat {target.id}")
        if thread_id is not None and target.is_forum and thread_id not in target.topics:
            raise ValueError(f"no topic {thread_id} in chat {target.id}")
        return self._new_message(target, user, thread_id=thread_id, reply_to=replied)

    def _deliver_user_message(self, message: dict[str, Any]) -> dict[str, Any]:
        self._store(message, from_bot=False)
        if not self._bot_sees(self.chats[message["chat"]["id"]], message):
            return {"update_id": None, "message": copy.deepcopy(message)}
        return self._enqueue("message", message)

    def _bot_sees(self, chat: FakeChat, message: dict[str, Any]) -> bool:
        """Whether the bot gets this group message (privacy mode hides most of them)."""
        if chat.type == "private":
            return True
        if chat.bot_status not in ("member", "administrator", "creator"):
            return False
        if not self.privacy_mode or chat.bot_status == "administrator":
            return True
        replied = message.get("reply_to_message")
        if replied and replied.get("from", {}).get("id") == self.bot.id:
            return True
        text = message.get("text", "")
        mention = f"@{self.bot.username}".lower()
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            return "@" not in command or command.lower().endswith(mention)
        return mention in text.lower()

    # --- state helpers --------------------------------------------------------------------

    def _chat_id(self, chat: ChatRef) -> int:
        if isinstance(chat, FakeChat | FakeUser):
            return chat.id
        return int(chat)

    def _resolve_chat(self, chat: ChatRef) -> FakeChat:
        return self.chats[self._chat_id(chat)]

    def _stored(self, message: MessageRef) -> StoredMessage:
        if isinstance(message, StoredMessage):
            return message
        if "update_id" in message:
            inner = next((v for k, v in message.items() if k != "update_id"), None)
            if not isinstance(inner, dict):
                raise ValueError("not a message update")
            message = inner
        key = (int(message["chat"]["id"]), int(message["message_id"]))
        return self._messages[key]

    def _user_dict(self, user_id: int) -> dict[str, Any] | None:
        user = self.users.get(user_id)
        if user is not None:
            return user.to_dict()
        return self._bot_dict if user_id == self.bot.id else None

    def _photo_sizes(self) -> list[dict[str, Any]]:
        number = next(self._file_ids)
        return [
            {
                "file_id": f"AgACAgIAAxkBAAE{number:08d}{size}",
                "file_unique_id": f"AQAD{number:06d}{size}",
                "width": width,
                "height": height,
                "file_size": width * height // 10,
            }
            for size, (width, height) in enumerate(((90, 60), (320, 213), (800, 533)))
        ]

    def _new_message(
        self,
        chat: FakeChat,
        sender: FakeUser,
        *,
        thread_id: int | None = None,
        reply_to: StoredMessage | None = None,
    ) -> dict[str, Any]:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": self._bot_dict if sender is self.bot else sender.to_dict(),
            "chat": chat.to_dict(),
            "date": int(time.time()),
        }
        if thread_id is None and reply_to is not None:
            thread_id = reply_to.message_thread_id
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if chat.is_forum:
                message["is_topic_message"] = True
                if reply_to is None:
                    # In a topic, a message that replies to nothing replies to the topic start.
                    reply_to = self._messages.get((chat.id, thread_id))
        if reply_to is not None:
            message["reply_to_message"] = _embedded(reply_to.message)
        return message

    def _store(
        self,
        message: dict[str, Any],
        *,
        from_bot: bool,
        raw_text: str | None = None,
        parse_mode: str | None = None,
    ) -> StoredMessage:
        stored = StoredMessage(message, from_bot, raw_text, parse_mode)
        chat_id = message["chat"]["id"]
        self._messages[(chat_id, message["message_id"])] = stored
        if from_bot:
            self._sent_all.append(stored)
            self._sent_by_chat[chat_id].append(stored)
            self._live_sent[chat_id] += 1
        return stored

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue an update (a snapshot of ``payload``) for getUpdates or the webhook."""
        update_id = next(self._update_ids)
        update = {"update_id": update_id, kind: copy.deepcopy(payload)}
        if kind in self._allowed_updates:
            self._updates[update_id] = update
            self._wake_poller("update")
            if self._webhook is not None and self._webhook_event is not None:
                self._webhook_event.set()
        self._notify()
        return update

    def _wake_poller(self, reason: str) -> None:
        waiter = self._poll_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(reason)

    def _member_dict(self, user: FakeUser, status: str) -> dict[str, Any]:
        """A Bot API ``ChatMember`` with every field PTB requires for the status."""
        member: dict[str, Any] = {"status": status, "user": user.to_dict()}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                can_be_edited=False,
                is_anonymous=False,
                can_manage_chat=True,
                can_delete_messages=True,
                can_manage_video_chats=True,
                can_restrict_members=True,
                can_promote_members=False,
                can_change_info=True,
                can_invite_users=True,
                can_post_stories=False,
                can_edit_stories=False,
                can_delete_stories=False,
                can_pin_messages=True,
                can_manage_topics=False,
            )
        elif status == "kicked":
            member["until_date"] = 0
        elif status == "restricted":
            member.update(
                {
                    "is_member": True,
                    "until_date": 0,
                    **dict.fromkeys(
                        (
                            "can_change_info",
                            "can_invite_users",
                            "can_pin_messages",
                            "can_send_messages",
                            "can_send_polls",
                            "can_send_other_messages",
                            "can_add_web_page_previews",
                            "can_manage_topics",
                            "can_send_audios",
                            "can_send_documents",
                            "can_send_photos",
                            "can_send_videos",
                            "can_send_video_notes",
                            "can_send_voice_notes",
                            "can_edit_tag",
                        ),
                        False,
                    ),
                }
            )
        return member

    # --- fault injection ------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 500,
        description: str | None = None,
        retry_after: int | None = None,
        count: int = 1,
    ) -> None:
        """Make the next ``count`` calls of ``method`` (``"*"``: any) fail with ``status``."""
        if description is None:
            description = {
                400: "Bad Request",
                401: "Unauthorized",
                403: "Forbidden",
                404: "Not Found",
                409: "Conflict",
                429: f"Too Many Requests: retry after {retry_after or 1}",
                500: "Internal Server Error",
                502: "Bad Gateway",
                504: "Gateway Timeout",
            }.get(status, "Internal Server Error")
        if status == 429 and retry_after is None:
            retry_after = 1
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        error = ApiError(status, description, parameters)
        self._faults[method.lower()].extend([error] * count)

    def delay_next(self, method: str, seconds: float, count: int = 1) -> None:
        """Hold the next ``count`` calls of ``method`` (``"*"``: any) for ``seconds``."""
        self._delays[method.lower()].extend([seconds] * count)

    # --- chat access checks ---------------------------------------------------------------

    def _chat(self, chat_id: Any, *, write: bool) -> FakeChat:
        """The chat a call addresses, with Telegram's 400/403 answers for unusable ones."""
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        chat: FakeChat | None
        if isinstance(chat_id, str):
            chat = self._chats_by_username.get(chat_id[1:].lower()) if chat_id[:1] == "@" else None
        else:
            chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.is_group:
            if chat.bot_status == "kicked":
                raise forbidden(f"bot was kicked from the {chat.type} chat")
            if chat.bot_status == "left":
                raise forbidden(f"bot is not a member of the {chat.type} chat")
        elif write and chat.user is not None:
            if chat.user.deactivated:
                raise forbidden("user is deactivated")
            if chat.user.blocked:
                raise forbidden("bot was blocked by the user")
            if not chat.user.started:
                raise forbidden("bot can't initiate conversation with a user")
        return chat

    def _thread(self, chat: FakeChat, thread_id: Any) -> int | None:
        if not thread_id:
            return None
        if chat.is_forum and thread_id in chat.topics:
            return int(thread_id)
        if chat.type == "supergroup" and not chat.is_forum:
            replied = self._messages.get((chat.id, thread_id))
            if replied is not None and not replied.deleted:
                return int(thread_id)
        raise bad_request("message thread not found")

    def _reply_target(self, chat: FakeChat, params: Params) -> StoredMessage | None:
        reply = params.get("reply_parameters")
        allow = bool(params.get("allow_sending_without_reply"))
        if reply is None and params.get("reply_to_message_id"):
            reply = {"message_id": params["reply_to_message_id"]}
        if reply is None:
            return None
        if not isinstance(reply, dict):
            raise bad_request("can't parse reply parameters JSON object")
        if "message_id" not in reply:
            raise bad_request('can\'t find field "message_id"')
        allow = bool(reply.get("allow_sending_without_reply", allow))
        target_chat = chat
        if reply.get("chat_id") not in (None, chat.id):
            target_chat = self._chat(_coerce("chat_id", reply["chat_id"]), write=False)
        stored = self._messages.get((target_chat.id, int(reply["message_id"])))
        if stored is None or stored.deleted:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        return stored if target_chat is chat else None

    @staticmethod
    def _link_preview(params: Params) -> dict[str, Any] | None:
        options = params.get("link_preview_options")
        if options is None and params.get("disable_web_page_preview"):
            options = {"is_disabled": True}
        if options is None:
            return None
        if not isinstance(options, dict):
            raise bad_request("can't parse link preview options JSON object")
        for name in ("is_disabled", "prefer_small_media", "prefer_large_media", "show_above_text"):
            if name in options and not isinstance(options[name], bool):
                raise bad_request(f'field "{name}" must be of type Boolean')
        return options

    @staticmethod
    def _markup(params: Params) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        return validate_reply_markup(markup)

    def _check_flood(self, chat: FakeChat, params: Params, *, new_message: bool = True) -> None:
        """Apply the configured flood limits; then count the call as accepted.

        ``global_rate`` meters sends and edits; per-chat limits meter new messages only.
        """
        now = time.monotonic()
        paid = bool(params.get("allow_paid_broadcast"))
        window = self._paid_window if paid else self._global_window
        chat_window = None
        if self.per_chat_limits and new_message:
            chat_window = self._chat_windows.get(chat.id)
            if chat_window is None:
                # Telegram's guidance: 1 message/s in a private chat, 20/min in a group.
                limit = (1, 1.0) if chat.type == "private" else (20, 60.0)
                chat_window = self._chat_windows[chat.id] = SlidingWindow(*limit)
        wait = max(
            window.retry_after(now) if window is not None else 0,
            chat_window.retry_after(now) if chat_window is not None else 0,
        )
        if wait:
            self.stats.rate_limited += 1
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        if window is not None:
            window.record(now)
        if chat_window is not None:
            chat_window.record(now)
        in_last_second = self._second_window.record(now)
        if in_last_second > self.stats.peak_sends_per_second:
            self.stats.peak_sends_per_second = in_last_second

    def _editable(self, chat: FakeChat, message_id: Any) -> StoredMessage:
        if not message_id:
            raise bad_request("message identifier is not specified")
        stored = self._messages.get((chat.id, message_id))
        if stored is None or stored.deleted:
            raise bad_request("message to edit not found")
        if not stored.from_bot:
            raise bad_request("message can't be edited")
        return stored

    @staticmethod
    def _not_modified() -> ApiError:
        return bad_request(
            "message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )

    @staticmethod
    def _set_optional(message: dict[str, Any], key: str, value: Any) -> None:
        if value:
            message[key] = value
        else:
            message.pop(key, None)

    # --- Bot API methods: bot ---------------------------------------------------------------

    async def _get_me(self, params: Params) -> Any:
        return {
            **self._bot_dict,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _log_out(self, params: Params) -> Any:
        return True

    async def _close(self, params: Params) -> Any:
        return True

    # --- updates --------------------------------------------------------------------------

    def _set_allowed_updates(self, allowed: Any) -> None:
        if allowed is None:
            return
        if not isinstance(allowed, list):
            raise bad_request("can't parse allowed_updates JSON object")
        chosen = frozenset(str(kind) for kind in allowed) & ALL_UPDATE_TYPES
        self._allowed_updates = chosen or DEFAULT_ALLOWED_UPDATES

    def _confirm(self, offset: int) -> None:
        updates = self._updates
        if offset < 0:
            keep = -offset
            while len(updates) > keep:
                updates.popitem(last=False)
            return
        while updates:
            first = next(iter(updates))
            if first >= offset:
                break
            del updates[first]

    def _batch(self, limit: int) -> list[dict[str, Any]]:
        return list(itertools.islice(self._updates.values(), limit))

    async def _get_updates(self, params: Params) -> Any:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        # Only one getUpdates may be waiting: the older one is terminated with 409.
        self._wake_poller("conflict")
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(int(params.get("timeout") or 0), 0)
        self._set_allowed_updates(params.get("allowed_updates"))
        if offset:
            self._confirm(offset)
        batch = self._batch(limit)
        if batch or not timeout:
            return batch
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._poll_waiter = waiter
        try:
            async with asyncio.timeout(timeout):
                reason = await waiter
        except TimeoutError:
            reason = "timeout"
        finally:
            if self._poll_waiter is waiter:
                self._poll_waiter = None
        if reason == "conflict":
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        if reason == "webhook":
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        return self._batch(limit)

    async def _set_webhook(self, params: Params) -> Any:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params)
        if not url.lower().startswith(("https://", "http://")):
            # Telegram demands HTTPS; the fake also takes http:// so tests can use loopback.
            raise bad_request("bad webhook: HTTPS url must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise bad_request("bad webhook: secret token contains unallowed characters")
        max_connections = int(params.get("max_connections") or 40)
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        self._set_allowed_updates(params.get("allowed_updates"))
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = _Webhook(
            url=url,
            secret_token=str(secret) if secret else None,
            max_connections=max_connections,
            slots=asyncio.Semaphore(max_connections),
            ip_address=params.get("ip_address"),
        )
        self._webhook_error = None
        self._wake_poller("webhook")
        if self._webhook_event is not None:
            self._webhook_event.set()
        return _Described(True, "Webhook was set")

    async def _delete_webhook(self, params: Params) -> Any:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        was_set = self._webhook is not None
        self._webhook = None
        return _Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    async def _get_webhook_info(self, params: Params) -> Any:
        info: dict[str, Any] = {
            "url": self._webhook.url if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook is not None:
            info["max_connections"] = self._webhook.max_connections
            if self._allowed_updates != DEFAULT_ALLOWED_UPDATES:
                info["allowed_updates"] = sorted(self._allowed_updates)
            if self._webhook.ip_address:
                info["ip_address"] = self._webhook.ip_address
            if self._webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    async def _webhook_loop(self) -> None:
        """Push queued updates to the webhook, at most ``max_connections`` at a time."""
        assert self._webhook_event is not None
        while True:
            await self._webhook_event.wait()
            self._webhook_event.clear()
            hook = self._webhook
            if hook is None:
                continue
            for update_id in list(self._updates):
                if update_id in self._in_flight:
                    continue
                await hook.slots.acquire()
                if self._webhook is not hook or update_id not in self._updates:
                    hook.slots.release()
                    continue
                self._in_flight.add(update_id)
                self._spawn(self._deliver(hook, update_id))

    async def _deliver(self, hook: _Webhook, update_id: int) -> None:
        try:
            for attempt in range(self.webhook_attempts):
                update = self._updates.get(update_id)
                if update is None or self._webhook is not hook:
                    return
                error = await self._post(hook, update)
                if error is None:
                    self._updates.pop(update_id, None)
                    self.stats.webhook_deliveries += 1
                    self._notify()
                    return
                self.stats.webhook_failures += 1
                self._webhook_error = (int(time.time()), error)
                if attempt + 1 < self.webhook_attempts:
                    await asyncio.sleep(self.webhook_retry_delay * 2**attempt)
            dropped = self._updates.pop(update_id, None)
            if dropped is not None:
                self.webhook_dropped.append(dropped)
            self._notify()
        finally:
            self._in_flight.discard(update_id)
            hook.slots.release()
            if self._updates and self._webhook is hook and self._webhook_event is not None:
                self._webhook_event.set()

    async def _post(self, hook: _Webhook, update: dict[str, Any]) -> str | None:
        """POST one update; ``None`` on a 2xx answer, else Telegram's last_error_message."""
        assert self._session is not None
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        try:
            async with self._session.post(
                hook.url,
                data=json.dumps(update),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except TimeoutError:
            return "Read timeout expired"
        except aiohttp.ClientConnectionError:
            return "Connection refused"
        except aiohttp.ClientError as exc:
            return f"Webhook delivery failed: {exc}"

    # --- messages -------------------------------------------------------------------------

    async def _send_message(self, params: Params) -> Any:
        text = params.get("text")
        if not text:
            raise bad_request("message text is empty")
        chat = self._chat(params.get("chat_id"), write=True)
        plain, entities = format_text(
            str(text),
            params.get("parse_mode"),
            params.get("entities"),
            user_lookup=self._user_dict,
        )
        markup = self._markup(params)
        thread_id = self._thread(chat, params.get("message_thread_id"))
        replied = self._reply_target(chat, params)
        preview = self._link_preview(params)
        self._check_flood(chat, params)
        message = self._new_message(chat, self.bot, thread_id=thread_id, reply_to=replied)
        message["text"] = plain
        if entities:
            message["entities"] = entities
        if preview:
            message["link_preview_options"] = preview
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self._store(
            message, from_bot=True, raw_text=str(text), parse_mode=params.get("parse_mode")
        )
        self.stats.sent += 1
        return message

    async def _send_media(self, params: Params, kind: str) -> dict[str, Any]:
        media = params.get(kind)
        if not media:
            raise bad_request(f"there is no {kind} in the request")
        chat = self._chat(params.get("chat_id"), write=True)
        caption = params.get("caption")
        plain: str = ""
        entities: list[dict[str, Any]] = []
        if caption:
            plain, entities = format_text(
                str(caption),
                params.get("parse_mode"),
                params.get("caption_entities"),
                user_lookup=self._user_dict,
                caption=True,
            )
        markup = self._markup(params)
        thread_id = self._thread(chat, params.get("message_thread_id"))
        replied = self._reply_target(chat, params)
        self._check_flood(chat, params)
        message = self._new_message(chat, self.bot, thread_id=thread_id, reply_to=replied)
        if kind == "photo":
            message["photo"] = self._photo_sizes()
        else:
            number = next(self._file_ids)
            document = {
                "file_id": f"BQACAgIAAxkBAAE{number:08d}",
                "file_unique_id": f"AgAD{number}",
            }
            if isinstance(media, dict):
                document.update(file_name=media["file_name"], file_size=media["file_size"])
                if media.get("mime_type"):
                    document["mime_type"] = media["mime_type"]
            message["document"] = document
        if plain:
            message["caption"] = plain
        if entities:
            message["caption_entities"] = entities
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self._store(
            message,
            from_bot=True,
            raw_text=str(caption) if caption else None,
            parse_mode=params.get("parse_mode"),
        )
        self.stats.sent += 1
        return message

    async def _send_photo(self, params: Params) -> Any:
        return await self._send_media(params, "photo")

    async def _send_document(self, params: Params) -> Any:
        return await self._send_media(params, "document")

    def _edit_inline(self, params: Params) -> Any:
        # Messages sent via inline mode are not stored; record the edit and accept it.
        self.inline_edits.append(params)
        return True

    async def _edit_message_text(self, params: Params) -> Any:
        if params.get("inline_message_id"):
            return self._edit_inline(params)
        text = params.get("text")
        if not text:
            raise bad_request("message text is empty")
        chat = self._chat(params.get("chat_id"), write=True)
        stored = self._editable(chat, params.get("message_id"))
        message = stored.message
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        plain, entities = format_text(
            str(text),
            params.get("parse_mode"),
            params.get("entities"),
            user_lookup=self._user_dict,
        )
        markup = self._markup(params)
        inline_markup = markup if markup and "inline_keyboard" in markup else None
        preview = self._link_preview(params)
        if (
            plain == message["text"]
            and entities == message.get("entities", [])
            and inline_markup == message.get("reply_markup")
        ):
            raise self._not_modified()
        self._check_flood(chat, params, new_message=False)
        message["text"] = plain
        self._set_optional(message, "entities", entities)
        # Like Telegram: an edit without reply_markup removes the inline keyboard.
        self._set_optional(message, "reply_markup", inline_markup)
        if preview is not None:
            message["link_preview_options"] = preview
        message["edit_date"] = int(time.time())
        stored.raw_text = str(text)
        stored.parse_mode = params.get("parse_mode")
        stored.edit_count += 1
        self.stats.edited += 1
        return message

    async def _edit_message_caption(self, params: Params) -> Any:
        if params.get("inline_message_id"):
            return self._edit_inline(params)
        chat = self._chat(params.get("chat_id"), write=True)
        stored = self._editable(chat, params.get("message_id"))
        message = stored.message
        if "text" in message:
            raise bad_request("there is no caption in the message to edit")
        caption = params.get("caption")
        plain: str = ""
        entities: list[dict[str, Any]] = []
        if caption:
            plain, entities = format_text(
                str(caption),
                params.get("parse_mode"),
                params.get("caption_entities"),
                user_lookup=self._user_dict,
                caption=True,
            )
        markup = self._markup(params)
        inline_markup = markup if markup and "inline_keyboard" in markup else None
        if (
            plain == message.get("caption", "")
            and entities == message.get("caption_entities", [])
            and inline_markup == message.get("reply_markup")
        ):
            raise self._not_modified()
        self._check_flood(chat, params, new_message=False)
        self._set_optional(message, "caption", plain)
        self._set_optional(message, "caption_entities", entities)
        self._set_optional(message, "reply_markup", inline_markup)
        message["edit_date"] = int(time.time())
        stored.raw_text = str(caption) if caption else None
        stored.parse_mode = params.get("parse_mode")
        stored.edit_count += 1
        self.stats.edited += 1
        return message

    async def _edit_message_reply_markup(self, params: Params) -> Any:
        if params.get("inline_message_id"):
            return self._edit_inline(params)
        chat = self._chat(params.get("chat_id"), write=True)
        stored = self._editable(chat, params.get("message_id"))
        markup = self._markup(params)
        if markup is not None and "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")
        if markup == stored.message.get("reply_markup"):
            raise self._not_modified()
        self._set_optional(stored.message, "reply_markup", markup)
        stored.message["edit_date"] = int(time.time())
        stored.edit_count += 1
        self.stats.edited += 1
        return stored.message

    def _delete(self, chat: FakeChat, message_id: Any) -> bool:
        stored = self._messages.get((chat.id, message_id))
        if stored is None or stored.deleted:
            return False
        if (
            not stored.from_bot
            and chat.is_group
            and chat.bot_status not in ("administrator", "creator")
        ):
            raise bad_request("message can't be deleted")
        stored.deleted = True
        if stored.from_bot:
            self._live_sent[chat.id] -= 1
        return True

    async def _delete_message(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=False)
        if not params.get("message_id"):
            raise bad_request("message identifier is not specified")
        if not self._delete(chat, params["message_id"]):
            raise bad_request("message to delete not found")
        return True

    async def _delete_messages(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=False)
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must be a non-empty list of at most 100 identifiers")
        deleted = [self._delete(chat, int(message_id)) for message_id in ids]
        if not any(deleted):
            raise bad_request("message to delete not found")
        return True

    async def _send_chat_action(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=True)
        if params.get("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self._thread(chat, params.get("message_thread_id"))
        return True

    # --- chats ----------------------------------------------------------------------------

    async def _get_chat(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=False)
        info = chat.to_dict()
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return info

    def _status_in(self, chat: FakeChat, user_id: int) -> tuple[FakeUser, str]:
        if user_id == self.bot.id:
            status = "member" if chat.type == "private" else chat.bot_status
            return self.bot, status
        user = self.users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        if chat.type == "private":
            return user, "member" if chat.id == user_id else "left"
        return user, chat.members.get(user_id, "left")

    async def _get_chat_member(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=False)
        if not params.get("user_id"):
            raise bad_request("user not found")
        user, status = self._status_in(chat, int(params["user_id"]))
        return self._member_dict(user, status)

    async def _get_chat_administrators(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=False)
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        admins = [
            self._member_dict(self.users[user_id], status)
            for user_id, status in chat.members.items()
            if status in ("creator", "administrator") and user_id in self.users
        ]
        if chat.bot_status == "administrator":
            admins.append(self._member_dict(self.bot, "administrator"))
        return admins

    async def _get_chat_member_count(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=False)
        if chat.type == "private":
            return 2
        present = ("creator", "administrator", "member", "restricted")
        return sum(status in present for status in chat.members.values()) + 1

    async def _leave_chat(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=False)
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        self.chat_member_update(chat, self.bot, chat.bot_status, "left", by=self.bot)
        return True

    # --- queries --------------------------------------------------------------------------

    def _pop_query(self, query_id: Any, kind: str) -> None:
        pending = self._pending_queries.get(str(query_id or ""))
        if pending is None or pending.kind != kind:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        del self._pending_queries[str(query_id)]

    async def _answer_callback_query(self, params: Params) -> Any:
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self._pop_query(params.get("callback_query_id"), "callback_query")
        self.answers.append({"method": "answerCallbackQuery", **params})
        return True

    async def _answer_inline_query(self, params: Params) -> Any:
        validate_inline_results(params.get("results", []), self._user_dict)
        next_offset = params.get("next_offset")
        if next_offset is not None and len(str(next_offset).encode()) > 64:
            raise bad_request("next_offset is too long")
        self._pop_query(params.get("inline_query_id"), "inline_query")
        self.answers.append({"method": "answerInlineQuery", **params})
        return True

    # --- bot settings ---------------------------------------------------------------------

    def _command_key(self, params: Params) -> tuple[str, str]:
        def resolve(chat_id: Any) -> int:
            return self._chat(_coerce("chat_id", chat_id), write=False).id

        language = str(params.get("language_code") or "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code specified")
        return scope_key(params.get("scope"), resolve), language

    async def _set_my_commands(self, params: Params) -> Any:
        commands = validate_commands(params.get("commands", []))
        key = self._command_key(params)
        if commands:
            self.commands[key] = commands
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: Params) -> Any:
        return self.commands.get(self._command_key(params), [])

    async def _delete_my_commands(self, params: Params) -> Any:
        self.commands.pop(self._command_key(params), None)
        return True

    def _set_text_setting(self, params: Params, field: str, limit: int) -> Any:
        value = str(params.get(field) or "")
        if len(value) > limit:
            raise bad_request(f"{field.replace('_', ' ')} is too long")
        key = (field, str(params.get("language_code") or ""))
        if value:
            self.descriptions[key] = value
        else:
            self.descriptions.pop(key, None)
        return True

    def _get_text_setting(self, params: Params, field: str) -> Any:
        language = str(params.get("language_code") or "")
        value = self.descriptions.get((field, language), self.descriptions.get((field, ""), ""))
        return {field: value}

    async def _set_my_description(self, params: Params) -> Any:
        return self._set_text_setting(params, "description", 512)

    async def _get_my_description(self, params: Params) -> Any:
        return self._get_text_setting(params, "description")

    async def _set_my_short_description(self, params: Params) -> Any:
        return self._set_text_setting(params, "short_description", 120)

    async def _get_my_short_description(self, params: Params) -> Any:
        return self._get_text_setting(params, "short_description")

    async def _set_my_name(self, params: Params) -> Any:
        return self._set_text_setting(params, "name", 64)

    async def _get_my_name(self, params: Params) -> Any:
        result = self._get_text_setting(params, "name")
        return result if result["name"] else {"name": self.bot.first_name}
