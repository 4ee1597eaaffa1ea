"""Flood rules, as pure bookkeeping: which commands from one chat are answered, and when the
next message to a chat may leave (no Telegram, no clock of its own: callers pass ``now``).

Telegram meters a bot per chat (about one message a second in a private chat, 20 a minute in a
group) and answers a burst with 429 "retry after N", which lengthens for every further try. A
reader who sends 200 commands must therefore cost the bot a handful of answers, not 200; and
nothing may be sent to a chat before the wait Telegram named has passed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from news.send_rate import PerChatLimiter

# A chat may have answered, in any window, about as many commands as its answers can be
# sent in that window at the chat's pace (10 at Telegram's 1/s in a private chat, 3 at
# 20/min in a group); a reader paging quickly through /latest stays inside it.
WINDOW = 10.0
# Everything a chat sends counts too, repeats included: 200 identical commands are a flood
# even though only the first is answered.
REPEATS_ALLOWED = 4
IN_FLIGHT_PER_CHAT = 3
# The same command (or button) again, with nothing between, within the time the chat's pace
# needs for this many messages (1 s at 1/s), is the same request: a double tap. Longer than
# that, a reader may have read the answer and want it afresh.
DUPLICATE_MESSAGES = 1


def is_private_chat(chat_id: int | str) -> bool:
    """Private chats have the user's (positive) id; groups and channels are negative (or an
    "@username")."""
    return isinstance(chat_id, int) and chat_id > 0


class Verdict(Enum):
    """What to do with one incoming command or button press."""

    ANSWER = "answer"
    DUPLICATE = "duplicate"  # dropped silently: the first one is being answered
    WARN = "warn"  # dropped, and the reader is told once to slow down
    DROP = "drop"  # dropped silently: already told


@dataclass
class _ChatRequests:
    asked: deque[float] = field(default_factory=deque)
    admitted: deque[tuple[float, str]] = field(default_factory=deque)
    in_flight: dict[str, int] = field(default_factory=dict)
    warned_until: float = 0.0


class FloodGate:
    """Decides, per chat, which requests are answered; ``done`` must follow each ANSWER."""

    def __init__(
        self,
        private: tuple[int, float] = (1, 1.0),
        group: tuple[int, float] = (20, 60.0),
        *,
        window: float = WINDOW,
        in_flight_per_chat: int = IN_FLIGHT_PER_CHAT,
    ) -> None:
        self._window = window
        # (answered, asked) per window, and the double-tap time, for private chats and for
        # groups and channels.
        self._limits = {
            kind: (answered, answered + REPEATS_ALLOWED, DUPLICATE_MESSAGES * per / count)
            for kind, (count, per) in ((True, private), (False, group))
            for answered in [max(2, int(count * window / per))]
        }
        self._in_flight_limit = in_flight_per_chat
        self._chats: dict[int, _ChatRequests] = {}

    def admit(self, chat_id: int, request: str, now: float) -> Verdict:
        """The verdict on ``request`` (a command with its arguments, or a button's data).

        A chat floods when it asked more than the window allows, had more answered than the
        window allows, or has too many answers under way; then nothing new is answered
        until it has been quiet for a window, and it hears about it once. Outside a flood,
        a repeat of the request just answered is dropped as a double tap.
        """
        chat = self._chats.setdefault(chat_id, _ChatRequests())
        horizon = now - self._window
        while chat.asked and chat.asked[0] <= horizon:
            chat.asked.popleft()
        while chat.admitted and chat.admitted[0][0] <= horizon:
            chat.admitted.popleft()
        chat.asked.append(now)
        answered_limit, asked_limit, double_tap = self._limits[is_private_chat(chat_id)]
        flooding = (
            now < chat.warned_until
            or len(chat.asked) > asked_limit
            or len(chat.admitted) >= answered_limit
            or sum(chat.in_flight.values()) >= self._in_flight_limit
        )
        if flooding:
            told = now < chat.warned_until
            chat.warned_until = now + self._window  # quiet for a whole window ends it
            return Verdict.DROP if told else Verdict.WARN
        # The same request right after the same one, with nothing between them, is a double
        # tap ("/following", "/follow x", "/following" is not).
        last = chat.admitted[-1] if chat.admitted else None
        if last is not None and last[1] == request and last[0] > now - double_tap:
            return Verdict.DUPLICATE
        chat.admitted.append((now, request))
        chat.in_flight[request] = chat.in_flight.get(request, 0) + 1
        return Verdict.ANSWER

    def done(self, chat_id: int, request: str) -> None:
        """An answered request has finished (successfully or not)."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return
        left = chat.in_flight.get(request, 0) - 1
        if left > 0:
            chat.in_flight[request] = left
        else:
            chat.in_flight.pop(request, None)

    def forget_idle(self, now: float) -> None:
        """Drop the bookkeeping of chats quiet for a whole window (bounded memory)."""
        for chat_id in [
            chat_id
            for chat_id, chat in self._chats.items()
            if not chat.in_flight
            and now >= chat.warned_until
            and (not chat.asked or chat.asked[-1] <= now - self._window)
        ]:
            del self._chats[chat_id]

    def __len__(self) -> int:
        return len(self._chats)


ChatKey = int | str  # a chat id, or a channel's "@username"


class ChatPace:
    """When the next message to each chat may be sent: Telegram's per-chat window (the same
    bookkeeping as the push sender's, ``news.send_rate.PerChatLimiter``: a private chat at
    ``count/per`` spaced evenly, a group ``count`` per ``per`` seconds), and any
    ``retry_after`` that Telegram named, which nothing may cut short."""

    def __init__(self, private: tuple[int, float], group: tuple[int, float]) -> None:
        self._window = PerChatLimiter(
            private_interval=private[1] / private[0],
            group_limit=group[0],
            group_window=group[1],
            margin=0.0,
        )
        self._blocked_until: dict[ChatKey, float] = {}

    @staticmethod
    def _window_key(chat_id: ChatKey) -> int:
        # A channel's "@username" is metered like a group, under a key of its own.
        return chat_id if isinstance(chat_id, int) else -(abs(hash(chat_id)) + 1)

    def delay(self, chat_id: ChatKey, now: float, *, new_message: bool = True) -> float:
        """Seconds to wait before a message to ``chat_id`` may leave (0: now)."""
        wait = max(0.0, self._blocked_until.get(chat_id, 0.0) - now)
        if not new_message:
            return wait  # Telegram meters new messages per chat; edits only obey a 429
        key, group = self._window_key(chat_id), not is_private_chat(chat_id)
        return max(wait, self._window.ready_at(key, group, now) - now)

    def sent(self, chat_id: ChatKey, now: float) -> None:
        """A new message to ``chat_id`` left at ``now``."""
        self._window.record(self._window_key(chat_id), not is_private_chat(chat_id), now)

    def block(self, chat_id: ChatKey, seconds: float, now: float) -> None:
        """Telegram said "retry after ``seconds``" for this chat."""
        self._blocked_until[chat_id] = max(self._blocked_until.get(chat_id, 0.0), now + seconds)

    def forget_idle(self, now: float) -> None:
        """Drop waits that are over (the window forgets idle chats by itself)."""
        for chat_id in [c for c, t in self._blocked_until.items() if t <= now]:
            del self._blocked_until[chat_id]
