"""Comment relay: the outbox of readers' comments, POSTed to the outlet as Standard Webhooks.

Comments are stored with their outbox row first (``storage.comments``); the relay only sends
what storage says is due and records each answer. No transaction is open while a POST is in
flight. ``CommentRelay`` runs the loop and owns the life cycle; its parts are in
``jobs.relay`` (claiming, webhooks, recording, the pause, telling), the outlet's HTTP seam is
``jobs.clients.outlet``, and what an answer means is ``news.outlet_answers``:

- 2xx: the outlet has the comment (published, or held for its own moderation).
- 403, 413, 422 and other 4xx: a verdict on this comment; never retried.
- 408, 409, 429, 5xx, timeouts, connection errors: retried with exponential back-off and
  jitter, honouring Retry-After, until the row's deadline (COMMENT_RETRY_HOURS).
- 401, 404, 410 (and redirects): the endpoint or the secret is wrong, not the comment.
  Relaying pauses for every instance (``bot_state``), the admins are told once, and it
  resumes when the configuration changes or an hourly probe gets through. Comments wait;
  the pause does not count against their deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

import aiohttp

from jobs.clients.outlet import OutletClient
from jobs.relay.claiming import Claimed, Claimer, Pass
from jobs.relay.pause import PauseControl, is_paused
from jobs.relay.pseudonyms import load_pseudonym_key, pseudonym
from jobs.relay.recording import Recorder
from jobs.relay.settings import RelaySettings, RelayStats
from jobs.relay.telling import UNTOLD_SWEEP_EVERY, CommentNotifier, Teller
from jobs.relay.webhooks import WebhookSender
from news.clock import utcnow
from storage import outbox
from storage.engine import SessionFactory, writing

__all__ = ["CommentNotifier", "CommentRelay", "RelaySettings", "load_pseudonym_key"]

log = logging.getLogger(__name__)


class CommentRelay:
    """Sends every due outbox row; ``wake()`` after writing one; ``start()`` / ``stop()``.

    The notifier (the bot's, built before the relay) tells readers and admins. Without one,
    outcomes are recorded and logged but nobody is told.
    """

    def __init__(
        self,
        sessions: SessionFactory,
        http: aiohttp.ClientSession,
        settings: RelaySettings,
        pseudonym_key: bytes,
        notifier: CommentNotifier | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.http = http
        self.settings = settings
        self.stats = RelayStats()
        self._key = pseudonym_key
        self._clock = clock
        self._teller = Teller(sessions, clock, notifier)
        self._pause = PauseControl(sessions, settings, self.stats, self._teller, self.wake, clock)
        self._claimer = Claimer(sessions, settings, self.stats, clock)
        recorder = Recorder(sessions, settings, self.stats, self._teller, self._pause, clock)
        client = OutletClient(
            http, settings.url, settings.secret, timeout=settings.timeout, clock=clock
        )
        self._sender = WebhookSender(client, recorder, self.stats, self.pseudonym, clock)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._inflight: dict[asyncio.Task[None], int] = {}  # task → outbox row id

    def wake(self) -> None:
        """New work in the outbox: send it now rather than at the next timer."""
        self._wake.set()

    def pseudonym(self, user_id: int) -> str:
        """``pseudonym(key, user_id)`` with this relay's key."""
        return pseudonym(self._key, user_id)

    @property
    def notifier(self) -> CommentNotifier | None:
        """Who tells readers and admins (None: nobody, outcomes are only logged)."""
        return self._teller.notifier

    @property
    def running(self) -> bool:
        """Whether the relay loop is running."""
        return self._task is not None and not self._task.done()

    async def is_paused(self) -> bool:
        """Whether relaying is paused for every instance (the outlet refused the endpoint or
        the secret): a comment written now waits until that is mended."""
        return await is_paused(self.sessions)

    async def start(self) -> None:
        """Lift a pause made under another configuration, then relay in the background."""
        if self.running:
            return
        self._stopping = False
        await self._pause.resume_if_reconfigured()
        self._task = asyncio.create_task(self._run(), name="comment-relay")

    async def stop(self) -> None:
        """Stop claiming, let POSTs in flight finish briefly, hand the rest back."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._busy():
            await asyncio.wait(self._busy(), timeout=self.settings.stop_grace)
        left = {task: row for task, row in self._inflight.items() if not task.done()}
        for task in left:
            task.cancel()
        if left:
            await asyncio.gather(*left, return_exceptions=True)
        # Rows whose answer was never recorded go back for the next start or another instance.
        ids = list(left.values())
        if ids:
            try:
                async with writing(self.sessions) as session:
                    await outbox.release_events(session, ids, self._clock())
            except Exception:  # the leases run out anyway; another instance picks them up
                log.exception("comment relay: could not release %d outbox rows", len(ids))
        self._inflight.clear()

    # --- the loop ---

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while not self._stopping:
            if loop.time() >= next_sweep and self.notifier is not None:
                next_sweep = loop.time() + UNTOLD_SWEEP_EVERY
                try:
                    await self._teller.tell_untold()
                except Exception:
                    log.exception("comment relay: looking for untold verdicts failed")
            free = self.settings.concurrency - len(self._busy())
            wait: float | None = None  # None: until a POST finishes or a wake
            if free > 0:
                self._wake.clear()  # before claiming, so a wake during the claim is kept
                step = await self._claim(free)
                for claimed in step.claimed:
                    self._post(claimed)
                if len(step.claimed) < free:
                    # A short floor: rows another instance is claiming look due for a moment.
                    wait = max(0.05, step.wait)
            await self._sleep(wait)

    async def _claim(self, limit: int) -> Pass:
        try:
            return await self._claimer.claim(limit)
        except Exception as exc:
            log.exception("comment relay: claiming from the outbox failed")
            self.stats.last_error = type(exc).__name__
            return Pass(wait=min(5.0, self.settings.idle_wait))

    def _post(self, claimed: Claimed) -> None:
        """Send one row in the background, remembered until its answer is recorded."""
        task = asyncio.create_task(self._sender.send(claimed), name="comment-relay-post")
        self._inflight[task] = claimed.job.id
        task.add_done_callback(lambda done: self._inflight.pop(done, None))

    def _busy(self) -> list[asyncio.Task[None]]:
        return [task for task in self._inflight if not task.done()]

    async def _sleep(self, seconds: float | None) -> None:
        """Until woken, a POST finishes (a slot is free), or ``seconds`` pass."""
        if self._wake.is_set():
            return
        waker = asyncio.create_task(self._wake.wait())
        try:
            await asyncio.wait(
                [waker, *self._busy()], timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waker.cancel()
