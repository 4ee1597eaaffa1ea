"""Nightly housekeeping: delivery records past the comment window are forgotten."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from storage import deliveries as queue
from storage.clock import utcnow
from storage.engine import SessionFactory, writing

log = logging.getLogger(__name__)


async def prune_old_deliveries(
    sessions: SessionFactory, window: timedelta, clock: Callable[[], datetime] = utcnow
) -> int:
    """Delete delivery records older than ``window``; replies to them are closed anyway."""
    async with writing(sessions) as session:
        removed = await queue.prune_deliveries(session, clock() - window)
    if removed:
        log.info("pruned %d delivery records older than %s", removed, window)
    return removed
