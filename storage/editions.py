"""A chat's editions as stored (comma-separated) and as read (its choice, else the default):
shared by the chat and digest queries, so neither imports the other for them."""

from __future__ import annotations


def split_editions(value: str | None) -> tuple[str, ...]:
    """The stored comma-separated editions as a tuple (empty for NULL)."""
    return tuple(e for e in (value or "").split(",") if e)


def or_default(editions: tuple[str, ...], default_edition: str) -> tuple[str, ...]:
    """The editions a chat reads: its own choice, else the outlet's default edition."""
    return editions or (default_edition,)
