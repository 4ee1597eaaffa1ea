"""The operators' HTTP endpoint (METRICS_PORT): ``/healthz`` for load balancers and
orchestrators, ``/metrics`` for Prometheus.

``/healthz`` answers 200 only when the database answers reads *and writes* and the scheduler
runs, and otherwise 503 with the reason in plain words, so a failing probe says what to look
at. ``SELECT 1`` alone stays happy while every write fails (a read-only SQLite file, a full
disk, a read-only PostgreSQL) or waits behind a write lock held for minutes; so each check also
commits one tiny write (a timestamp in ``bot_state``), waiting at most WRITE_TIMEOUT for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.listener import Listener
from jobs import metrics
from news.clock import utcnow
from storage.engine import SessionFactory
from storage.health import answer_read, commit_write

log = logging.getLogger(__name__)

DATABASE_TIMEOUT = 3.0
# How long a health check waits for its write; a write still waiting by then means writers
# are blocked (the probe goes on in the background, and the next check reports on it).
WRITE_TIMEOUT = 3.0


@dataclass(frozen=True, slots=True)
class Health:
    """The answer of one health check."""

    ok: bool
    reasons: tuple[str, ...] = ()
    leader: bool = False


class OpsServer:
    """Serves /healthz and /metrics on ``listen:port`` until ``stop()``."""

    def __init__(
        self,
        sessions: SessionFactory,
        *,
        listen: str,
        port: int,
        scheduler_running: Callable[[], bool],
        is_leader: Callable[[], bool] = lambda: True,
        backoff_seconds: Callable[[], float] = lambda: 0.0,
        extra_checks: Callable[[], Awaitable[list[str]]] | None = None,
        write_timeout: float = WRITE_TIMEOUT,
    ) -> None:
        self._sessions = sessions
        self._listen = listen
        self._scheduler_running = scheduler_running
        self._is_leader = is_leader
        self._backoff = backoff_seconds
        self._extra = extra_checks
        self._write_timeout = write_timeout
        # At most one write probe at a time: checks that arrive while it waits for the lock
        # report on it instead of queueing more writes behind the same lock.
        self._probe: asyncio.Task[None] | None = None
        self._probe_started = 0.0
        self._scrape = metrics.ScrapeState()
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._listener = Listener(app, listen=listen, port=port)

    @property
    def port(self) -> int:
        """The port listened on (the real one once started)."""
        return self._listener.port

    async def start(self) -> None:
        """Listen; a port already taken is a startup error naming METRICS_PORT."""
        port = await self._listener.start()
        log.info("metrics and health on http://%s:%d/", self._listen, port)

    async def stop(self) -> None:
        """Stop listening (and stop waiting for a write probe)."""
        await self._listener.stop()
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._probe
        self._probe = None

    async def _write_probe(self) -> None:
        await commit_write(self._sessions, utcnow())

    async def _write_health(self) -> str | None:
        """None when a write commits in time, else why not."""
        loop = asyncio.get_running_loop()
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._write_probe())
            self._probe_started = loop.time()
            # Read the outcome even if no check is left to ask for it.
            self._probe.add_done_callback(lambda t: t.cancelled() or t.exception())
        probe = self._probe
        await asyncio.wait({probe}, timeout=self._write_timeout)
        if not probe.done():
            waited = loop.time() - self._probe_started
            return f"database writes blocked (a write has waited {waited:.0f} s for the lock)"
        error = probe.exception()
        if error is None:
            return None
        detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:200]
        return f"database refuses writes ({type(error).__name__}: {detail})"

    async def health(self) -> Health:
        """Database reads and writes, scheduler and any extra checks; each failure adds its
        reason."""
        reasons: list[str] = []
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT):
                await answer_read(self._sessions)
        except Exception as exc:  # any failure to answer is the database being unhealthy
            reasons.append(f"database not answering ({type(exc).__name__})")
        else:
            write_problem = await self._write_health()
            if write_problem is not None:
                reasons.append(write_problem)
        if not self._scheduler_running():
            reasons.append("scheduler not running")
        if self._extra is not None:
            reasons += await self._extra()
        return Health(ok=not reasons, reasons=tuple(reasons), leader=self._is_leader())

    async def _healthz(self, _request: web.Request) -> web.Response:
        health = await self.health()
        body = {
            "status": "ok" if health.ok else "unhealthy",
            "reasons": list(health.reasons),
            "leader": health.leader,
        }
        return web.Response(
            text=json.dumps(body),
            status=200 if health.ok else 503,
            content_type="application/json",
        )

    async def _metrics(self, _request: web.Request) -> web.Response:
        try:
            await metrics.refresh(
                self._sessions,
                self._scrape,
                backoff_seconds=self._backoff(),
                leader=self._is_leader(),
            )
        except Exception as exc:  # the counters are still worth serving
            log.warning("metrics: could not read the database gauges (%s)", type(exc).__name__)
        response = web.Response(body=metrics.exposition())
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        response.charset = "utf-8"
        return response
