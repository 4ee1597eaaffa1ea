"""Test databases: a SQLite file per test, or a fresh PostgreSQL database per test."""

from __future__ import annotations

import os
import uuid

import asyncpg
from sqlalchemy.engine import make_url

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    """Where to create test databases: TEST_DATABASE_URL or the local service."""
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG_URL


def postgres_required() -> bool:
    """CI sets NEWSBOT_REQUIRE_POSTGRES=1 so that a missing server fails instead of skipping."""
    return os.environ.get("NEWSBOT_REQUIRE_POSTGRES", "") not in ("", "0", "false")


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def postgres_unavailable_reason() -> str | None:
    """None when PostgreSQL answers, else why not (for a clear skip message)."""
    try:
        conn = await asyncpg.connect(_dsn(postgres_admin_url()), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL not reachable at {postgres_admin_url()} ({type(exc).__name__}: {exc})"
    await conn.close()
    return None


async def create_postgres_database(template: str | None = None) -> str:
    """A new database (empty, or a copy of ``template``); returns its async SQLAlchemy URL."""
    admin = postgres_admin_url()
    name = f"newsbot_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(_dsn(admin), timeout=10)
    try:
        copy = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await conn.close()
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(url: str) -> None:
    """Drop a database made by create_postgres_database, even with connections left open."""
    name = make_url(url).database
    conn = await asyncpg.connect(_dsn(postgres_admin_url()), timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
