"""The one place that picks SQL dialect features: INSERT … ON CONFLICT for each engine."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession


def insert_for(session: AsyncSession) -> type[sqlite.Insert] | type[postgresql.Insert]:
    """An INSERT construct that knows ``on_conflict_do_nothing/update`` on this engine."""
    return postgresql.Insert if session.get_bind().dialect.name == "postgresql" else sqlite.Insert
