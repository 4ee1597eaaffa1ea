"""Applies the Alembic migrations shipped inside the package, from any working directory."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same for every newsbot instance.
_PG_MIGRATION_LOCK = 0x6E657773


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of newsbot."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    """Every revision this version of newsbot ships."""
    return {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None for an empty database."""

    def _read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(_read)


async def upgrade_database(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema up to ``revision``; safe when several instances start together."""
    before = await current_revision(engine)

    def _upgrade(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            # Serialise concurrent starts: the second instance waits, then finds nothing to do.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
        command.upgrade(_config(connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
    after = await current_revision(engine)
    if after != before:
        log.info("database schema upgraded from %s to %s", before or "empty", after)


async def downgrade_database(engine: AsyncEngine, revision: str) -> None:
    """Step the schema back to ``revision`` (used by the migration tests)."""

    def _downgrade(connection: Connection) -> None:
        command.downgrade(_config(connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(_downgrade)
