"""Rendering: escaping, length limits, right-to-left isolation, buttons and callback data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.callbacks import Page, decode_page, encode_page, fits, search_page
from bot.handlers.common import resolve_sections
from bot.i18n import FSI, PDI, texts
from bot.render import (
    escape,
    plain_text,
    shown_order,
    story_group,
    story_list,
    story_message,
    trim,
    utf16_len,
)
from bot.sections import SectionCatalogue
from storage.records import StoryView

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BAGHDAD = ZoneInfo("Asia/Baghdad")
NAMES = {"kurdistan": "Kurdistan", "world": "World"}
EN = texts("en")


def story(**overrides: object) -> StoryView:
    values: dict[str, object] = {
        "id": 42,
        "title": 'Peshmerga & coalition <talks> in "Erbil"',
        "link": "https://www.rudaw.net/english/kurdistan/251120261?a=1&b=2",
        "summary": "Talks continue.",
        "image_url": None,
        "author": None,
        "categories": ("Kurdistan",),
        "language": "en",
        "published_at": NOW - timedelta(hours=3),
        "first_seen_at": NOW - timedelta(hours=3),
        "sort_at": NOW - timedelta(hours=3),
        "sections": ("kurdistan",),
    }
    values.update(overrides)
    return StoryView(**values)  # type: ignore[arg-type]


def test_story_message_escapes_feed_text_and_links() -> None:
    rendered = story_message(story(), t=EN, now=NOW, zone=BAGHDAD, section_names=NAMES)
    assert "<b>Peshmerga &amp; coalition &lt;talks&gt; in &quot;Erbil&quot;</b>" in rendered.text
    # The article opens from the "Read" button; a list links titles, escaped.
    assert "href" not in rendered.text and rendered.buttons[0][0].url == story().link
    listing = story_list("Latest", [story()], t=EN, now=NOW, zone=BAGHDAD, section_names=NAMES)
    assert 'href="https://www.rudaw.net/english/kurdistan/251120261?a=1&amp;b=2"' in listing
    # A message that stays in the chat: 09:00 UTC is 12:00 in Baghdad, today (no "ago").
    assert "Kurdistan · 12:00\u202fPM" in rendered.text
    assert rendered.preview_url == story().link


def test_story_message_buttons_fit_telegram_limits() -> None:
    rendered = story_message(
        story(id=2**31), t=EN, now=NOW, zone=BAGHDAD, section_names=NAMES, comment_button=True
    )
    row, comments = rendered.buttons
    assert [b.text for b in row] == ["Read", "More like this"]
    assert [(b.text, b.callback) for b in comments] == [
        ("✍️ Write a comment", f"cm:{2**31}"),
        ("💬 Read comments", f"cl:{2**31}:0"),
    ]
    assert row[0].url == story().link
    assert all(fits(b.callback) for b in row + comments if b.callback)


def test_breaking_marker() -> None:
    rendered = story_message(
        story(), t=EN, now=NOW, zone=BAGHDAD, section_names=NAMES, breaking=True
    )
    assert rendered.text.startswith("🔴 <b>")


def test_message_never_exceeds_telegram_limit() -> None:
    huge = story(title="ک" * 3000, summary="😀" * 5000)
    rendered = story_message(huge, t=EN, now=NOW, zone=BAGHDAD, section_names=NAMES)
    assert utf16_len(rendered.text) <= 4096
    listing = story_list("Latest", [huge] * 10, t=EN, now=NOW, zone=BAGHDAD, section_names=NAMES)
    assert utf16_len(listing) <= 4096


def test_rtl_runs_are_isolated_but_ltr_text_is_untouched() -> None:
    sorani = "سەرۆکی هەرێمی کوردستان لە بەغدا"
    assert EN.isolate(sorani) == f"{FSI}{sorani}{PDI}"
    assert EN.isolate("Erbil 2026") == "Erbil 2026"
    rendered = story_message(
        story(title=sorani, summary="ئەمڕۆ 12 کەس"),
        t=EN,
        now=NOW,
        zone=BAGHDAD,
        section_names=NAMES,
    )
    assert f"<b>{FSI}{sorani}{PDI}</b>" in rendered.text


def test_a_right_to_left_interface_isolates_latin_titles_links_and_names() -> None:
    rendered = story_message(
        story(title="Erbil talks"),
        t=texts("ckb"),
        now=NOW,
        zone=BAGHDAD,
        section_names=NAMES,
        comment_button=True,
    )
    assert f"<b>{FSI}Erbil talks{PDI}</b>" in rendered.text
    assert f"<i>{FSI}Kurdistan{PDI}" in rendered.text
    assert rendered.buttons[0][0].url == story().link
    assert len(rendered.buttons) == 2


def test_group_heading_counts_and_plain_text_uses_the_locale_time() -> None:
    stories = [story(id=1, title="One"), story(id=2, title="Two", breaking=True)]
    group = story_group(stories, t=EN, now=NOW, zone=BAGHDAD, section_names=NAMES)
    assert group.text.startswith("<b>🔴 2 new stories</b>")
    assert "3 hours ago" not in group.text and group.text.count("12:00") == 2
    plain = plain_text(stories[:1], t=EN, now=NOW, zone=BAGHDAD)
    assert plain.splitlines()[:2] == ["One", EN.stamp(NOW - timedelta(hours=3), NOW, BAGHDAD)]
    assert "ago" not in plain


def test_a_list_read_as_it_is_sent_says_how_long_ago() -> None:
    listing = story_list("Latest", [story()], t=EN, now=NOW, zone=BAGHDAD, section_names=NAMES)
    assert "Kurdistan · 3 hours ago, 12:00" in listing


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        # Today in Baghdad (UTC+3), however long ago: the clock time alone.
        (datetime(2026, 11, 25, 0, 30, tzinfo=UTC), "3:30\u202fAM"),
        # 23:30 UTC on the 24th is already the 25th in Baghdad.
        (datetime(2026, 11, 24, 21, 30, tzinfo=UTC), "12:30\u202fAM"),
        # Yesterday in Baghdad: the day with it.
        (datetime(2026, 11, 24, 20, 59, tzinfo=UTC), "Nov 24, 11:59\u202fPM"),
        # Another year: the full date.
        (datetime(2025, 12, 31, 9, 0, tzinfo=UTC), "Dec 31, 2025, 12:00\u202fPM"),
    ],
)
def test_absolute_times_name_the_day_unless_it_is_today_in_the_readers_zone(
    when: datetime, expected: str
) -> None:
    assert EN.stamp(when, NOW, BAGHDAD) == expected


def test_absolute_times_in_each_language() -> None:
    yesterday = NOW - timedelta(days=1)
    assert texts("tr").stamp(yesterday, NOW, BAGHDAD) == "24 Kas, 15:00"
    assert texts("ar").stamp(yesterday, NOW, BAGHDAD) == "24 نوفمبر، 3:00 م"
    # Sorani in its own digits.
    sorani = texts("ckb").stamp(NOW, NOW, BAGHDAD)
    assert sorani.startswith("٣:٠٠") and not any(c.isascii() and c.isdigit() for c in sorani)


def test_story_list_numbers_from_offset_and_links_titles() -> None:
    text = story_list(
        "Latest stories",
        [story(id=1, title="One"), story(id=2, title="Two", link=None)],
        t=EN,
        now=NOW,
        zone=BAGHDAD,
        section_names=NAMES,
        first_number=6,
    )
    assert text.startswith("<b>Latest stories</b>")
    assert '6. <b><a href="' in text
    assert "7. <b>Two</b>" in text


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(minutes=5), "5 minutes ago"),
        (timedelta(hours=2), "2 hours ago"),
        (timedelta(days=1, hours=1), "1 day ago"),
        (timedelta(days=3), "3 days ago"),
        (timedelta(seconds=-30), "just now"),
    ],
)
def test_time_ago(delta: timedelta, expected: str) -> None:
    assert EN.ago(NOW - delta, NOW) == expected


def test_trim_cuts_on_words() -> None:
    assert trim("one two three four five six", 20) == "one two three four…"
    assert trim("x" * 30, 10) == "x" * 9 + "…"
    assert trim("short", 10) == "short"
    assert escape('<a href="x">&') == "&lt;a href=&quot;x&quot;&gt;&amp;"


def test_page_callbacks_round_trip_and_fit() -> None:
    for page in (Page("a", 0), Page("s", 10, "kurdistan"), Page("q", 5, "oil exports")):
        data = encode_page(page)
        assert fits(data)
        assert decode_page(data) == page
    assert decode_page("pg:x:1:") is None
    assert decode_page("pg:a:notanumber:") is None
    assert decode_page("garbage") is None


def test_long_search_queries_are_kept_aside_by_digest() -> None:
    page, digest = search_page("کۆبوونەوەی پەرلەمانی کوردستان لەسەر بودجە", 5)
    assert digest is not None
    assert page.kind == "h"
    assert fits(encode_page(page))
    short, none = search_page("kirkuk", 0)
    assert none is None
    assert short == Page("q", 0, "kirkuk")


def test_resolve_sections_accepts_slugs_names_and_multiword_names() -> None:
    catalogue = SectionCatalogue(
        ("kurdistan", "middle-east", "world", "iraq"),
        {"kurdistan": {"ckb": "هەرێمی کوردستان"}},
        {"world": ("International",)},
    )
    known = catalogue.names(EN, ["kurdistan", "middle-east", "world"])  # iraq: no stories yet

    def resolve(*words: str) -> tuple[list[str], list[str]]:
        return resolve_sections(words, known, catalogue.find)

    assert resolve("Kurdistan", "world") == (["kurdistan", "world"], [])
    assert resolve("middle", "east", "WORLD") == (["middle-east", "world"], [])
    assert resolve("Middle-East") == (["middle-east"], [])
    # Names in any language, as readers type them (an Arabic keyboard's ي and ك included).
    assert resolve("هەریمی", "كوردستان") == (["kurdistan"], [])
    assert resolve("ڕۆژهەڵاتی", "ناوەڕاست") == (["middle-east"], [])
    assert resolve("العالم") == (["world"], [])
    assert resolve("international") == (["world"], [])
    assert resolve("sport", "world") == (["world"], ["sport"])
    assert resolve("iraq") == ([], ["iraq"])  # offered, but not among the known ones here


def test_section_toggles_fit_callback_data_for_long_sorani_names() -> None:
    from bot.handlers.subscriptions import sections_keyboard
    from news.sections import section_slug

    long_names = ["هەواڵەکانی کوردستان و عێراق و ناوچەکە و جیهان", "World " * 20]
    names = {section_slug(n): n for n in long_names}
    rows = sections_keyboard(set(), names, EN)
    data = [b.callback for row in rows for b in row if b.callback]
    assert len(data) == 3
    assert all(fits(d) for d in data)
    assert all(fits(encode_page(Page("s", 995, slug))) for slug in names)


HOSTILE_TITLES = [
    'Peshmerga & coalition <talks> in "Erbil"',
    "پێشمەرگە و هاوپەیمانان <لە> هەولێر & 2026",
    "Balafirgeha Hewlêrê: 3 <b>bêtir</b>",
    "x" * 5000,
]


@pytest.mark.parametrize("locale", ["en", "ckb", "kmr", "ar", "tr"])
def test_every_story_message_in_every_language_is_html_telegram_accepts(locale: str) -> None:
    """Story messages, lists, grouped pushes and their buttons in each language go through
    the fake Bot API's HTML parser and Telegram's limits (4,096 characters, 64-byte data)."""
    from tests.fake_bot_api import parse_html

    t = texts(locale)
    stories = [
        story(id=n, title=title, breaking=n % 2 == 0, sort_at=NOW - timedelta(days=n))
        for n, title in enumerate(HOSTILE_TITLES, start=1)
    ]
    rendered = [
        story_message(s, t=t, now=NOW, zone=BAGHDAD, section_names=NAMES, comment_button=True)
        for s in stories
    ]
    rendered.append(story_group(stories, t=t, now=NOW, zone=BAGHDAD, section_names=NAMES))
    listed = story_list(
        t._("Latest stories"), stories, t=t, now=NOW, zone=BAGHDAD, section_names=NAMES
    )
    for html in [r.text for r in rendered] + [listed]:
        text, _ = parse_html(html)
        assert 0 < utf16_len(text) <= 4096
    for button in (b for r in rendered for row in r.buttons for b in row):
        assert button.text.strip()
        assert button.url or len((button.callback or "").encode()) <= 64
    plain = plain_text(stories[:1], t=t, now=NOW, zone=BAGHDAD)
    assert utf16_len(plain) <= 4096
    if locale != "en":  # the interface around the feed's text is the reader's language
        english = story_message(
            stories[0], t=EN, now=NOW, zone=BAGHDAD, section_names=NAMES, comment_button=True
        )
        assert [b.text for row in rendered[0].buttons for b in row] != [
            b.text for row in english.buttons for b in row
        ]


def test_stories_are_shown_breaking_first_then_newest_then_by_id() -> None:
    same = NOW - timedelta(minutes=5)
    stories = [
        story(id=1, sort_at=same),
        story(id=3, sort_at=same),
        story(id=2, sort_at=NOW),
        story(id=4, sort_at=NOW - timedelta(hours=1), breaking=True),
    ]
    assert [s.id for s in shown_order(stories)] == [4, 2, 3, 1]
