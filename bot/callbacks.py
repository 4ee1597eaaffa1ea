"""Callback data for inline buttons: short prefixed strings, always within Telegram's 64 bytes."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MAX_CALLBACK_BYTES = 64
# Paging deeper than this is not reading news; it also keeps forged offsets harmless.
MAX_OFFSET = 10_000
_NUMBER = re.compile(r"[0-9]{1,9}")


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
    if not _NUMBER.fullmatch(parts[2]):
        return None
    return Page(parts[1], min(int(parts[2]), MAX_OFFSET), parts[3])


def parse_id(text: str) -> int | None:
    """A story id from callback data or a deep link, or None for anything else."""
    return int(text) if _NUMBER.fullmatch(text) else None


def search_page(query: str, offset: int) -> tuple[Page, str | None]:
    """A page for a search; the second value is a digest when the query must be kept aside."""
    page = Page("q", offset, query)
    # Checked at the deepest offset, so that every later "Next ›" of this search fits too.
    if len(f"pg:q:{MAX_OFFSET}:{query}".encode()) <= MAX_CALLBACK_BYTES:
        return page, None
    digest = hashlib.sha1(query.encode()).hexdigest()[:12]
    return Page("h", offset, digest), digest


def fits(data: str) -> bool:
    """True when ``data`` can be a button's callback data."""
    return 1 <= len(data.encode()) <= MAX_CALLBACK_BYTES
