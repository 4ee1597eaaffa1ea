"""Telling readers, once, that sections they follow are no longer offered.

Sections are the operator's configuration. When one goes (a feed removed from FEEDS, or the
upgrade that stopped filing every category as a section), its subscribers would silently stop
receiving it; this job tells each such chat (topic) once, in its language, what it still
receives. The message is silent (no notification sound), since it may arrive at night.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from jobs.clients.telegram import BotApiClient, SendKind, encode_send_message
from news.clock import utcnow
from news.send_rate import SlidingWindowLimiter
from storage import chats as chat_store
from storage import retired_sections as retired_store
from storage.engine import SessionFactory, writing
from storage.retired_sections import RetiredSubscriptions

log = logging.getLogger(__name__)

NoticeRenderer = Callable[[RetiredSubscriptions], str]
"""The notice for one chat (topic), in Telegram HTML and its language (the bot side)."""

BATCH = 100


class RetiredSectionNotices:
    """Sends the due notices; run by the scheduler on the leader."""

    def __init__(
        self,
        sessions: SessionFactory,
        client: BotApiClient,
        render: NoticeRenderer,
        limiter: SlidingWindowLimiter,
        offered: Sequence[str],
        *,
        paid_broadcast: bool = False,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._render = render
        self._limiter = limiter
        self._offered = tuple(offered)
        self._paid = paid_broadcast
        self._clock = clock

    async def warn_operator(self) -> None:
        """Log, once at start, which sections no longer offered still have readers to tell:
        an operator who upgraded without SECTIONS has a few minutes to add it."""
        async with self._sessions() as session:
            counts = await retired_store.untold_counts(session, self._offered)
        if counts:
            listed = ", ".join(f"{slug} ({n})" for slug, n in list(counts.items())[:20])
            log.warning(
                "readers follow %d sections that FEEDS and SECTIONS no longer offer: %s%s; "
                "they will be told so in a few minutes (offer a section again to keep it)",
                len(counts),
                listed,
                " …" if len(counts) > 20 else "",
            )

    async def send_due(self) -> int:
        """Tell every chat that still has to be told; returns how many were told."""
        async with writing(self._sessions) as session:
            await retired_store.forget_told_for_offered(session, self._offered)
        told = 0
        after: tuple[int, int] | None = None
        while True:
            # Keyset over (chat, topic): a chat that cannot be told now is passed over until
            # the next run instead of being retried in a loop.
            async with self._sessions() as session:
                due = await retired_store.retired_subscriptions(
                    session, self._offered, after=after, limit=BATCH
                )
            if not due:
                return told
            for chat in due:
                told += await self._tell(chat)
            after = (due[-1].chat_id, due[-1].thread_id)

    async def _tell(self, chat: RetiredSubscriptions) -> bool:
        """Send one notice; True when the chat was told (False: unreachable, or later)."""
        body = encode_send_message(
            chat.chat_id,
            self._render(chat),
            message_thread_id=chat.thread_id or None,
            disable_link_preview=True,
            disable_notification=True,
            allow_paid_broadcast=self._paid,
        )
        while True:
            async with self._limiter.slot():
                result = await self._client.send("sendMessage", body)
            if result.kind is not SendKind.RETRY_AFTER:
                break
            self._limiter.pause(result.retry_after or 1.0)
        now = self._clock()
        slugs = [slug for slug, _ in chat.retired]
        if result.kind is SendKind.CHAT_GONE:
            async with writing(self._sessions) as session:
                await chat_store.set_active(
                    session, chat.chat_id, False, now, reason=result.description
                )
            return False
        if result.kind is SendKind.THREAD_GONE:
            async with writing(self._sessions) as session:
                await chat_store.forget_topic(session, chat.chat_id, chat.thread_id)
            return False
        if not result.ok and result.kind is not SendKind.BAD_CONTENT:
            log.warning("chat=%s section notice not sent: %s", chat.chat_id, result.description)
            return False  # the next run tries again
        if not result.ok:
            # Telegram refuses this message as it is: retrying would be refused again.
            log.error("chat=%s section notice refused: %s", chat.chat_id, result.description)
        async with writing(self._sessions) as session:
            await retired_store.record_told(session, chat.chat_id, chat.thread_id, slugs, now)
        return result.ok
