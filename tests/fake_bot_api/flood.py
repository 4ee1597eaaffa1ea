"""Flood control and injected faults: Telegram's rate windows and 429 answers, and the calls
a test makes fail or wait."""

from __future__ import annotations

import time

from tests.fake_bot_api.core import FakeBotApiCore
from tests.fake_bot_api.errors import ApiError
from tests.fake_bot_api.models import FakeChat
from tests.fake_bot_api.params import Params
from tests.fake_bot_api.ratelimit import SlidingWindow

__all__ = ["FloodControlMixin"]


class FloodControlMixin(FakeBotApiCore):
    """``global_rate``, ``paid_rate`` and ``per_chat_limits``; ``fail_next`` and ``delay_next``."""

    # --- flood control --------------------------------------------------------------------

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
