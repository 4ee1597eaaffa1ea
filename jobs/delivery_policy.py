"""Who gets a push and when: pure, clock-free rules for breaking news, quiet hours and digests.

Nothing here reads the clock, the database or Telegram: every function takes the current
time and the reader's zone as arguments, so the rules are tested without either.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo

from storage.search_text import normalize, search_document

T = TypeVar("T")

# --- breaking news ---------------------------------------------------------------------------

DEFAULT_BREAKING_MARKERS = ("breaking", "urgent")

# Editors' own signs for breaking news; our rendered pushes use 🔴 too.
_BREAKING_SIGNS = ("🔴", "🚨")
# A word, with hyphen or apostrophe compounds kept whole so "record-breaking" is not "breaking".
_TOKEN = re.compile(r"\w+(?:['’-]\w+)*")
# What sets a label apart from the headline: "BREAKING: …", "Urgent - …", "… | عاجل".
# Fullwidth colon and bar become ASCII under normalize(); a bare hyphen joins words, so only a
# spaced one separates.
_SEPARATOR = re.compile(r"[:|–—]|\s-+\s|\s-+$|^-+\s")
# Words that may stand next to a marker in a label, already normalised: "Breaking news",
# "Son dakika haberi", "خبر عاجل", Sorani "هەواڵی …", Kurmanji "nûçe".
_NEWS_WORDS = frozenset(
    {"news", "alert", "update", "haber", "haberi", "خبر", "ههوال", "ههوالی", "nuce", "nuceya"}
)
_BRACKETED = re.compile(r"[\[(【〔「«]([^\[\]()【】〔〕「」«»]{1,80})[\])】〕」»]")
_HASHTAG = re.compile(r"#(\w+)")
_LEADING_NON_WORD = re.compile(r"^[\W_]+")


@dataclass(frozen=True, slots=True)
class _Marker:
    words: tuple[str, ...]  # empty for a symbol-only marker such as "⚡"
    symbol: str


def _tokens(normalized: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(normalized))


@lru_cache(maxsize=32)
def _prepare_markers(markers: tuple[str, ...]) -> tuple[_Marker, ...]:
    prepared = []
    for marker in markers:
        folded = " ".join(normalize(marker).split())
        if folded:
            prepared.append(_Marker(_tokens(folded), folded))
    return tuple(prepared)


def _is_label(words: tuple[str, ...], marker: tuple[str, ...], *, loose: bool) -> bool:
    """Whether a title segment is the marker, or (loose) the marker plus a word for "news".

    The extra word admits "Breaking news:", "خبر عاجل:" and "Son dakika haberi:" but not a
    headline that opens with a phrase ("Breaking point: …", "Urgent appeal: …").
    """
    if words == marker:
        return True
    if not loose or len(words) != len(marker) + 1:
        return False
    if words[:-1] == marker:
        return words[-1] in _NEWS_WORDS
    return words[1:] == marker and words[0] in _NEWS_WORDS


def _shouted_prefix(title: str, marker: tuple[str, ...]) -> bool:
    """``BREAKING Kirkuk oil…``: the marker in capitals opens a title that is not all capitals."""
    rest = _LEADING_NON_WORD.sub("", title)
    chunks = rest.split(maxsplit=len(marker))
    if len(chunks) <= len(marker):
        return False
    head, tail = chunks[: len(marker)], chunks[len(marker)]
    return (
        all(chunk.isupper() for chunk in head)
        and not tail.isupper()
        and _tokens(normalize(" ".join(head))) == marker
    )


def is_breaking(title: str, categories: Sequence[str], markers: Sequence[str]) -> bool:
    """Whether a feed item marks itself as breaking news, by category or by a label in its title.

    A category counts when it equals a marker (case, diacritics and spacing ignored). In the
    title, a marker counts only where editors put labels: a segment between separators
    (``:``, ``|``, en/em dash, spaced hyphen) that is exactly the marker (``BREAKING: …``,
    ``Urgent - …``, ``… | عاجل``), an opening segment of the marker and a word for "news"
    (``Breaking news: …``, ``خبر عاجل: …``), a bracketed ``[Urgent]``, a hashtag ``#عاجل`` or
    ``#son_dakika``, a capitalised ``BREAKING …`` opening, or a leading 🔴 / 🚨. A headline
    that merely uses the word ("record-breaking heat", "urgent aid", "Breaking point: …") is
    not breaking, since a breaking push skips the queue and the reader's quiet hours. No
    markers: never breaking.
    """
    prepared = _prepare_markers(tuple(markers))
    if not prepared:
        return False
    category_words = [_tokens(normalize(category)) for category in categories]
    folded_categories = {" ".join(normalize(category).split()) for category in categories}
    for marker in prepared:
        if marker.words and marker.words in category_words:
            return True
        if not marker.words and marker.symbol in folded_categories:
            return True

    stripped = title.strip()
    if stripped.startswith(_BREAKING_SIGNS):
        return True
    folded_title = " ".join(normalize(stripped).split())
    segments = [_tokens(part) for part in _SEPARATOR.split(folded_title)]
    segments = [words for words in segments if words]
    bracketed = [_tokens(inner) for inner in _BRACKETED.findall(folded_title)]
    hashtags = set(_HASHTAG.findall(folded_title))
    for marker in prepared:
        if not marker.words:
            if folded_title.startswith(marker.symbol):
                return True
            continue
        # Only the opening segment may carry a news word: "… - breaking ground" ends many a
        # headline, "… - Breaking news" hardly any.
        for index, words in enumerate(segments):
            if _is_label(words, marker.words, loose=index == 0 and len(segments) > 1):
                return True
        if any(_is_label(words, marker.words, loose=True) for words in bracketed):
            return True
        if {"".join(marker.words), "_".join(marker.words)} & hashtags:
            return True
        if _shouted_prefix(stripped, marker.words):
            return True
    return False


# --- local wall-clock arithmetic -------------------------------------------------------------


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")


def _transition(before: datetime, after: datetime, zone: tzinfo) -> datetime:
    """The first instant in (before, after] with the UTC offset in force at ``after``."""
    new_offset = after.astimezone(zone).utcoffset()
    low, high = int(before.timestamp()) - 1, int(after.timestamp()) + 1
    # Offsets change on whole seconds; bisecting a gap of at most a few hours takes ~14 steps.
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == new_offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _wall_clock_reaches(
    day: date, at: time, zone: tzinfo, *, after: datetime | None = None
) -> datetime:
    """The first instant (later than ``after``, if given) at which the local clock reads ``at``.

    On a fall-back night a wall time happens twice: the earlier one wins unless it is not
    later than ``after``. On a spring-forward night a skipped wall time is reached at the jump
    itself, the first instant the clock reads later than ``at``.
    """
    naive = datetime.combine(day, at.replace(tzinfo=None))
    # fold=0 maps a skipped time with the old offset, i.e. past the jump; fold=1 before it.
    first = naive.replace(tzinfo=zone).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) != naive:
        return _transition(second, first, zone)
    if after is None or first > after:
        return first
    return second


# Every UTC offset in use today is a whole number of quarter hours, so every local top of the
# hour falls on a UTC quarter hour: stepping by 15 minutes finds it in a handful of steps,
# across DST changes and in zones such as Asia/Kolkata (+05:30) or Asia/Kathmandu (+05:45).
_QUARTER = timedelta(minutes=15)
_MAX_QUARTERS = 4 * 24


def _floor_quarter(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def _is_local_hour_start(moment: datetime, zone: tzinfo) -> bool:
    local = moment.astimezone(zone)
    return local.minute == 0 and local.second == 0


def _next_local_hour(after: datetime, zone: tzinfo) -> datetime:
    step = _floor_quarter(after)
    for _ in range(_MAX_QUARTERS):
        step += _QUARTER
        if _is_local_hour_start(step, zone):
            return step
    raise ValueError(f"{zone} has no whole-hour local times near {after.isoformat()}")


def _current_local_hour(now: datetime, zone: tzinfo) -> datetime:
    step = _floor_quarter(now)
    for _ in range(_MAX_QUARTERS):
        if _is_local_hour_start(step, zone):
            return step
        step -= _QUARTER
    raise ValueError(f"{zone} has no whole-hour local times near {now.isoformat()}")


# --- quiet hours -----------------------------------------------------------------------------

_QUIET_OFF = {"off", "none"}
_QUIET_RANGE = re.compile(
    r"(?P<h1>\d{1,2})(?:[:.h](?P<m1>\d{2}))?\s*(?:-+|–|—|−|~|to)\s*"
    r"(?P<h2>\d{1,2})(?:[:.h](?P<m2>\d{2}))?"
)
_QUIET_FORMAT = "Quiet hours look like 23:00-07:00 or 23-7, or off."


def _clock_time(hours: str, minutes: str | None) -> time:
    hour, minute = int(hours), int(minutes or 0)
    if minute > 59:
        raise ValueError("Minutes go from 00 to 59.")
    # 24:00 is how many people write the end of the day.
    if hour == 24 and minute == 0:
        return time(0, 0)
    if hour > 23:
        raise ValueError("Hours go from 0 to 23.")
    return time(hour, minute)


def parse_quiet_hours(text: str) -> tuple[time, time] | None:
    """A reader's quiet hours, ``23:00-07:00`` / ``23-7`` / ``22:30–06:15``; ``off`` gives None.

    Eastern Arabic and Persian digits are accepted. Raises ValueError with a sentence fit to
    show the reader when the text is not a range or start equals end.
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
        raise ValueError("Quiet hours need different start and end times.")
    return start, end


