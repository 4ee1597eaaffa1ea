"""The outlet's channels as the fan-out sees them: one more recipient of every new story of
their edition, paced as a group (20 a minute), never grouped (each post has its own
discussion thread), corrected like a push, and never given up on when the bot loses its
right to post there: the posts wait until the channel is mended.

The bot checks the channels (``bot.channels.ChannelWatch``) and gives the fan-out these
``ChannelTargets`` when it builds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from jobs.push.wording import PushMessage
from storage.records import StoryView

# Telegram takes 20 posts a minute in a channel: one every 3 s, evenly, so that the posts keep
# their order and at most one is sent and not yet recorded when the process dies (outcomes are
# written every 50 ms): a crash doubles at most one post.
CHANNEL_POST_INTERVAL = 60.0 / 20
# How long a post to a channel the bot may not post to now waits before it is looked at
# again (the channel is checked every 5 minutes, and at once after a failed post).
CHANNEL_HOLD = timedelta(seconds=60)


class ChannelWording(Protocol):
    """Renders one story as a channel post, in its edition's language."""

    def __call__(self, story: StoryView) -> PushMessage: ...


@dataclass(frozen=True, slots=True)
class ChannelTargets:
    """What the bot tells the fan-out about its channels."""

    # Every configured channel whose id the bot knows (postable now or not) → its edition.
    known: Callable[[], Mapping[int, str]]
    # The channels the bot may post to now (the last check found them fine).
    postable: Callable[[], Sequence[int]]
    render: ChannelWording
    # A post failed: check the channels again (the admins hear of a right lost).
    trouble: Callable[[], Awaitable[object]]


class Channels:
    """The fan-out's view of the channels: which chats are channels, which may be posted to
    now, and a re-check started (one at a time) when a post failed."""

    def __init__(self, targets: ChannelTargets | None) -> None:
        self._targets = targets
        self._checks: set[asyncio.Task[object]] = set()

    @property
    def render(self) -> ChannelWording:
        """The channel posts' wording (only with channels)."""
        assert self._targets is not None
        return self._targets.render

    def is_channel(self, chat_id: int) -> bool:
        """Whether ``chat_id`` is one of the outlet's channels."""
        return self._targets is not None and chat_id in self._targets.known()

    def of_edition(self, edition: str) -> list[int]:
        """Every known channel of ``edition`` (posts to one that is broken now wait)."""
        if self._targets is None:
            return []
        return sorted(chat for chat, ed in self._targets.known().items() if ed == edition)

    def may_post(self, chat_id: int) -> bool:
        """Whether the last check found that the bot may post to the channel."""
        return self._targets is not None and chat_id in self._targets.postable()

    def failed(self) -> None:
        """A post failed: check the channels again, unless a check is under way."""
        if self._targets is None or self._checks:
            return
        task: asyncio.Task[object] = asyncio.ensure_future(self._targets.trouble())
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)
