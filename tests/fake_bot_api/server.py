"""An HTTP server that answers like the Telegram Bot API, plus helpers to play the users.

The bot under test talks to it over real HTTP (``TELEGRAM_API_URL``), from this process or from
a subprocess; all state lives in the :class:`FakeBotApi` object inside the test process.

:class:`FakeBotApi` is put together from one mixin per area: :mod:`.messages` (what the bot
sends, edits and deletes), :mod:`.chats` (groups, topics and members), :mod:`.updates`
(getUpdates and webhooks), :mod:`.flood` (rate windows, 429 and injected faults), :mod:`.users`
(simulated users and the answers to their queries), :mod:`.channels` (channels, their
discussion groups, automatic forwards and reactions) and :mod:`.profile` (the bot's own profile),
all on the shared state of :mod:`.core`. This module serves them over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import aiohttp
from aiohttp import web

from tests.fake_bot_api.channels import ChannelsMixin
from tests.fake_bot_api.chats import ChatsMixin
from tests.fake_bot_api.core import (
    ALL_UPDATE_TYPES,
    DEFAULT_ALLOWED_UPDATES,
    Described,
    Handler,
)
from tests.fake_bot_api.errors import ApiError
from tests.fake_bot_api.flood import FloodControlMixin
from tests.fake_bot_api.messages import MessagesMixin
from tests.fake_bot_api.params import Params, read_params
from tests.fake_bot_api.profile import BotProfileMixin
from tests.fake_bot_api.updates import UpdatesMixin
from tests.fake_bot_api.users import UsersMixin

__all__ = ["ALL_UPDATE_TYPES", "DEFAULT_ALLOWED_UPDATES", "FakeBotApi"]

T = TypeVar("T")

# Every Bot API method the fake answers (matched case-insensitively), by area.
_HANDLERS: list[tuple[str, Handler]] = [
    ("getMe", BotProfileMixin._get_me),
    ("logOut", BotProfileMixin._log_out),
    ("close", BotProfileMixin._close),
    ("getUpdates", UpdatesMixin._get_updates),
    ("setWebhook", UpdatesMixin._set_webhook),
    ("deleteWebhook", UpdatesMixin._delete_webhook),
    ("getWebhookInfo", UpdatesMixin._get_webhook_info),
    ("sendMessage", MessagesMixin._send_message),
    ("sendPhoto", MessagesMixin._send_photo),
    ("sendDocument", MessagesMixin._send_document),
    ("editMessageText", MessagesMixin._edit_message_text),
    ("editMessageCaption", MessagesMixin._edit_message_caption),
    ("editMessageReplyMarkup", MessagesMixin._edit_message_reply_markup),
    ("deleteMessage", MessagesMixin._delete_message),
    ("deleteMessages", MessagesMixin._delete_messages),
    ("sendChatAction", MessagesMixin._send_chat_action),
    ("setMessageReaction", ChannelsMixin._set_message_reaction),
    ("getChat", ChatsMixin._get_chat),
    ("getChatMember", ChatsMixin._get_chat_member),
    ("getChatAdministrators", ChatsMixin._get_chat_administrators),
    ("getChatMemberCount", ChatsMixin._get_chat_member_count),
    ("leaveChat", ChatsMixin._leave_chat),
    ("answerCallbackQuery", UsersMixin._answer_callback_query),
    ("answerInlineQuery", UsersMixin._answer_inline_query),
    ("setMyCommands", BotProfileMixin._set_my_commands),
    ("getMyCommands", BotProfileMixin._get_my_commands),
    ("deleteMyCommands", BotProfileMixin._delete_my_commands),
    ("setMyDescription", BotProfileMixin._set_my_description),
    ("getMyDescription", BotProfileMixin._get_my_description),
    ("setMyShortDescription", BotProfileMixin._set_my_short_description),
    ("getMyShortDescription", BotProfileMixin._get_my_short_description),
    ("setMyName", BotProfileMixin._set_my_name),
    ("getMyName", BotProfileMixin._get_my_name),
]


class FakeBotApi(
    UsersMixin,
    ChatsMixin,
    MessagesMixin,
    FloodControlMixin,
    UpdatesMixin,
    BotProfileMixin,
):
    """A faithful stand-in for ``https://api.telegram.org`` for one bot token.

    Use as ``async with FakeBotApi() as api:`` and point PTB at ``api.base_url`` /
    ``api.base_file_url`` (or give the bot ``api.url`` as ``TELEGRAM_API_URL``).
    """

    _API_METHODS: ClassVar[Mapping[str, tuple[str, Handler]]] = {
        name.lower(): (name, handler) for name, handler in _HANDLERS
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

    # --- HTTP -----------------------------------------------------------------------------

    @staticmethod
    def _json(body: dict[str, Any], status: int = 200) -> web.Response:
        return web.Response(
            body=json.dumps(body).encode(), status=status, content_type="application/json"
        )

    async def _file(self, request: web.Request) -> web.Response:
        """File downloads are not stored; Telegram answers unknown paths with 404."""
        return self._json(ApiError(404, "Not Found").payload(), 404)

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._json(ApiError(401, "Unauthorized").payload(), 401)
        key = request.match_info["method"].lower()
        entry = self._API_METHODS.get(key)
        if entry is None:
            return self._json(ApiError(404, "Not Found").payload(), 404)
        name, handler = entry
        params: Params = {}
        try:
            try:
                params = await read_params(request)
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
            result = await handler(self, params)
        except ApiError as exc:
            self.stats.errors[exc.status] += 1
            response = self._json(exc.payload(), exc.status)
        except Exception as exc:  # a bug in the fake: answer like Telegram's 500, keep it visible
            self.internal_errors.append((name, params, exc))
            self.stats.errors[500] += 1
            error = ApiError(500, f"Internal Server Error: fake Bot API failed: {exc!r}")
            response = self._json(error.payload(), 500)
        else:
            if isinstance(result, Described):
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
