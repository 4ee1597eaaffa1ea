"""Sending: workers pace every message through one sliding-window limiter (Telegram meters
per bot, so a 429 pauses all of them) and Telegram's per-chat limit, follow a migrated
group, fall back to plain text, and retry what failed for a while."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from jobs import metrics
from jobs.clients.telegram import BotApiClient, SendKind, SendResult, encode_send_message
from jobs.push.channels import CHANNEL_HOLD, CHANNEL_POST_INTERVAL, Channels
from jobs.push.pipeline import Signals, Unit
from jobs.push.recording import Recorder
from jobs.push.render_cache import RenderCache
from jobs.push.settings import FanoutSettings, FanoutStats
from news.retry_timing import MAX_SEND_ATTEMPTS, backoff
from news.send_rate import PerChatLimiter, SlidingWindowLimiter

log = logging.getLogger(__name__)

# How long a refused token (401) pauses bulk sending.
UNAUTHORIZED_PAUSE = 60


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
        result = await self._send(unit, encoded.method, encoded.body, encoded.plain)
        await self._settle(unit, result)

    async def _send(self, unit: Unit, method: str, body: bytes, plain: str | None) -> SendResult:
        """Send until Telegram gives an answer to record: waiting out a 429, following a
        group to its supergroup, and once as plain text when the HTML is refused."""
        job = unit.jobs[0]
        chat_id = unit.chat_id
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
                and method == "sendMessage"
            ):
                await self._recorder.moved(chat_id, result.migrate_to_chat_id)
                chat_id = result.migrate_to_chat_id
                body = _retarget(body, chat_id)
                continue
            if result.kind is SendKind.BAD_CONTENT and plain is not None:
                log.warning(
                    "story=%s rejected by Telegram (%s); sending it as plain text",
                    job.story_id,
                    result.description,
                )
                # The fallback drops everything Telegram might have refused: markup, buttons,
                # preview. Encoded only now: it is almost never needed.
                body = encode_send_message(
                    chat_id,
                    plain,
                    parse_mode=None,
                    message_thread_id=job.thread_id or None,
                    disable_link_preview=True,
                    allow_paid_broadcast=self._settings.paid_broadcast,
                )
                plain = None
                continue
            return result

    async def _settle(self, unit: Unit, result: SendResult) -> None:
        """Report what Telegram's answer means for the unit's deliveries."""
        report = self._recorder.report
        if result.ok:
            self._stats.sent += 1
            metrics.DELIVERIES.labels("sent").inc()
            self._stats.unauthorized = False
            report(unit, "sent", message_id=result.message_id)
            return
        self._stats.last_error = result.description
        if self._channels.is_channel(unit.chat_id):
            self._channels.failed()  # check the channels again (the admins hear of a change)
        if result.kind is SendKind.CHAT_GONE and self._channels.is_channel(unit.chat_id):
            self._channel_refused(unit, result)
        elif result.kind is SendKind.CHAT_GONE:
            await self._recorder.chat_gone(unit.chat_id, result.description)
            report(unit, "failed", error=result.description)
        elif result.kind is SendKind.THREAD_GONE:
            thread = unit.jobs[0].thread_id
            await self._recorder.topic_gone(unit.chat_id, thread, result.description)
            report(unit, "failed", error=result.description)
        elif result.kind is SendKind.UNAUTHORIZED:
            metrics.UNAUTHORIZED.inc()
            self._stats.unauthorized = True
            log.error("the Bot API refuses the token (401); bulk sending paused for 60 s")
            self._limiter.pause(UNAUTHORIZED_PAUSE)
            later = self._clock() + timedelta(seconds=UNAUTHORIZED_PAUSE)
            report(unit, "pending", not_before=later)
        elif result.kind is SendKind.TRANSIENT and unit.attempts + 1 < MAX_SEND_ATTEMPTS:
            self._stats.retried += 1
            metrics.DELIVERIES.labels("retried").inc()
            delay = backoff(
                unit.attempts + 1, first=1.0, cap=300.0, spread=(1.0, 0.5), draw=random.random()
            )
            report(
                unit,
                "pending",
                error=result.description,
                attempts=unit.attempts + 1,
                not_before=self._clock() + timedelta(seconds=delay),
            )
        else:
            self._stats.failed += 1
            metrics.DELIVERIES.labels("failed").inc()
            log.warning(
                "story=%s chat=%s not delivered: %s",
                unit.jobs[0].story_id,
                unit.chat_id,
                result.description,
            )
            report(unit, "failed", error=result.description, attempts=unit.attempts + 1)

    def _channel_refused(self, unit: Unit, result: SendResult) -> None:
        """A channel refused the bot (403, rights lost): unlike a reader's blocked chat, the
        channel stays, and its posts wait for it to be mended (the check started above
        holds them without counting tries). Only a channel the checks keep finding fine
        while it refuses every post has its post given up after MAX_SEND_ATTEMPTS."""
        attempts = unit.attempts + 1
        if attempts >= MAX_SEND_ATTEMPTS:
            self._stats.failed += 1
            metrics.DELIVERIES.labels("failed").inc()
            log.error(
                "story=%s chat=%s channel post given up: %s",
                unit.jobs[0].story_id,
                unit.chat_id,
                result.description,
            )
            self._recorder.report(unit, "failed", error=result.description, attempts=attempts)
            return
        log.warning("chat=%s channel refused a post: %s", unit.chat_id, result.description)
        self._recorder.report(
            unit,
            "pending",
            error=result.description,
            attempts=attempts,
            not_before=self._clock() + CHANNEL_HOLD,
        )


def _retarget(body: bytes, chat_id: int) -> bytes:
    """The same request for another chat id (a group that became a supergroup)."""
    data = json.loads(body)
    data["chat_id"] = chat_id
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
