"""Outcomes: what Telegram's answer to a send means for the unit's deliveries (sent, retried
later, given up, a gone chat or topic, a paused token, a channel's post held)."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from jobs import metrics
from jobs.clients.telegram import SendKind, SendResult
from jobs.push.channels import CHANNEL_HOLD, Channels
from jobs.push.pipeline import Unit
from jobs.push.recording import Recorder
from jobs.push.settings import FanoutStats
from news.retry_timing import MAX_SEND_ATTEMPTS, backoff
from news.send_rate import SlidingWindowLimiter

log = logging.getLogger(__name__)

# How long a refused token (401) pauses bulk sending.
UNAUTHORIZED_PAUSE = 60


class Outcomes:
    """Settles each answer the send workers get: one per fan-out, shared by its workers."""

    def __init__(
        self,
        recorder: Recorder,
        limiter: SlidingWindowLimiter,
        stats: FanoutStats,
        clock: Callable[[], datetime],
        channels: Channels,
    ) -> None:
        self._recorder = recorder
        self._limiter = limiter
        self._stats = stats
        self._clock = clock
        self._channels = channels

    async def settle(self, unit: Unit, result: SendResult, *, photo: bool = False) -> None:
        """Report what Telegram's answer means for the unit's deliveries."""
        report = self._recorder.report
        if result.ok:
            self._stats.sent += 1
            metrics.DELIVERIES.labels("sent").inc()
            self._stats.unauthorized = False
            report(unit, "sent", message_id=result.message_id, photo=photo)
            return
        self._stats.last_error = result.description
        channel = self._channels.is_channel(unit.chat_id)
        if channel:
            self._channels.failed()  # check the channels again (the admins hear of a change)
        if result.kind is SendKind.CHAT_GONE and channel:
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