def quiet_until(now: datetime, start: time, end: time, zone: ZoneInfo) -> datetime | None:
    """When the quiet period ``now`` falls in ends, as an aware UTC datetime; None outside it.

    The range is in local wall-clock time and may cross midnight (23:00–07:00); ``start`` is
    inside, ``end`` is not. Across a DST change the period ends when the local clock reads
    ``end`` (or jumps past it), so a fall-back night is an hour longer and a spring-forward
    night an hour shorter.
    """
    _require_aware(now, "now")
    if start == end:
        raise ValueError("quiet hours need different start and end times")
    local = now.astimezone(zone)
    wall = local.time()
    today = local.date()
    if start < end:
        if not start <= wall < end:
            return None
        end_day = today
    elif wall >= start:
        end_day = today + timedelta(days=1)
    elif wall < end:
        end_day = today
    else:
        return None
    return _wall_clock_reaches(end_day, end, zone, after=now)


# --- digests ---------------------------------------------------------------------------------

DIGEST_MODES = ("hourly", "daily")


def next_digest_at(
    mode: str,
    last_sent: datetime | None,
    now: datetime,
    zone: ZoneInfo,
    daily_hour: int = 8,
) -> datetime:
    """When a chat's next digest is due, as an aware UTC datetime (possibly already past).

    Hourly: the first local top of the hour after ``last_sent``; never sent, the top of the
    current hour (so it is due at once). Daily: the first ``daily_hour``:00 local after
    ``last_sent``, at most one per local date; never sent, today's unless it has passed,
    else tomorrow's. Times follow the local clock across DST changes. After an outage the
    result may lie well in the past: the missed digest is due now, whatever the local hour.
    """
    _require_aware(now, "now")
    if last_sent is not None:
        _require_aware(last_sent, "last_sent")
    if mode == "hourly":
        if last_sent is None:
            return _current_local_hour(now, zone)
        return _next_local_hour(last_sent, zone)
    if mode != "daily":
        raise ValueError(f"digest mode must be one of {', '.join(DIGEST_MODES)}, not {mode!r}")
    if not 0 <= daily_hour <= 23:
        raise ValueError("daily_hour goes from 0 to 23")
    at = time(daily_hour)
    # One occurrence per local date (the first, on a fall-back night), so a repeated hour never
    # brings a second daily digest.
    if last_sent is None:
        today = now.astimezone(zone).date()
        due = _wall_clock_reaches(today, at, zone)
        if due >= now:
            return due
        return _wall_clock_reaches(today + timedelta(days=1), at, zone)
    day = last_sent.astimezone(zone).date()
    due = _wall_clock_reaches(day, at, zone)
    if due <= last_sent:
        due = _wall_clock_reaches(day + timedelta(days=1), at, zone)
    return due


