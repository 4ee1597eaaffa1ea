"""What makes a comment acceptable, and where an accepted one goes: pure checks, no I/O.

The handler gathers the inputs (the text and its entity types, the reader's previous comment
and recent comment times, the settings) and acts on the verdict; a refused comment is never
stored and nothing of it reaches the outlet.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.config import RateLimit, Settings
from news.plain_text import clean_plain
from storage.comments import HELD, QUEUED

# Characters that show nothing although they are not whitespace: Hangul and braille fillers,
# the Mongolian vowel separator. Format characters (zero-width space, joiners, direction
# marks, word joiner, BOM, soft hyphen) are found by their Unicode category instead.
_BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")

# Links a reader can type. Telegram also marks them as ``url`` entities, but an edit or a
# client that does not may leave them unmarked; a hidden link is a ``text_link`` entity.
_LINK = re.compile(
    r"(?:https?://|tg://|\bwww\.)\S"
    r"|(?<![\w@.])(?:t|telegram)\.me/\w"
    r"|\b[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|info|io|me|co|ly|gl|app|xyz|ru|ir|iq|tr|de|uk)"
    r"(?:/\S*)?(?![\w.-])",
    re.IGNORECASE,
)
LINK_ENTITIES = frozenset({"url", "text_link"})

NAME_MAX = 64


class Refusal(StrEnum):
    """Why a comment was refused, in the order the checks run."""

    DISABLED = "disabled"
    BANNED = "banned"
    NOT_TEXT = "not_text"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    REPEAT = "repeat"
    TOO_OFTEN = "too_often"
    LINKS = "links"  # a link and nobody to review it
    LINK_ADDED = "link_added"  # an edit added a link to a comment that goes out unreviewed


@dataclass(frozen=True, slots=True)
class Refused:
    """A refused comment and the figures its answer names."""

    reason: Refusal
    length: int = 0
    limit: int = 0
    rate: RateLimit | None = None
    wait: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    """An accepted comment: its cleaned text and where it goes (held or queued, and why)."""

    text: str
    status: str
    held_for: str | None = None


@dataclass(frozen=True, slots=True)
class CommentRules:
    """The settings the checks need, as plain values."""

    enabled: bool
    max_length: int
    rate: tuple[RateLimit, ...]
    review_all: bool  # MODERATION_CHAT_ID: every comment waits for the moderators
    has_moderators: bool  # someone can review a held comment (that chat, or ADMIN_IDS)

    @classmethod
    def from_settings(cls, settings: Settings) -> CommentRules:
        """The rules the configuration sets."""
        return cls(
            enabled=settings.comments_enabled,
            max_length=settings.comment_max_length,
            rate=settings.comment_rate,
            review_all=settings.moderation_chat_id is not None,
            has_moderators=settings.moderation_chat_id is not None or bool(settings.admin_ids),
        )


def _invisible(ch: str) -> bool:
    return ch.isspace() or ch in _BLANKS or unicodedata.category(ch) in ("Cf", "Cc")


def visible_text(text: str) -> str:
    """The characters that show: no whitespace, zero-width, format or filler characters.

    Combining marks (variation selectors, the grapheme joiner, harakat) show only on a base
    character: text made of marks alone is as blank as text made of spaces.
    """
    shown = "".join(ch for ch in text if not _invisible(ch))
    if all(unicodedata.category(ch) in ("Mn", "Me") for ch in shown):
        return ""
    return shown


def clean_text(text: str) -> str:
    """The comment as stored: invisible characters trimmed from both ends, the rest kept
    (a zero-width joiner inside an emoji sequence is part of the emoji)."""
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    return text[start:end]


def has_links(text: str, entity_types: Collection[str] = ()) -> bool:
    """True when the text holds a link, typed or hidden behind words."""
    return bool(LINK_ENTITIES.intersection(entity_types)) or _LINK.search(text) is not None


def same_comment(a: str, b: str) -> bool:
    """True when two comments differ only in spacing or letter case."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def rate_wait(
    recent: Sequence[datetime], limits: Sequence[RateLimit], now: datetime
) -> tuple[RateLimit, timedelta] | None:
    """The limit a new comment would break and how long until it would not; None if free.

    ``recent`` holds the reader's comment times in the longest window (any order).
    """
    worst: tuple[RateLimit, timedelta] | None = None
    for limit in limits:
        window = timedelta(seconds=limit.per)
        inside = sorted((t for t in recent if t >= now - window), reverse=True)
        if len(inside) < limit.count:
            continue
        wait = inside[limit.count - 1] + window - now
        if worst is None or wait > worst[1]:
            worst = (limit, wait)
    return worst


