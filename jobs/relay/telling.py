"""The bot side of the relay, guarded: readers hear what became of their comments, admins
hear about pauses, and a verdict whose telling died with its process is told by a sweep."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from jobs.relay.pause import is_paused
from news.admin_alerts import AdminAlert
from storage.comments import TRYING, CommentView, mark_told, overdue_queued, untold_verdicts
from storage.engine import SessionFactory, writing

log = logging.getLogger(__name__)

# After this many failed attempts the reader hears that their comment is still on its way.
STILL_TRYING_AFTER = 3
# ... or once it has waited this long, whatever the reason (a pause counts no attempts).
STILL_TRYING_AFTER_TIME = timedelta(minutes=10)
# A verdict nobody told its reader about this long after it arrived is told by the sweep,
# which runs this often (the process that got it may have died before telling).
UNTOLD_AFTER = timedelta(seconds=30)
UNTOLD_SWEEP_EVERY = 15.0


class CommentNotifier(Protocol):
    """The bot side of the relay: tells readers and admins what happened (never raises)."""

    async def comment_changed(
        self, comment: CommentView, *, still_trying: bool = False, paused: bool = False
    ) -> None:
        """The comment reached a final state (published, relayed, rejected, failed), or —
        with ``still_trying`` — it is still on its way and the reader should know (once);
        ``paused`` says why: the outlet refuses every comment for now (relaying paused)."""

    async def alert_admins(self, alert: AdminAlert) -> None:
        """One alert to the bot's administrators (ADMIN_IDS), worded in each one's language."""


class Teller:
    """Tells through ``notifier`` (None: outcomes are only logged) and notes what was told."""

    def __init__(
        self,
        sessions: SessionFactory,
        clock: Callable[[], datetime],
        notifier: CommentNotifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.notifier = notifier

    async def notify(
        self, comment: CommentView, *, still_trying: bool = False, paused: bool = False
    ) -> None:
        """Tell the reader, then note it (told again by the sweep if the note fails)."""
        if self.notifier is None:
            return
        try:
            await self.notifier.comment_changed(comment, still_trying=still_trying, paused=paused)
        except Exception:
            log.exception("comment relay: telling the reader about comment %d failed", comment.id)
        try:
            async with writing(self._sessions) as session:
                await mark_told(session, comment.id, TRYING if still_trying else comment.status)
        except Exception:  # told once more by the sweep: an edit to the same text is harmless
            log.exception("comment relay: could not note that comment %d was told", comment.id)

    async def tell_untold(self) -> None:
        """Tell readers about verdicts whose telling died with the process that got them."""
        before = self._clock() - UNTOLD_AFTER
        async with self._sessions() as session:
            untold = await untold_verdicts(session, before)
        for comment in untold:
            log.info("comment relay: telling the reader of comment %d late", comment.id)
            await self.notify(comment)
        # Whatever the reason (an outlet down, relaying paused), a comment still on its way
        # after a while gets its ⏳ once.
        async with self._sessions() as session:
            overdue = await overdue_queued(session, self._clock() - STILL_TRYING_AFTER_TIME)
        paused = await is_paused(self._sessions) if overdue else False
        for comment in overdue:
            await self.notify(comment, still_trying=True, paused=paused)

    async def alert(self, alert: AdminAlert) -> None:
        """One alert to the admins; logged instead when there is nobody to tell."""
        if self.notifier is None:
            log.warning("comment relay: no notifier to alert the admins (%s)", alert)
            return
        try:
            await self.notifier.alert_admins(alert)
        except Exception:
            log.exception("comment relay: alerting the admins failed")
