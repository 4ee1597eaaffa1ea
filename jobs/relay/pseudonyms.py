"""The opaque, stable id the outlet sees instead of a reader's Telegram user id."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from news.clock import utcnow
from storage.bot_state import ensure_state
from storage.engine import SessionFactory, writing

PSEUDONYM_KEY_STATE = "pseudonym_key"


def pseudonym(key: bytes, user_id: int) -> str:
    """The opaque, stable id the outlet sees instead of the Telegram user id (keyed hash)."""
    return hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()[:32]


async def load_pseudonym_key(
    sessions: SessionFactory, configured: str | None, *, now: datetime | None = None
) -> bytes:
    """PSEUDONYM_KEY when set, else a random key generated once and kept in the database.

    The first instance to store one wins, so every instance gives a reader the same pseudonym.
    """
    if configured:
        return configured.encode()
    async with writing(sessions) as session:
        stored = await ensure_state(
            session, PSEUDONYM_KEY_STATE, secrets.token_hex(32), now or utcnow()
        )
    return stored.encode()
