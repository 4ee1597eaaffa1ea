"""Sending: workers pace every message through one sliding-window limiter (Telegram meters
per bot, so a 429 pauses all of them) and Telegram's per-chat limit, follow a migrated
group, fall back to text when a picture is refused and to plain text when the HTML is, and
retry what failed for a while."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from jobs import metrics
from jobs.clients.telegram import BotApiClient, SendKind, SendResult, encode_send_message
from jobs.push.channels import CHANNEL_HOLD, CHANNEL_POST_INTERVAL, Channels
from jobs.push.outcomes import Outcomes
from jobs.push.pipeline import Signals, Unit
from jobs.push.recording import Recorder
from jobs.push.render_cache import RenderCache
from jobs.push.rendered import Encoded
from jobs.push.settings import FanoutSettings, FanoutStats
from news.send_rate import PerChatLimiter, SlidingWindowLimiter

log = logging.getLogger(__name__)

# The calls that make a new message (and so may follow a group to its supergroup).
_NEW_MESSAGES = ("sendMessage", "sendPhoto")
# A push Telegram will not take as it is: it goes once more as plain text.
_REFUSED = (SendKind.BAD_CONTENT, SendKind.BAD_PHOTO)


class Sender:
    """The send workers: each takes a unit from the queue, sends it, and reports the outcome."""

    def __init__(
        self,
        client: BotApiClient,
        limiter: SlidingWindowLimiter,
        units: asyncio.Queue[Unit],
        renders: RenderCache,
        recorder: Recorder,
        signals: Signals,
        settings: FanoutSettings,
        stats: FanoutStats,
        clock: Callable[[], datetime],
        channels: Channels,
    ) -> None:
        self._client = client
        self._channels = channels
        self._limiter = limiter
        self._per_chat = PerChatLimiter()
        # Channels: one post every few seconds (a channel's posts are spaced, not bursts).
        self._per_channel = PerChatLimiter(private_interval=CHANNEL_POST_INTERVAL)
        self._units = units
        self._renders = renders
        self._recorder = recorder
        self._signals = signals
        self._settings = settings
        self._stats = stats
        self._clock = clock
        self._outcomes = Outcomes(recorder, limiter, stats, clock, channels)
        self._busy = 0
        self.idle = asyncio.Event()  # no worker is sending
        self.idle.set()

    async def worker(self) -> None:
        """One worker: send unit after unit until cancelled (then the unit goes back)."""
        while True:
            unit = await self._units.get()
            self._busy += 1
            self.idle.clear()
            self._signals.taken.set()
            try:
                await self._deliver(unit)
            except asyncio.CancelledError:
                self._recorder.report(unit, "pending", error="stopped")
                raise
            except Exception as exc:
                log.exception("chat=%s delivery failed unexpectedly", unit.chat_id)
                self._recorder.report(unit, "failed", error=f"{type(exc).__name__}: {exc}")
            finally:
                self._busy -= 1
                if self._busy == 0:
                    self.idle.set()

    async def _deliver(self, unit: Unit) -> None:
        now = self._clock()
        channel = self._channels.is_channel(unit.chat_id)
        if channel and not self._channels.may_post(unit.chat_id):
            # The bot may not post there now: the post waits, without counting a try, until
            # a check finds the channel mended (the admins were told).
            self._recorder.report(
                unit,
                "pending",
                error="the channel cannot be posted to",
                not_before=now + CHANNEL_HOLD,
            )
            return
        loop_now = asyncio.get_running_loop().time()
        per_chat, group = (
            (self._per_channel, False) if channel else (self._per_chat, unit.chat_id < 0)
        )
        ready = per_chat.ready_at(unit.chat_id, group, loop_now)
        if ready > loop_now:
            # Telegram's per-chat limit: come back for this one instead of blocking a worker.
            not_before = now + timedelta(seconds=ready - loop_now)
            self._recorder.report(unit, "pending", not_before=not_before)
            return
        # Reserved now, not after the send: a second unit for this chat must wait its turn.
        per_chat.record(unit.chat_id, group, loop_now)
        encoded = await self._renders.encode(unit)
        if encoded.body is None:
            metrics.DELIVERIES.labels("skipped").inc()
            reason = "story or message gone"
            if encoded.stale:
                reason = "old news: the channel could not be posted to for too long"
                log.warning(
                    "story=%s chat=%s not posted: %s", unit.jobs[0].story_id, unit.chat_id, reason
                )
            self._recorder.report(unit, "skipped", error=reason)
            return
        try:
            result, photo = await self._send(unit, encoded)
        finally:
            if encoded.photo is not None:
                self._renders.photos.settled(encoded.photo)
        await self._outcomes.settle(unit, result, photo=photo)

    async def _send(self, unit: Unit, encoded: Encoded) -> tuple[SendResult, bool]:
        """Send until Telegram gives an answer to record: waiting out a 429, following a
        group to its supergroup, as text once when the picture is refused, and once as plain
        text when the HTML is refused. Also says whether what was sent is a photo."""
        job = unit.jobs[0]
        chat_id = unit.chat_id
        method, body, plain = encoded.method, encoded.body, encoded.plain
        assert body is not None
        photo, without_photo = encoded.photo, encoded.without_photo
        while True:
            # The send counts against the window until Telegram answers: a request delayed on
            # the way can never land in the same second as the ones after it.
            async with self._limiter.slot():
                result = await self._client.send(method, body)
            if result.kind is SendKind.RETRY_AFTER:
                self._stats.rate_limited += 1
                metrics.RATE_LIMITED.inc()
                self._limiter.pause(result.retry_after or 1.0)
                continue
            if (
                result.kind is SendKind.MIGRATED
                and result.migrate_to_chat_id
                and method in _NEW_MESSAGES
            ):
                await self._recorder.moved(chat_id, result.migrate_to_chat_id)
                chat_id = result.migrate_to_chat_id
                body = _retarget(body, chat_id)
                if without_photo is not None:
                    without_photo = _retarget(without_photo, chat_id)
                continue
            if result.kind is SendKind.BAD_PHOTO and photo is not None and without_photo:
                # Too large, the wrong type, unreachable: the story goes as text, to this
                # reader now and to the others from the start.
                await self._renders.photos.refused(photo, result.description)
                method, body, without_photo = "sendMessage", without_photo, None
                continue
            if result.kind in _REFUSED and plain is not None:
                log.warning(
                    "story=%s rejected by Telegram (%s); sending it as plain text",
                    job.story_id,
                    result.description,
                )
                # The fallback drops everything Telegram might have refused: markup, buttons,
                # preview, picture. Encoded only now: it is almost never needed.
                method = "sendMessage"
                body = encode_send_message(
                    chat_id,
                    plain,
                    parse_mode=None,
                    message_thread_id=job.thread_id or None,
                    disable_link_preview=True,
                    allow_paid_broadcast=self._settings.paid_broadcast,
                    disable_notification=encoded.silent,
                )
                plain = without_photo = None
                continue
            sent_photo = method == "sendPhoto"
            if result.ok and sent_photo and photo is not None:
                await self._renders.photos.sent(photo, result.photo_file_id)
            return result, sent_photo


def _retarget(body: bytes, chat_id: int) -> bytes:
    """The same request for another chat id (a group that became a supergroup)."""
    data = json.loads(body)
    data["chat_id"] = chat_id
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
