"""Readers' command arguments (quiet hours, followed keywords), with the sentences shown
when they are wrong: marked for translation, so the catalogues carry them."""

from __future__ import annotations

import re
from datetime import time

from bot.i18n import N_
from news.search_words import normalize, search_document

_QUIET_OFF = {"off", "none"}
_QUIET_RANGE = re.compile(
    r"(?P<h1>\d{1,2})(?:[:.h](?P<m1>\d{2}))?\s*(?:-+|–|—|−|~|to)\s*"
    r"(?P<h2>\d{1,2})(?:[:.h](?P<m2>\d{2}))?"
)
_QUIET_FORMAT = N_("Quiet hours look like 23:00-07:00 or 23-7, or off.")


def _clock_time(hours: str, minutes: str | None) -> time:
    hour, minute = int(hours), int(minutes or 0)
    if minute > 59:
        raise ValueError(N_("Minutes go from 00 to 59."))
    # 24:00 is how many people write the end of the day.
    if hour == 24 and minute == 0:
        return time(0, 0)
    if hour > 23:
        raise ValueError(N_("Hours go from 0 to 23."))
    return time(hour, minute)


def parse_quiet_hours(text: str) -> tuple[time, time] | None:
    """A reader's quiet hours, ``23:00-07:00`` / ``23-7`` / ``22:30–06:15``; ``off`` gives None.

    Eastern Arabic and Persian digits are accepted. Raises ValueError with a sentence fit to
    show the reader when the text is not a range or start equals end: a catalogue text,
    which ``t._(str(exc))`` translates.
    """
    # normalize() folds case and turns ٢٣ / ۲۳ into 23, as readers on Arabic keyboards type.
    folded = normalize(text).strip()
    if folded in _QUIET_OFF:
        return None
    match = _QUIET_RANGE.fullmatch(folded)
    if match is None:
        raise ValueError(_QUIET_FORMAT)
    start = _clock_time(match["h1"], match["m1"])
    end = _clock_time(match["h2"], match["m2"])
    if start == end:
        raise ValueError(N_("Quiet hours need different start and end times."))
    return start, end


MAX_FOLLOW_CHARS = 60
MAX_FOLLOWS_PER_COMMAND = 10
# Any of these opens or closes a phrase, so mismatched pairs typed on phones still work.
_QUOTES = frozenset('"“”„«»')
_UNQUOTED_SPLIT = re.compile(r"[\s,،;؛]+")


def parse_follow_args(text: str) -> list[str]:
    """Keywords from ``/follow`` arguments: words, and phrases in "…", “…” or «…».

    Each comes back as its search-index words joined by single spaces (normalize(), then
    punctuation and repeated spaces dropped, exactly what matching compares), so
    ``"Oil  Exports"``, ``oil-exports`` and ``OIL EXPORTS`` are one keyword. Empty ones and
    ones over 60 characters are dropped, duplicates are kept once, at most 10 come back. An
    unclosed quote runs to the end. Nothing is interpreted as a pattern.
    """
    pieces: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char not in _QUOTES:
            current.append(char)
            continue
        chunk = "".join(current)
        pieces.extend([chunk] if quoted else _UNQUOTED_SPLIT.split(chunk))
        current = []
        quoted = not quoted
    chunk = "".join(current)
    pieces.extend([chunk] if quoted else _UNQUOTED_SPLIT.split(chunk))

    keywords: list[str] = []
    for piece in pieces:
        keyword = search_document(piece)
        if keyword and len(keyword) <= MAX_FOLLOW_CHARS and keyword not in keywords:
            keywords.append(keyword)
            if len(keywords) == MAX_FOLLOWS_PER_COMMAND:
                break
    return keywords
