"""The pause shared by every instance: relaying stops when the outlet refuses the endpoint or
the secret (401, 404, 410, a redirect), and resumes when the configuration changes or an
hourly probe gets through. Comments wait; the pause does not count against their deadlines.

It lives in ``bot_state`` under ``PAUSE_KEY``. In every transaction that takes both,
``bot_state`` is locked before ``outlet_event``: the same order everywhere cannot deadlock on
PostgreSQL.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from news.admin_alerts import RELAY_RECONFIGURED, RELAY_RESUMED, AdminAlert
from storage import outbox
from storage.bot_state import RELAY_PAUSE_KEY, get_state, relay_paused, set_state
from storage.engine import AsyncSession, SessionFactory, writing

if TYPE_CHECKING:
    from jobs.relay.settings import RelaySettings, RelayStats
    from jobs.relay.telling import Teller

log = logging.getLogger(__name__)

PAUSE_KEY = RELAY_PAUSE_KEY


@dataclass(frozen=True, slots=True)
class RelayPause:
    """Relaying is paused because the outlet refused the endpoint or the secret."""

    reason: str
    since: datetime
    fingerprint: str
    probe_at: datetime  # when one comment may next test whether the outlet is back

    def dump(self) -> str:
        """The pause as stored in ``bot_state``."""
        return json.dumps(
            {
                "reason": self.reason,
                "since": self.since.isoformat(),
                "fingerprint": self.fingerprint,
                "probe_at": self.probe_at.isoformat(),
            }
        )

    @classmethod
    def load(cls, raw: str | None, now: datetime) -> RelayPause | None:
        """The stored pause; None when relaying is not paused."""
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            since = datetime.fromisoformat(data["since"])
            return cls(
                reason=str(data.get("reason", "")),
                since=since,
                fingerprint=str(data.get("fingerprint", "")),
                probe_at=datetime.fromisoformat(data.get("probe_at") or data["since"]),
            )
        except (ValueError, KeyError, TypeError):
            # Unreadable but present: still a pause (nothing is dropped), probed at once.
            return cls(reason="unknown", since=now, fingerprint="", probe_at=now)


async def current_pause(
    session: AsyncSession, now: datetime, *, for_update: bool = False
) -> RelayPause | None:
    """The pause in force, if any (``for_update``: locked until the transaction ends)."""
    return RelayPause.load(await get_state(session, PAUSE_KEY, for_update=for_update), now)


async def is_paused(sessions: SessionFactory) -> bool:
    """Whether relaying is paused for every instance."""
    async with sessions() as session:
        return await relay_paused(session)


class PauseControl:
    """Lifts the pause: when the configuration changed, or a probe got through."""

    def __init__(
        self,
        sessions: SessionFactory,
        settings: RelaySettings,
        stats: RelayStats,
        teller: Teller,
        wake: Callable[[], None],
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._stats = stats
        self._teller = teller
        self._wake = wake
        self._clock = clock

    async def resume_if_reconfigured(self) -> None:
        """A pause made under another COMMENTS_URL or COMMENTS_SECRET ends now."""
        async with self._sessions() as session:
            pause = await current_pause(session, self._clock())
        if pause is not None and pause.fingerprint != self._settings.fingerprint:
            await self.resume("COMMENTS_URL or COMMENTS_SECRET changed", RELAY_RECONFIGURED)

    async def resume(self, why: str, cause: str) -> None:
        """Lift the pause (once, whichever instance gets here first) and send what waited.

        ``why`` is for the log, ``cause`` (a ``news.admin_alerts.RELAY_*`` code) for the admins.
        """
        async with writing(self._sessions) as session:
            now = self._clock()
            pause = await current_pause(session, now, for_update=True)
            if pause is None:
                return
            await outbox.extend_deadlines(session, pause.since, now)
            await outbox.resume_paused(session, now)
            await set_state(session, PAUSE_KEY, None, now)
            waiting = (await outbox.outbox_counts(session)).get("pending", 0)
        self._stats.paused = False
        self._wake()
        log.warning("comment relay resumed: %s", why)
        await self._teller.alert(AdminAlert(RELAY_RESUMED, {"cause": cause, "waiting": waiting}))
