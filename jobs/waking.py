"""The loop a wake-able worker runs: one pass, then sleep until woken or the pass's wait."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def run_until_stopped(
    step: Callable[[], Awaitable[float]],
    wake: asyncio.Event,
    stopping: Callable[[], bool],
    *,
    failed: str,
    wait_after_failure: float,
) -> None:
    """Run ``step`` (it returns the seconds until it is next due) until ``stopping()``;
    a ``wake`` set during a pass or a sleep starts the next pass at once. A pass that raises
    is logged as ``failed`` and the next one runs after ``wait_after_failure`` seconds."""
    while not stopping():
        wake.clear()
        try:
            wait = await step()
        except Exception:
            log.exception("%s", failed)
            wait = wait_after_failure
        if stopping():
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=wait)