def digest_due(
    mode: str,
    last_sent: datetime | None,
    now: datetime,
    zone: ZoneInfo,
    daily_hour: int = 8,
) -> bool:
    """Whether a chat's digest should go out at ``now``."""
    return now >= next_digest_at(mode, last_sent, now, zone, daily_hour)


def pick_digest_stories(
    stories: Sequence[T],
    *,
    limit: int = 10,
    key_breaking: Callable[[T], bool],
    key_time: Callable[[T], datetime],
) -> list[T]:
    """At most ``limit`` stories for a digest: breaking ones first, then newest first.

    Ties keep the input order. ``key_time`` must return aware datetimes.
    """
    if limit < 0:
        raise ValueError("limit must not be negative")

    def rank(item: tuple[int, T]) -> tuple[bool, float, int]:
        index, story = item
        when = key_time(story)
        _require_aware(when, "key_time(story)")
        return (not key_breaking(story), -when.timestamp(), index)

    return [story for _, story in heapq.nsmallest(limit, enumerate(stories), key=rank)]


# --- send retries ----------------------------------------------------------------------------

# Attempts in all, the first send included: with the defaults the last retry comes about two
# minutes after the first failure, long enough to ride out a Bot API restart.
MAX_SEND_ATTEMPTS = 8


def send_retry_delay(
    attempt: int, *, base: float = 1.0, cap: float = 300.0, jitter: float = 0.0
) -> float:
    """Seconds to wait before retrying a send whose ``attempt``-th try (1-based) failed.

    Doubles from ``base`` up to ``cap``; ``jitter`` is a number in [0, 1] drawn by the caller
    (``random.random()``) and shortens the delay by up to half, so chats that failed together
    do not retry together, yet none retries at once. For 429 use Telegram's retry_after.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError("jitter must be between 0 and 1")
    # Cap the exponent so a runaway attempt count cannot overflow the float.
    delay = min(cap, base * 2.0 ** min(attempt - 1, 64))
    return delay * (1.0 - jitter / 2.0)


# --- keyword alerts --------------------------------------------------------------------------

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


@dataclass(slots=True)
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    phrases: list[str] = field(default_factory=list)


class KeywordMatcher:
    """Followed phrases indexed word by word, to find those a story contains.

    Build once per batch of stories. Phrases form a trie keyed by their normalised words (the
    first level is the index by first word), so matching a text costs its word count times
    the longest phrase's length, however many thousands of phrases are followed.
    """

    __slots__ = ("_count", "_root")

    def __init__(self, phrases: Iterable[str]) -> None:
        self._root: dict[str, _Node] = {}
        self._count = 0
        for phrase in phrases:
            words = search_document(phrase).split()
            if not words:
                continue  # punctuation or emoji only: it could never match a word
            children = self._root
            node = None
            for word in words:
                node = children.setdefault(word, _Node())
                children = node.children
            assert node is not None
            if phrase not in node.phrases:
                node.phrases.append(phrase)
                self._count += 1

    def __len__(self) -> int:
        """How many distinct phrases can match."""
        return self._count

    def matches(self, *texts: str) -> set[str]:
        """The phrases, as given, that occur in any of ``texts`` as a run of whole words.

        Each text is matched on its own, so a phrase never spans a title and its summary.
        An already-normalised search document may be passed: normalising twice changes nothing.
        """
        found: set[str] = set()
        if not self._root:
            return found
        for text in texts:
            words = search_document(text).split()
            for start in range(len(words)):
                children = self._root
                for position in range(start, len(words)):
                    node = children.get(words[position])
                    if node is None:
                        break
                    found.update(node.phrases)
                    children = node.children
        return found
