"""Breaking news: markers in titles and categories, in every edition's language."""

from __future__ import annotations

import pytest

from news.breaking import DEFAULT_BREAKING_MARKERS, is_breaking

SORANI = "هەواڵی گرنگ"
ARABIC = "عاجل"
TURKISH = "son dakika"
WORLD_MARKERS = (SORANI, ARABIC, TURKISH)


# --- breaking news ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "category",
    ["Breaking", "BREAKING", "  urgent ", "Ürgent", "breaking!", "URGENT\u00a0"],
)
def test_category_equal_to_a_marker_is_breaking(category: str) -> None:
    assert is_breaking("Talks continue", ["Politics", category], DEFAULT_BREAKING_MARKERS)


@pytest.mark.parametrize("category", ["Breaking News", "Urgent care", "record-breaking", ""])
def test_category_must_equal_a_marker(category: str) -> None:
    assert not is_breaking("Talks continue", [category], DEFAULT_BREAKING_MARKERS)


@pytest.mark.parametrize(
    "title",
    [
        "BREAKING: Kirkuk oil exports resume",
        "Breaking - Erbil airport reopens",
        "Urgent – ceasefire announced",
        "URGENT—ceasefire announced",
        "Breaking news: parliament votes",
        "Rudaw | BREAKING: parliament votes",
        "Parliament votes | Breaking",
        "🔴 Parliament votes",
        "  🚨 Parliament votes",
        "[Breaking] Parliament votes",
        "Parliament votes (URGENT)",
        "#Breaking parliament votes",
        "BREAKING Kirkuk oil exports resume",
        "Breaking",
        "Breaking：parliament votes",  # fullwidth colon
    ],
)
def test_title_labels_are_breaking(title: str) -> None:
    assert is_breaking(title, [], DEFAULT_BREAKING_MARKERS)


@pytest.mark.parametrize(
    "title",
    [
        "Record-breaking heat in Baghdad",
        "Record-breaking heat: Baghdad hits 52C",
        "UN calls for urgent aid to Gaza",
        "Breaking Bad star visits Erbil",
        "Breaking point: Iraq's budget talks",
        "Urgent appeal: donors meet in Erbil",
        "Oil talks - breaking ground in Kirkuk",
        "URGENT AID NEEDED IN DUHOK",  # a title all in capitals shouts every word
        "Netflix renews #BreakingBad",
        "Parliament votes on budget",
        "",
    ],
)
def test_headlines_that_merely_use_the_word_are_not_breaking(title: str) -> None:
    assert not is_breaking(title, ["Politics"], DEFAULT_BREAKING_MARKERS)


@pytest.mark.parametrize(
    "title",
    [
        "هەواڵی گرنگ: تەقینەوە لە هەولێر",
        "ههوالی گرنگ: تهقینهوه",  # typed on an Arabic keyboard
        "عاجل | انفجار في أربيل",
        "عاجل: انفجار في أربيل",
        "خبر عاجل: انفجار في أربيل",
        "#عاجل انفجار في أربيل",
        "SON DAKİKA: Erbil'de patlama",
        "Son dakika haberi: Erbil'de patlama",
        "Son Dakika - Erbil'de patlama",
        "#son_dakika Erbil'de patlama",
        "#SonDakika Erbil'de patlama",
    ],
)
def test_non_latin_and_multi_word_markers_in_titles(title: str) -> None:
    assert is_breaking(title, [], WORLD_MARKERS)


@pytest.mark.parametrize(
    ("title", "categories"),
    [
        ("هەولێر", ["هەواڵی گرنگ"]),
        ("هەولێر", ["هه\u200cوالی گرنگ"]),  # Arabic heh, zero-width non-joiner: the same words
        ("أربيل", ["عاجل"]),
        ("Erbil", ["Son Dakika"]),
        ("Erbil", ["SON  DAKİKA"]),
    ],
)
def test_non_latin_markers_in_categories(title: str, categories: list[str]) -> None:
    assert is_breaking(title, categories, WORLD_MARKERS)


@pytest.mark.parametrize(
    "title",
    [
        "الحكومة تدعو إلى اجتماع عاجل",  # "an urgent meeting", inside the sentence
        "Son dakikada gol geldi",  # "in the last minute": another word
        "هەواڵی گرنگی ئەمڕۆ لە هەولێر",
    ],
)
def test_non_latin_markers_inside_a_sentence_are_not_breaking(title: str) -> None:
    assert not is_breaking(title, [], WORLD_MARKERS)


def test_no_markers_turns_detection_off() -> None:
    assert not is_breaking("🔴 BREAKING: x", ["Breaking"], [])
    assert not is_breaking("🔴 BREAKING: x", ["Breaking"], ["", "  "])


def test_a_symbol_marker_matches_a_leading_symbol_or_a_category() -> None:
    assert is_breaking("⚡ Erbil airport reopens", [], ["⚡"])
    assert is_breaking("Erbil airport reopens", ["⚡"], ["⚡"])
    assert not is_breaking("Erbil airport reopens ⚡", [], ["⚡"])


def test_markers_are_not_patterns() -> None:
    assert not is_breaking("Anything at all", [], [".*", "(a|b)+"])
    assert is_breaking("[.*] headline", [], ["*"]) is False
