"""Section names in the reader's language (bot/sections.py), how story headers use them, and
the slugs of sections named in Sorani (news.sections)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_settings
from bot.i18n import FSI, LOCALES, PDI, texts
from bot.render import section_label, story_message
from bot.sections import SectionCatalogue, built_in_names, readable_slug
from storage.records import StoryView

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EN, CKB, AR, KMR, TR = (texts(code) for code in ("en", "ckb", "ar", "kmr", "tr"))


def _story(*sections: str) -> StoryView:
    return StoryView(
        id=1,
        title="Erbil airport reopens",
        link="https://www.rudaw.net/english/kurdistan/1",
        summary="",
        image_url=None,
        author=None,
        categories=(),
        language="en",
        published_at=NOW - timedelta(hours=1),
        first_seen_at=NOW - timedelta(hours=1),
        sort_at=NOW - timedelta(hours=1),
        sections=sections,
    )


def test_the_issues_example_names_each_language() -> None:
    settings = load_settings(
        feeds="kurdistan=https://outlet.example/ku.rss",
        section_names="kurdistan=Kurdistan|ckb:کوردستان|ar:كردستان|kmr:Kurdistan|tr:Kürdistan",
    )
    catalogue = SectionCatalogue.from_settings(settings)
    assert [catalogue.name("kurdistan", t) for t in (EN, CKB, AR, KMR, TR)] == [
        "Kurdistan",
        "کوردستان",
        "كردستان",
        "Kurdistan",
        "Kürdistan",
    ]


def test_fallbacks_language_then_built_in_then_no_language_then_slug() -> None:
    catalogue = SectionCatalogue(
        ("kurdistan", "oil-and-gas", "world", "هەواڵ"),
        {
            "kurdistan": {"": "Kurdistan Region", "ar": "إقليم كردستان"},
            "oil-and-gas": {"": "Energy", "tr": "Enerji"},
        },
    )
    # The operator's name for the language wins.
    assert catalogue.name("kurdistan", AR) == "إقليم كردستان"
    # A language the operator left out keeps the built-in translation of a common section...
    assert catalogue.name("kurdistan", CKB) == "کوردستان" == built_in_names("ckb")["kurdistan"]
    # ...while English readers get the operator's own name, not the built-in one.
    assert catalogue.name("kurdistan", EN) == "Kurdistan Region"
    # An uncommon section: the name for the language, else the one without a language.
    assert catalogue.name("oil-and-gas", TR) == "Enerji"
    assert catalogue.name("oil-and-gas", CKB) == "Energy"
    # No SECTION_NAMES entry: built-in names, else the slug made readable.
    assert catalogue.name("world", CKB) == "جیهان"
    assert catalogue.name("world", EN) == "World"
    assert catalogue.name("هەواڵ", CKB) == "هەواڵ"
    assert SectionCatalogue(("middle-east", "sci-tech")).names(EN) == {
        "middle-east": "Middle East",
        "sci-tech": "Sci Tech",
    }
    assert readable_slug("--") == "--"


@pytest.mark.parametrize("locale", [code for code in LOCALES if code != "en"])
def test_every_built_in_section_is_translated(locale: str) -> None:
    english, translated = built_in_names("en"), built_in_names(locale)
    assert translated.keys() == english.keys()
    # Sorani and Arabic readers never read a Latin name for a common section.
    if locale in ("ckb", "ar"):
        assert not any(ch.isascii() and ch.isalpha() for ch in "".join(translated.values()))
    else:
        assert translated != english


def test_names_keep_the_configured_order_and_leave_out_what_is_not_offered() -> None:
    catalogue = SectionCatalogue(("world", "kurdistan", "iraq"))
    assert list(catalogue.names(EN)) == ["world", "kurdistan", "iraq"]
    assert catalogue.names(CKB, ["iraq", "world", "politics"]) == {
        "world": "جیهان",
        "iraq": "عێراق",
    }
    assert not catalogue.is_offered("politics")
    assert catalogue.find("politics") is None


def test_story_header_shows_offered_sections_in_the_readers_language() -> None:
    catalogue = SectionCatalogue(("kurdistan",), {"kurdistan": {"ckb": "هەرێمی کوردستان"}})
    # "internal-open-access-from-nl": a category an older version filed as a section.
    story = _story("internal-open-access-from-nl", "kurdistan")
    assert section_label(story, catalogue.names(EN), t=EN) == "Kurdistan"
    assert section_label(story, catalogue.names(CKB), t=CKB) == f"{FSI}هەرێمی کوردستان{PDI}"
    # A story in no offered section reads "News", in the reader's language.
    assert section_label(_story("politics"), catalogue.names(AR), t=AR) == "أخبار"
    zone = ZoneInfo("Asia/Baghdad")
    rendered = story_message(story, t=CKB, now=NOW, zone=zone, section_names=catalogue.names(CKB))
    assert "هەرێمی کوردستان" in rendered.text
    assert "open" not in rendered.text.split("\n")[1]


def test_names_are_escaped_in_html() -> None:
    catalogue = SectionCatalogue(("r-d",), {"r-d": {"": "R&D <lab>"}})
    rendered = story_message(
        _story("r-d"), t=EN, now=NOW, zone=ZoneInfo("UTC"), section_names=catalogue.names(EN)
    )
    assert "R&amp;D &lt;lab&gt;" in rendered.text


def test_distinct_sorani_sections_keep_distinct_slugs() -> None:
    from news.sections import section_slug

    middle_east = "هەواڵەکانی ڕۆژهەڵاتی ناوەڕاست"  # Middle East news
    east_kurdistan = "هەواڵەکانی ڕۆژهەڵاتی کوردستان"  # East Kurdistan news
    assert section_slug(middle_east) != section_slug(east_kurdistan)
