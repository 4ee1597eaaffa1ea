"""Recording what became of each delivery: outcomes are written in small batches every
``flush_interval`` (the window in which a crash can cause a duplicate), and what a send
learnt about a chat (gone, a topic deleted, migrated to a supergroup) is written at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from jobs.push.pipeline import Signals, Unit
from storage import chats as chat_store
from storage import deliveries as queue
from storage.deliveries import DeliveryJob, Outcome
from storage.engine import SessionFactory, writing

log = logging.getLogger(__name__)


class Recorder:
    """Keeps what this instance claimed until its outcome is written; ``run()`` flushes."""

    def __init__(
        self,
        sessions: SessionFactory,
        signals: Signals,
        clock: Callable[[], datetime],
        flush_interval: float,
    ) -> None:
        self._sessions = sessions
        self._signals = signals
        self._clock = clock
        self._flush_interval = flush_interval
        self._outcomes: list[Outcome] = []
        self._claimed: set[int] = set()  # claimed (in flight) and not yet reported

    # --- outcomes ---

    def claimed(self, jobs: Iterable[DeliveryJob]) -> None:
        """These deliveries are this instance's until their outcome is reported."""
        self._claimed.update(job.id for job in jobs)

    def report(
        self,
        unit: Unit,
        status: str,
        *,
        message_id: int | None = None,
        error: str | None = None,
        not_before: datetime | None = None,
        attempts: int | None = None,
        photo: bool = False,
    ) -> None:
        """What became of every delivery of ``unit``, written at the next flush."""
        for job in unit.jobs:
            self._claimed.discard(job.id)
            self._outcomes.append(
                Outcome(
                    id=job.id,
                    status=status,
                    message_id=message_id,
                    error=error,
                    not_before=not_before,
                    attempts=job.attempts if attempts is None else attempts,
                    photo=photo,
                )
            )

    async def run(self) -> None:
        """Flush every ``flush_interval`` until stopped (the last flush is the stopper's)."""
        while not self._signals.stopping.is_set():
            await asyncio.sleep(self._flush_interval)
            try:
                await self.flush()
            except Exception:
                log.exception("recording delivery outcomes failed; will retry")

    async def flush(self) -> None:
        """Write the outcomes reported so far in one transaction."""
        if not self._outcomes:
            return
        outcomes, self._outcomes = self._outcomes, []
        try:
            async with writing(self._sessions) as session:
                await queue.record_outcomes(session, outcomes, self._clock())
        except BaseException:
            # Kept for the next flush, even when cancelled: a lost "sent" would be resent.
            self._outcomes[:0] = outcomes
            raise
        if any(o.status == "pending" for o in outcomes):
            self._signals.due.set()

    async def release_stranded(self) -> None:
        """What this instance claimed and never reported (a claim cut short by a stop) goes
        back to the queue for the next start. Only its own rows: on PostgreSQL a new leader
        may already be sending others, and releasing those would have them sent twice."""
        stranded, self._claimed = sorted(self._claimed), set()
        if stranded:
            async with writing(self._sessions) as session:
                await queue.release_deliveries(session, stranded, self._clock())

    # --- what a send learnt about a chat ---

    async def chat_gone(self, chat_id: int, reason: str) -> None:
        """The chat blocked the bot or no longer exists: no more sends to it."""
        now = self._clock()
        async with writing(self._sessions) as session:
            await chat_store.set_active(session, chat_id, False, now, reason=reason)
        log.info("chat=%s inactive: %s", chat_id, reason)

    async def topic_gone(self, chat_id: int, thread_id: int, reason: str) -> None:
        """A forum topic was deleted: the chat's subscriptions there are forgotten."""
        async with writing(self._sessions) as session:
            await chat_store.forget_topic(session, chat_id, thread_id)
        log.info("chat=%s topic=%s gone: %s", chat_id, thread_id, reason)

    async def moved(self, old: int, new: int) -> None:
        """A group became a supergroup with a new id: everything of the chat moves with it."""
        async with writing(self._sessions) as session:
            await chat_store.move_chat(session, old, new, self._clock())
        log.info("chat=%s migrated to chat=%s during a push", old, new)
