"""Followed keywords matched against stories."""

from __future__ import annotations

import random

import pytest

from news.keywords import KeywordMatcher
from news.search_words import normalize, search_document

# --- keyword alerts: matching ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("phrase", "text", "expected"),
    [
        ("oil exports", "Kurdistan's OIL   exports resume", True),
        ("oil exports", "Oil-exports resume", True),
        ("oil exports", "oilexports resume", False),
        ("oil exports", "exports of oil", False),
        ("oil exports", "oil", False),
        ("kirkuk", "Kirkûk governor resigns", True),
        ("kirkuk", "kirkuki", False),
        ("kurdistan", "Kurdistan's parliament", True),
        ("hewler", "HEWLÊR airport", True),
        ("istanbul", "İSTANBUL'da toplantı", True),
        # Arabic script folds letter variants, but nothing is transliterated.
        ("كركوك", "محافظ کرکوک", True),  # Arabic kaf vs keheh
        ("kirkuk", "محافظ كركوك", False),
        ("كركوك", "پارێزگای کەرکووک", False),  # Sorani spelling has more letters
        ("کەرکووک", "پارێزگاى كەركووك", True),
        ("هەولێر", "ههولیر", True),
        ("٢٠٢٦", "budget 2026", True),
    ],
)
def test_keyword_matching(phrase: str, text: str, expected: bool) -> None:
    assert (phrase in KeywordMatcher([phrase]).matches(text)) is expected


def test_matches_returns_the_phrases_as_given() -> None:
    matcher = KeywordMatcher(["Oil Exports", "oil exports", "kirkuk", "erbil", "!!!"])
    assert len(matcher) == 4
    assert matcher.matches("Kirkuk oil exports") == {"Oil Exports", "oil exports", "kirkuk"}
    assert matcher.matches("") == set()
    assert KeywordMatcher([]).matches("kirkuk") == set()


def test_overlapping_and_nested_phrases_all_match() -> None:
    matcher = KeywordMatcher(["oil", "oil exports", "exports", "oil exports resume", "oil oil"])
    assert matcher.matches("oil oil exports resume") == {
        "oil",
        "oil exports",
        "exports",
        "oil exports resume",
        "oil oil",
    }


def test_a_phrase_never_spans_two_texts() -> None:
    matcher = KeywordMatcher(["oil exports"])
    assert matcher.matches("Kirkuk oil", "Exports resume") == set()
    assert matcher.matches("Kirkuk", "Oil exports resume") == {"oil exports"}


def test_a_stored_search_document_matches_like_the_raw_text() -> None:
    texts = ["Kurdistan's OIL exports", "پارێزگاى كەركووك", "İSTANBUL'da Hewlêr ٢٠٢٦", "Straße"]
    for text in texts:
        assert normalize(normalize(text)) == normalize(text)
        assert search_document(search_document(text)) == search_document(text)
    matcher = KeywordMatcher(["oil exports", "کەرکووک", "istanbul da", "strasse"])
    for text in texts:
        assert matcher.matches(text) == matcher.matches(search_document(text))


def _naive_matches(phrases: list[str], text: str) -> set[str]:
    """Reference: a phrase matches when its words, space-padded, occur in the padded text."""
    padded = f" {search_document(text)} "
    return {
        phrase
        for phrase in phrases
        if search_document(phrase) and f" {search_document(phrase)} " in padded
    }


def test_matching_agrees_with_a_naive_reference() -> None:
    rng = random.Random(4)
    # Few words, in several spellings, so that random phrases and texts often overlap.
    vocabulary = ["oil", "OIL", "Öil", "exports", "kirkuk", "Kirkûk", "كركوك", "کرکوک", "a"]
    glue = [" ", "  ", ", ", "-", "'", " — ", "\n"]
    for _ in range(400):
        phrases = [
            rng.choice(glue).join(rng.choices(vocabulary, k=rng.randint(1, 3)))
            for _ in range(rng.randint(0, 8))
        ]
        words = rng.choices(vocabulary, k=rng.randint(0, 12))
        text = "".join(word + rng.choice(glue) for word in words)
        assert KeywordMatcher(phrases).matches(text) == _naive_matches(phrases, text)


def test_thousands_of_phrases_match_many_stories_quickly() -> None:
    rng = random.Random(11)
    words = [f"w{n}" for n in range(2_000)]
    phrases = [" ".join(rng.choices(words, k=rng.randint(1, 3))) for _ in range(10_000)]
    phrases.append("w1 w2 w3")
    matcher = KeywordMatcher(phrases)
    story = " ".join(rng.choices(words, k=300)) + " w1 w2 w3"
    for _ in range(200):
        found = matcher.matches(story)
    assert "w1 w2 w3" in found
    assert found == _naive_matches(phrases, story)
