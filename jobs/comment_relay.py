"""Comment relay: the outbox of readers' comments, POSTed to the outlet as Standard Webhooks.

INTERFACE SKELETON — the implementation is being written (see the class docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import aiohttp

from storage.clock import utcnow
from storage.comments import CommentView
from storage.engine import SessionFactory


class CommentNotifier(Protocol):
    """The bot side of the relay: tells readers and admins what happened (never raises)."""

    async def comment_changed(self, comment: CommentView, *, still_trying: bool = False) -> None:
        """The comment reached a final state (published, relayed, rejected, failed), or —
        with ``still_trying`` — relaying keeps failing and the reader should know (once)."""

    async def alert_admins(self, text: str) -> None:
        """One plain-text alert to the bot's administrators (ADMIN_IDS)."""


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """The relay's knobs, as plain values from the settings."""

    url: str
    secret: bytes | None  # the HMAC key (COMMENTS_SECRET decoded); None: no signature header
    retry_for: timedelta = timedelta(hours=24)
    timeout: float = 10.0
    lease: timedelta = timedelta(seconds=60)
    # A hash of URL and secret: a pause for a wrong endpoint/secret ends when this changes.
    fingerprint: str = ""


def pseudonym(key: bytes, user_id: int) -> str:
    """The opaque, stable id the outlet sees instead of the Telegram user id (keyed hash)."""
    raise NotImplementedError


class CommentRelay:
    """Sends every due outbox row; ``wake()`` after writing one; ``start()`` / ``stop()``."""

    def __init__(
        self,
        sessions: SessionFactory,
        http: aiohttp.ClientSession,
        settings: RelaySettings,
        pseudonym_key: bytes,
        notifier: CommentNotifier,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        raise NotImplementedError

    def wake(self) -> None:
        """New work in the outbox: send it now rather than at the next timer."""
        raise NotImplementedError

    def pseudonym(self, user_id: int) -> str:
        """``pseudonym(key, user_id)`` with this relay's key."""
        raise NotImplementedError

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError
