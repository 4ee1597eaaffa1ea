"""Copying a whole installation from one database to another (SQLite to PostgreSQL).

Both sides are first brought to the newest schema, so every table of the models exists on
both; rows are then copied table by table in foreign-key order, keeping their ids, in one
transaction on the destination: a failure leaves the destination as empty as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers every table on SQLModel.metadata)
from storage.migrate import upgrade_database

BATCH = 2000


class TransferError(Exception):
    """The copy cannot be made (a destination that already holds data)."""


@dataclass(frozen=True, slots=True)
class TableCopy:
    """How many rows of one table were copied."""

    table: str
    rows: int


def _tables() -> list[Table]:
    return list(SQLModel.metadata.sorted_tables)


async def _count(connection: AsyncConnection, table: Table) -> int:
    return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


async def _reset_sequences(connection: AsyncConnection, table: Table) -> None:
    """Make PostgreSQL's next id follow the copied ones (ids were inserted explicitly)."""
    for column in table.primary_key.columns:
        if column.autoincrement is True or (
            column.autoincrement == "auto" and len(table.primary_key.columns) == 1
        ):
            sequence = (
                await connection.execute(
                    text("SELECT pg_get_serial_sequence(:table, :column)"),
                    {"table": table.name, "column": column.name},
                )
            ).scalar_one()
            if sequence is None:
                continue
            await connection.execute(
                text(
                    f"SELECT setval(:sequence, COALESCE((SELECT MAX({column.name}) "
                    f"FROM {table.name}), 1), (SELECT MAX({column.name}) FROM {table.name}) "
                    "IS NOT NULL)"
                ),
                {"sequence": sequence},
            )


async def copy_database(
    source: AsyncEngine,
    destination: AsyncEngine,
    *,
    progress: Callable[[str, int], None] | None = None,
) -> list[TableCopy]:
    """Copy every row of ``source`` into the empty ``destination``; returns the counts.

    Raises TransferError when the destination already holds rows (nothing is written).
    """
    await upgrade_database(source)
    await upgrade_database(destination)
    tables = _tables()
    copied: list[TableCopy] = []
    async with source.connect() as reader, destination.begin() as writer:
        busy = [(t.name, n) for t in tables if (n := await _count(writer, t))]
        if busy:
            held = ", ".join(f"{n} in {name}" for name, n in busy)
            raise TransferError(
                f"the destination already holds data ({held}); copy into an empty database"
            )
        for table in tables:
            total = 0
            order = list(table.primary_key.columns) or list(table.columns)
            result = await reader.stream(select(table).order_by(*order))
            async for chunk in result.mappings().partitions(BATCH):
                await writer.execute(table.insert(), [dict(row) for row in chunk])
                total += len(chunk)
                if progress is not None:
                    progress(table.name, total)
            if total != await _count(writer, table):
                raise TransferError(f"{table.name}: the copy does not match the source")
            if writer.dialect.name == "postgresql":
                await _reset_sequences(writer, table)
            copied.append(TableCopy(table.name, total))
    return copied
