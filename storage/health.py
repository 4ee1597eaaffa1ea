"""The database side of a health check: does it answer a read, does it commit a write."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from storage.bot_state import set_state
from storage.engine import SessionFactory, writing

# The one row the write probe rewrites (in ``bot_state``).
WRITE_PROBE_KEY = "health.write_probe"


async def answer_read(sessions: SessionFactory) -> None:
    """Run ``SELECT 1``; raises whatever the database raises."""
    async with sessions() as session:
        await session.exec(text("SELECT 1"))  # type: ignore[call-overload]


async def commit_write(sessions: SessionFactory, now: datetime) -> None:
    """Commit one tiny write (a timestamp); raises when writes fail, waits when they wait."""
    async with writing(sessions) as session:
        await set_state(session, WRITE_PROBE_KEY, now.isoformat(), now)
