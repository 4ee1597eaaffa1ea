"""Hourly and daily digests: one message per reader with the period's top stories."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from jobs.clients.telegram import BotApiClient, SendKind, encode_send_message
from jobs.push.wording import PushWording
from news.clock import utcnow
from news.digest_times import digest_due, pick_digest_stories
from news.send_rate import SlidingWindowLimiter
from storage import chats as chat_store
from storage import digests as digest_store
from storage import stories as story_store
from storage.digests import DigestReader
from storage.engine import SessionFactory, writing

log = logging.getLogger(__name__)

DIGEST_SIZE = 10
_FIRST_LOOKBACK = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}


@dataclass(frozen=True, slots=True)
class DigestSettings:
    """Digest knobs from the settings."""

    default_timezone: str = "UTC"
    daily_hour: int = 8
    paid_broadcast: bool = False
    default_edition: str = "en"


class DigestSender:
    """Sends every due digest; run by the scheduler every few minutes."""

    def __init__(
        self,
        sessions: SessionFactory,
        client: BotApiClient,
        renderer: PushWording,
        limiter: SlidingWindowLimiter,
        settings: DigestSettings,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._render = renderer
        self._limiter = limiter
        self._settings = settings
        self._clock = clock

    def _zone(self, reader: DigestReader) -> ZoneInfo:
        try:
            return ZoneInfo(reader.timezone or self._settings.default_timezone)
        except (KeyError, ValueError):
            return ZoneInfo(self._settings.default_timezone)

    async def send_due(self) -> int:
        """Send the digests that are due now; returns how many went out."""
        now = self._clock()
        async with self._sessions() as session:
            readers = await digest_store.digest_readers(session, self._settings.default_edition)
        sent = 0
        for reader in readers:
            zone = self._zone(reader)
            if not digest_due(reader.mode, reader.last_sent, now, zone, self._settings.daily_hour):
                continue
            sent += await self._send_one(reader, zone, now)
        return sent

    async def _send_one(self, reader: DigestReader, zone: ZoneInfo, now: datetime) -> int:
        since = reader.last_sent or now - _FIRST_LOOKBACK[reader.mode]
        async with self._sessions() as session:
            ids = await digest_store.digest_candidates(session, reader, since)
            found = await story_store.get_stories(session, ids)
        stories = pick_digest_stories(
            list(found.values()),
            limit=DIGEST_SIZE,
            key_breaking=lambda s: s.breaking,
            key_time=lambda s: s.sort_at,
        )
        message_id = None
        if stories:
            message = self._render(stories, zone.key, locale=reader.locale)
            body = encode_send_message(
                reader.chat_id,
                message.text,
                message_thread_id=reader.thread_id or None,
                reply_markup=message.reply_markup,
                disable_link_preview=len(stories) > 1,
                link_preview_url=message.preview_url,
                allow_paid_broadcast=self._settings.paid_broadcast,
            )
            while True:
                async with self._limiter.slot():
                    result = await self._client.send("sendMessage", body)
                if result.kind is SendKind.RETRY_AFTER:
                    self._limiter.pause(result.retry_after or 1.0)
                    continue
                break
            if result.kind is SendKind.CHAT_GONE:
                async with writing(self._sessions) as session:
                    await chat_store.set_active(
                        session, reader.chat_id, False, now, reason=result.description
                    )
                return 0
            if not result.ok:
                # Try again at the next run; the period's stories are still waiting.
                log.warning("chat=%s digest not sent: %s", reader.chat_id, result.description)
                return 0
            message_id = result.message_id
        async with writing(self._sessions) as session:
            await digest_store.record_digest(
                session, reader, [s.id for s in stories], message_id, now
            )
        return 1 if stories else 0
