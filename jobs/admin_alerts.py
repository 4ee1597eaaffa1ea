"""Admin alerts: the bot's administrators hear about trouble once when it starts and once
when it ends, not on every check.

Checked every minute by the leader: a feed failing for an hour, the Bot API refusing the
token (401), and pushes waiting longer than a quarter of an hour. (A comment endpoint that
stopped accepting is announced by the comment relay itself, which knows first.) What has
been announced is kept in the database, so a restart or a new leader does not repeat it.
Alerts are language-free (``news.admin_alerts.AdminAlert``); the bot words them for each admin.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from news.admin_alerts import (
    BACKLOG,
    BACKLOG_CLEARED,
    FEED_FAILING,
    FEED_RECOVERED,
    TOKEN_OK,
    TOKEN_REFUSED,
    AdminAlert,
)
from news.clock import utcnow
from storage import deliveries as delivery_store
from storage import feeds as feed_store
from storage.bot_state import get_state, set_state
from storage.engine import SessionFactory, writing

log = logging.getLogger(__name__)

STATE_KEY = "admin_alerts"
FEED_FAILING_FOR = timedelta(hours=1)
BACKLOG_AGE = timedelta(minutes=15)

# Words each alert in each admin's language (bot/admin_alerter.py).
Send = Callable[[AdminAlert], Awaitable[None]]


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


class AlertMonitor:
    """Compares what is wrong now with what was announced, and announces the differences."""

    def __init__(
        self,
        sessions: SessionFactory,
        send: Send,
        *,
        token_refused: Callable[[], bool] = lambda: False,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._send = send
        self._token_refused = token_refused
        self._clock = clock

    async def check(self) -> list[AdminAlert]:
        """One round: returns the alerts sent (also logged, as the token may be the problem)."""
        now = self._clock()
        async with self._sessions() as session:
            feeds = await feed_store.list_feeds(session)
            depth, oldest = await delivery_store.queue_stats(session, now)
        async with writing(self._sessions) as session:
            state: dict[str, Any] = json.loads(await get_state(session, STATE_KEY) or "{}")
            alerts = self._feeds(state, feeds, now)
            alerts += self._token(state)
            alerts += self._backlog(state, depth, oldest, now)
            await set_state(session, STATE_KEY, json.dumps(state, sort_keys=True), now)
        for alert in alerts:
            log.warning("admin alert: %s", alert)
            try:
                await self._send(alert)
            except Exception:  # an alert that cannot be sent must not stop the checks
                log.exception("admin alert could not be sent")
        return alerts

    def _feeds(
        self, state: dict[str, Any], feeds: list[feed_store.FeedView], now: datetime
    ) -> list[AdminAlert]:
        alerts = []
        known = {f"feed:{feed.id}" for feed in feeds}
        for key in [k for k in state if k.startswith("feed:") and k not in known]:
            del state[key]  # a feed removed from FEEDS
        for feed in feeds:
            key = f"feed:{feed.id}"
            entry = state.get(key)
            if feed.consecutive_failures == 0:
                if entry and entry.get("alerted"):
                    alerts.append(AdminAlert(FEED_RECOVERED, {"url": feed.url}))
                state.pop(key, None)
                continue
            if entry is None:
                since = feed.last_success_at or feed.last_attempt_at or now
                entry = state[key] = {"since": since.isoformat(), "alerted": False}
            failing_for = now - datetime.fromisoformat(entry["since"])
            if not entry["alerted"] and failing_for >= FEED_FAILING_FOR:
                entry["alerted"] = True
                alerts.append(
                    AdminAlert(
                        FEED_FAILING,
                        {
                            "url": feed.url,
                            "minutes": _minutes(failing_for),
                            "polls": feed.consecutive_failures,
                            "error": feed.last_error or "",
                        },
                    )
                )
        return alerts

    def _token(self, state: dict[str, Any]) -> list[AdminAlert]:
        refused = self._token_refused()
        if refused == bool(state.get("token_refused")):
            return []
        state["token_refused"] = refused
        if refused:
            return [AdminAlert(TOKEN_REFUSED, {"status": 401})]
        return [AdminAlert(TOKEN_OK)]

    def _backlog(
        self, state: dict[str, Any], depth: int, oldest: datetime | None, now: datetime
    ) -> list[AdminAlert]:
        age = now - oldest if oldest is not None else timedelta(0)
        late = age >= BACKLOG_AGE
        if late == bool(state.get("backlog")):
            return []
        state["backlog"] = late
        if late:
            return [AdminAlert(BACKLOG, {"waiting": depth, "minutes": _minutes(age)})]
        return [AdminAlert(BACKLOG_CLEARED)]
