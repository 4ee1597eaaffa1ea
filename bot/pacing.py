"""Flood control where PTB lets us in: a rate limiter that paces every message to a chat and
honours Telegram's ``retry_after``, and an update processor that lets a flooding chat's
commands through only as fast as they can be answered (rules in ``bot.flood``)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter, BaseUpdateProcessor

from bot.flood import ChatPace, FloodGate, Verdict

log = logging.getLogger(__name__)

# An answer that would have to wait longer than this for its chat is dropped (and logged):
# the reader has long moved on, and a queue of late answers only prolongs the flood wait.
MAX_WAIT = 30.0
# Endpoints that put a new message in a chat: the ones Telegram meters per chat.
_NEW_MESSAGE_PREFIXES = ("send", "copyMessage", "forwardMessage")
_NOT_A_MESSAGE = frozenset({"sendChatAction"})


class ChatBusyError(RetryAfter):
    """Raised by the pacer itself: the chat could only get this message too late."""


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _chat_key(data: dict[str, Any]) -> int | str | None:
    chat_id = data.get("chat_id")
    if isinstance(chat_id, int):
        return chat_id
    if isinstance(chat_id, str) and chat_id:
        text = chat_id.lstrip("-")
        return int(chat_id) if text.isdigit() else chat_id  # "@channel"
    return None


class ChatRateLimiter(BaseRateLimiter[None]):
    """Every request with a ``chat_id`` waits its turn in that chat: new messages at the
    chat's pace, everything until a ``retry_after`` Telegram named has passed. A 429 is
    retried once after its wait; a wait beyond ``max_wait`` gives up with RetryAfter."""

    def __init__(self, pace: ChatPace, *, max_wait: float = MAX_WAIT) -> None:
        self._pace = pace
        self._max_wait = max_wait
        self._locks: dict[int | str, asyncio.Lock] = {}
        self._calls = 0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    @contextlib.asynccontextmanager
    async def _turn(self, chat: int | str, *, new_message: bool) -> AsyncIterator[None]:
        """Hold ``chat``'s turn: wait until a message may go to it, keep others to the chat
        waiting while it is sent, and count it from when Telegram has answered (Telegram
        counts it on arrival, which comes before the answer, so this errs on the safe side)."""
        lock = self._locks.setdefault(chat, asyncio.Lock())
        async with lock:  # one message at a time per chat keeps its order and its window
            wait = self._pace.delay(chat, self._now(), new_message=new_message)
            if wait > self._max_wait:
                log.warning("chat=%s answer dropped: it could only be sent in %.0f s", chat, wait)
                raise ChatBusyError(timedelta(seconds=round(wait)))
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                if new_message:
                    self._pace.sent(chat, self._now())

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Pace requests to a chat; pass the rest (getUpdates, callback answers) at once."""
        chat = _chat_key(data)
        if chat is None:
            return await callback(*args, **kwargs)
        new_message = endpoint.startswith(_NEW_MESSAGE_PREFIXES) and endpoint not in _NOT_A_MESSAGE
        self._calls += 1
        if self._calls % 1000 == 0:
            self._pace.forget_idle(self._now())
            for key in [k for k, lock in self._locks.items() if not lock.locked()]:
                del self._locks[key]
        for attempt in (1, 2):
            try:
                async with self._turn(chat, new_message=new_message):
                    return await callback(*args, **kwargs)
            except ChatBusyError:
                raise
            except RetryAfter as exc:
                wait = _seconds(exc.retry_after)
                self._pace.block(chat, wait, self._now())
                log.warning("chat=%s Telegram asked to wait %.0f s (%s)", chat, wait, endpoint)
                if attempt == 2 or wait > self._max_wait:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


def _request_of(update: object) -> tuple[int, str] | None:
    """(chat id, what was asked) for a command or a button press; None for anything else
    (comments, inline queries, membership changes are never gated)."""
    if not isinstance(update, Update):
        return None
    query = update.callback_query
    if query is not None and query.data is not None:
        chat = query.message.chat.id if query.message is not None else query.from_user.id
        return chat, f"button {query.data}"
    message = update.message
    if message is not None and message.text and message.text.startswith("/"):
        command, _, rest = message.text.partition(" ")
        return message.chat.id, f"{command.lower()} {' '.join(rest.split())}"
    return None


class GatedUpdates(BaseUpdateProcessor):
    """Concurrent updates (up to ``max_concurrent``), with each chat's commands and button
    presses admitted by a FloodGate: duplicates and floods are dropped before any handler
    runs, so they hold no database connection and send nothing; the first dropped one of a
    flood is marked so the gate handler tells the reader, once, to slow down."""

    def __init__(self, max_concurrent: int, gate: FloodGate | None = None) -> None:
        super().__init__(max_concurrent)
        self._gate = gate if gate is not None else FloodGate()
        self._warn: set[int] = set()
        self._seen = 0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def take_warning(self, update_id: int) -> bool:
        """Whether this update is the one that tells its chat to slow down (asked once)."""
        if update_id in self._warn:
            self._warn.discard(update_id)
            return True
        return False

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update's handlers, unless the gate drops it."""
        request = _request_of(update)
        if request is None:
            await coroutine
            return
        chat, asked = request
        now = asyncio.get_running_loop().time()
        self._seen += 1
        if self._seen % 1000 == 0:
            self._gate.forget_idle(now)
        verdict = self._gate.admit(chat, asked, now)
        if verdict is Verdict.ANSWER:
            try:
                await coroutine
            finally:
                self._gate.done(chat, asked)
            return
        if verdict is Verdict.WARN and isinstance(update, Update):
            log.info("chat=%s is flooding; told to slow down", chat)
            self._warn.add(update.update_id)
            await coroutine  # the gate handler answers it with the note, and nothing else
            return
        if inspect.iscoroutine(coroutine):
            coroutine.close()  # never started: nothing to undo
        log.debug("chat=%s %s dropped (%s)", chat, asked.split(" ", 1)[0], verdict.value)
