"""The fake's state and the bookkeeping every area shares: chats and messages stored, updates
queued, waiting for conditions, and the checks a call's ``chat_id`` goes through."""

from __future__ import annotations

import asyncio
import copy
import itertools
import time
from collections import Counter, OrderedDict, defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import aiohttp
from aiohttp import web

from tests.fake_bot_api.errors import ApiError, bad_request, forbidden
from tests.fake_bot_api.models import FakeChat, FakeImage, FakeUser, Stats, StoredMessage
from tests.fake_bot_api.params import Params
from tests.fake_bot_api.ratelimit import SlidingWindow

__all__ = [
    "ALL_UPDATE_TYPES",
    "DEFAULT_ALLOWED_UPDATES",
    "ChatRef",
    "Described",
    "FakeBotApiCore",
    "Handler",
    "MessageRef",
    "PendingQuery",
    "Webhook",
]

T = TypeVar("T")
ChatRef = FakeChat | FakeUser | int
MessageRef = StoredMessage | dict[str, Any]
# A Bot API method: called with the fake and the call's parameters, returns the result.
Handler = Callable[[Any, Params], Awaitable[Any]]

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


def _embedded(message: dict[str, Any]) -> dict[str, Any]:
    """A message as nested in another one: Telegram never nests replies two levels deep."""
    nested = dict(message)
    nested.pop("reply_to_message", None)
    return nested


@dataclass
class Described:
    """A successful result that also carries Telegram's human ``description``."""

    result: Any
    description: str


@dataclass(eq=False)
class Webhook:
    """The webhook set with setWebhook."""

    url: str
    secret_token: str | None
    max_connections: int
    slots: asyncio.Semaphore
    ip_address: str | None = None


@dataclass
class PendingQuery:
    """A callback or inline query the bot has not answered yet."""

    kind: str
    user_id: int
    created: float = field(default_factory=time.monotonic)


class FakeBotApiCore:
    """State and shared bookkeeping; the areas are mixins on top (see ``server.FakeBotApi``)."""

    # Every Bot API method the fake answers, by lower-case name: (its name, its handler).
    _API_METHODS: ClassVar[Mapping[str, tuple[str, Handler]]] = {}

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
        # What the bot reacted with, by (chat id, message id): the current reaction list.
        self.reactions: dict[tuple[int, int], list[dict[str, Any]]] = {}
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
        # Pictures on the web (add_image), how often Telegram fetched each URL, and the photos
        # it holds by file id (each size's id leads to all the sizes, as on Telegram).
        self.images: dict[str, FakeImage] = {}
        self.image_fetches: Counter[str] = Counter()
        self._photos: dict[str, list[dict[str, Any]]] = {}
        self._documents: set[str] = set()

        self._updates: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self._pending_queries: dict[str, PendingQuery] = {}
        self._poll_waiter: asyncio.Future[str] | None = None
        self._webhook: Webhook | None = None
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

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
        entry = self._API_METHODS.get(method.lower())
        return self._calls[entry[0] if entry else method]

    # --- state helpers --------------------------------------------------------------------

    def _new_user(
        self,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        *,
        started: bool = True,
    ) -> FakeUser:
        """A new user with a private chat (what ``add_user`` makes)."""
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
        """A new photo's sizes, kept so that any of their file ids sends it again."""
        number = next(self._file_ids)
        sizes = [
            {
                "file_id": f"AgACAgIAAxkBAAE{number:08d}{size}",
                "file_unique_id": f"AQAD{number:06d}{size}",
                "width": width,
                "height": height,
                "file_size": width * height // 10,
            }
            for size, (width, height) in enumerate(((90, 60), (320, 213), (800, 533)))
        ]
        for size in sizes:
            self._photos[size["file_id"]] = sizes
        return sizes

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
            if thread_id is None and reply_to.message.get("is_automatic_forward"):
                # A channel post's copy in its discussion group starts the post's thread.
                thread_id = reply_to.message_id
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
        silent: bool = False,
    ) -> StoredMessage:
        stored = StoredMessage(message, from_bot, raw_text, parse_mode, silent=silent)
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
        if chat.is_channel:
            if chat.bot_status not in ("administrator", "creator"):
                if not write and chat.username:
                    return chat  # a public channel can be read by anyone
                if not write:
                    raise bad_request("chat not found")
                raise forbidden("bot is not a member of the channel chat")
            if write and not chat.bot_can_post:
                raise bad_request("need administrator rights in the channel chat")
        elif chat.is_group:
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
