"""Followed keywords matched against a story's words (a trie of normalised phrases)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from news.search_words import search_document


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
