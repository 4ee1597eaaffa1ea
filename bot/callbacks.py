"""Callback data for inline buttons: short prefixed strings, always within Telegram's 64 bytes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

MAX_CALLBACK_BYTES = 64


@dataclass(frozen=True, slots=True)
class Page:
    """A page of /latest: all news (``a``), a section (``s``), a search (``q``), or a search
    whose words were too long for the button and are kept server-side (``h``, by digest)."""

    kind: str
    offset: int
    arg: str = ""


def encode_page(page: Page) -> str:
    """``pg:<kind>:<offset>:<arg>``."""
    data = f"pg:{page.kind}:{page.offset}:{page.arg}"
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError("page callback too long; use a digest")
    return data


def decode_page(data: str) -> Page | None:
    """The page a button asks for, or None for malformed data."""
    parts = data.split(":", 3)
    if len(parts) != 4 or parts[0] != "pg" or parts[1] not in ("a", "s", "q", "h"):
        return None
    try:
        offset = int(parts[2])
    except ValueError:
        return None
    return Page(parts[1], max(0, offset), parts[3])


def search_page(query: str, offset: int) -> tuple[Page, str | None]:
    """A page for a search; the second value is a digest when the query must be kept aside."""
    page = Page("q", offset, query)
    if len(f"pg:q:{offset}:{query}".encode()) <= MAX_CALLBACK_BYTES:
        return page, None
    digest = hashlib.sha1(query.encode()).hexdigest()[:12]
    return Page("h", offset, digest), digest


def fits(data: str) -> bool:
    """True when ``data`` can be a button's callback data."""
    return 1 <= len(data.encode()) <= MAX_CALLBACK_BYTES