def rate_lookback(limits: Sequence[RateLimit]) -> tuple[timedelta, int]:
    """How far back and how many comment times ``rate_wait`` needs."""
    if not limits:
        return timedelta(0), 0
    return timedelta(seconds=max(r.per for r in limits)), max(r.count for r in limits)


def _placement(text: str, links: bool, rules: CommentRules) -> Accepted | Refused:
    if rules.review_all:
        return Accepted(text, HELD, "moderation")
    if links:
        if rules.has_moderators:
            return Accepted(text, HELD, "links")
        return Refused(Refusal.LINKS)
    return Accepted(text, QUEUED)


def _check_text(text: str | None, rules: CommentRules) -> str | Refused:
    if text is None:
        return Refused(Refusal.NOT_TEXT)
    if not visible_text(text):
        return Refused(Refusal.EMPTY)
    cleaned = clean_text(text)
    if len(cleaned) > rules.max_length:
        return Refused(Refusal.TOO_LONG, length=len(cleaned), limit=rules.max_length)
    return cleaned


def check_comment(
    text: str | None,
    entity_types: Collection[str],
    rules: CommentRules,
    *,
    banned: bool,
    previous: str | None,
    recent: Sequence[datetime],
    now: datetime,
) -> Accepted | Refused:
    """A new comment's verdict. ``text`` is None for a sticker, photo or other media."""
    if not rules.enabled:
        return Refused(Refusal.DISABLED)
    if banned:
        return Refused(Refusal.BANNED)
    cleaned = _check_text(text, rules)
    if isinstance(cleaned, Refused):
        return cleaned
    if previous is not None and same_comment(cleaned, previous):
        return Refused(Refusal.REPEAT)
    over = rate_wait(recent, rules.rate, now)
    if over is not None:
        return Refused(Refusal.TOO_OFTEN, rate=over[0], wait=over[1])
    return _placement(cleaned, has_links(cleaned, entity_types), rules)


def check_edit(
    text: str | None,
    entity_types: Collection[str],
    rules: CommentRules,
    *,
    status: str,
    held_for: str | None,
) -> Accepted | Refused:
    """An edit's verdict: the text checks again, and a link only where moderators will look.

    The comment keeps its place (``status``, ``held_for``); repeats and the rate limit
    concern new comments only.
    """
    cleaned = _check_text(text, rules)
    if isinstance(cleaned, Refused):
        return cleaned
    reviewed = status == HELD or held_for is not None
    if has_links(cleaned, entity_types) and not reviewed:
        return Refused(Refusal.LINK_ADDED if rules.has_moderators else Refusal.LINKS)
    return Accepted(cleaned, status, held_for)


def check_name(raw: str) -> str | Refused:
    """A display name as chosen with /name: control and direction-override characters out,
    spaces collapsed, 1 to 64 characters, no link.

    ``clean_plain`` drops the bidi embeddings, overrides and isolates that could make a name
    display as someone else's ("\u202eevil" shows reversed) and keeps the joiners Persian and
    Kurdish names need. It only ever shortens, so a cap of the raw length never cuts: a name
    too long is refused, not truncated.
    """
    name = clean_text(clean_plain(raw, max(len(raw), 1)))
    if not visible_text(name):
        return Refused(Refusal.EMPTY)
    if len(name) > NAME_MAX:
        return Refused(Refusal.TOO_LONG, length=len(name), limit=NAME_MAX)
    if has_links(name):
        return Refused(Refusal.LINKS)
    return name
