"""Small named values the bot keeps across restarts and instances (keys, pause flags)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.dialect import insert_for
from storage.models import BotState

# The comment relay's pause, shared by every instance: present while relaying is paused (its
# value, what ``jobs.relay.pause.RelayPause`` stores, says why and since when).
RELAY_PAUSE_KEY = "comment_relay_paused"


async def get_state(session: AsyncSession, key: str, *, for_update: bool = False) -> str | None:
    """A stored value, or None; ``for_update`` locks it until the transaction ends.

    The lock is for read-decide-write sequences several instances may run at once (only
    one of them should probe a paused outlet or announce that it is back).
    """
    row = await session.get(BotState, key, with_for_update=for_update, populate_existing=True)
    return row.value if row is not None else None


async def set_state(session: AsyncSession, key: str, value: str | None, now: datetime) -> None:
    """Store (or with None, remove) a value."""
    if value is None:
        await session.exec(delete(BotState).where(col(BotState.key) == key))
        return
    statement = insert_for(session)(BotState).values(key=key, value=value, updated_at=now)
    await session.exec(
        statement.on_conflict_do_update(
            index_elements=["key"], set_={"value": value, "updated_at": now}
        )
    )


async def ensure_state(session: AsyncSession, key: str, value: str, now: datetime) -> str:
    """The stored value, storing ``value`` first if there is none (first writer wins)."""
    statement = insert_for(session)(BotState).values(key=key, value=value, updated_at=now)
    await session.exec(statement.on_conflict_do_nothing())
    stored = await get_state(session, key)
    assert stored is not None
    return stored


async def relay_paused(session: AsyncSession) -> bool:
    """Whether comment relaying is paused for every instance (any stored pause counts)."""
    return await get_state(session, RELAY_PAUSE_KEY) is not None
