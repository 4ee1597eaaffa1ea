"""Alembic migrations; they own the schema (run with ``newsbot db upgrade``)."""
