"""Is a story breaking news: a pure reading of its title and categories against the markers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from news.search_words import normalize

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
