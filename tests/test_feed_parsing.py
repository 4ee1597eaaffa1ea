"""Tests for news.feed_parsing: feed bytes → ParsedFeed of StoryDraft records, rule by rule."""

from __future__ import annotations

import functools
import hashlib
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from news.feed_parsing import (
    NotAFeedError,
    ParsedFeed,
    normalise_language,
    normalise_link,
    parse_feed,
)
from news.story_draft import StoryDraft

DATA = Path(__file__).resolve().parent / "data"
NOW = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)
ENGLISH_URL = "https://www.rudaw.net/english/rss"


def _parse(name: str, *, url: str = ENGLISH_URL, content_type: str | None = None) -> ParsedFeed:
    return parse_feed((DATA / name).read_bytes(), url=url, content_type=content_type, now=NOW)


def _rss(items: str, channel: str = "<title>Inline</title>") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
        f"<channel>{channel}{items}</channel></rss>"
    ).encode()


def _only(feed: ParsedFeed) -> StoryDraft:
    assert len(feed.entries) == 1
    return feed.entries[0]


def _by_title(feed: ParsedFeed) -> dict[str, StoryDraft]:
    return {draft.title: draft for draft in feed.entries}


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


# --- a Rudaw-style English feed, end to end -----------------------------------------------


def test_rudaw_english_feed_metadata() -> None:
    feed = _parse("rudaw_english.rss")
    assert (feed.title, feed.link, feed.language) == (
        "Rudaw English",
        "https://www.rudaw.net/english",
        "en",
    )
    assert (feed.bozo, feed.bozo_reason) == (False, None)


def test_rudaw_english_first_story_exactly() -> None:
    first = _parse("rudaw_english.rss").entries[0]
    assert first == StoryDraft(
        identity="guid:rudaw-en-180220261",
        title="Erbil and Baghdad agree on mechanism to resume Kurdistan oil exports",
        link="https://www.rudaw.net/english/kurdistan/180220261?ref=home",
        guid="rudaw-en-180220261",
        summary=(
            "ERBIL, Kurdistan Region - The Kurdistan Regional Government (KRG) and the federal "
            "government in Baghdad reached an agreement on Wednesday. The deal covers oil "
            "exports through the Kirkuk-Ceyhan pipeline."
        ),
        image_url="https://www.rudaw.net/ScaledImages/600/2026/2/18/oil-pipeline.jpg",
        author="Rudaw",
        categories=("Kurdistan", "Economy"),
        language="en",
        published_at=datetime(2026, 2, 18, 6, 30, tzinfo=UTC),
    )


def test_rudaw_english_links_lose_tracking_and_fragments_and_become_absolute() -> None:
    links = [draft.link for draft in _parse("rudaw_english.rss").entries]
    assert links == [
        "https://www.rudaw.net/english/kurdistan/180220261?ref=home",
        "https://www.rudaw.net/english/world/18022026?page=2",
        "https://www.rudaw.net/english/middleeast/iraq/17022026",
        "https://www.rudaw.net/english/culture/16022026",
    ]


def test_rudaw_english_images_follow_the_preference_order() -> None:
    images = [draft.image_url for draft in _parse("rudaw_english.rss").entries]
    assert images == [
        # media:content with medium="image"
        "https://www.rudaw.net/ScaledImages/600/2026/2/18/oil-pipeline.jpg",
        # media:content is a video, so media:thumbnail wins
        "https://www.rudaw.net/ScaledImages/300/2026/2/18/unsc.jpg",
        # a relative <img src> in the description, made absolute
        "https://www.rudaw.net/ScaledImages/600/2026/2/17/parliament.jpg",
        # an enclosure typed image/png
        "https://www.rudaw.net/ScaledImages/600/2026/2/16/berlinale.png",
    ]


def test_rudaw_english_authors_categories_and_dates() -> None:
    entries = _parse("rudaw_english.rss").entries
    assert [draft.author for draft in entries] == ["Rudaw", None, "Rudaw Staff", None]
    assert [draft.categories for draft in entries] == [
        ("Kurdistan", "Economy"),
        ("World",),
        ("Middle East",),
        ("Culture",),
    ]
    assert [draft.published_at for draft in entries] == [
        datetime(2026, 2, 18, 6, 30, tzinfo=UTC),
        datetime(2026, 2, 18, 8, 0, tzinfo=UTC),
        datetime(2026, 2, 17, 18, 45, tzinfo=UTC),
        datetime(2026, 2, 16, 18, 0, tzinfo=UTC),
    ]


def test_rudaw_english_summary_entities_and_tags_become_text() -> None:
    entries = _parse("rudaw_english.rss").entries
    assert entries[1].summary == (
        "The council discussed the ceasefire in northeast Syria & humanitarian access."
    )
    assert entries[2].summary == "Lawmakers failed to reach a quorum."


# --- right-to-left editions and encodings ----------------------------------------------------


def test_rudaw_sorani_feed() -> None:
    feed = _parse("rudaw_sorani.rss", url="https://www.rudaw.net/sorani/rss")
    assert (feed.title, feed.link, feed.language) == (
        "ڕووداو",
        "https://www.rudaw.net/sorani",
        "ckb",
    )
    first, second, third = feed.entries
    assert first.title == "سەرۆکی حکومەتی هەرێمی کوردستان سەردانی بەغدا دەکات"
    assert first.summary == "سەرۆکی حکومەتی هەرێمی کوردستان ئەمڕۆ چوارشەممە سەردانی بەغدا دەکات."
    assert first.categories == ("کوردستان",)
    assert first.image_url == "https://www.rudaw.net/ScaledImages/600/2026/2/18/erbil-baghdad.jpg"
    assert first.published_at == datetime(2026, 2, 18, 8, 0, tzinfo=UTC)
    # ZWNJ kept, the trailing right-to-left override removed.
    assert second.title == "نرخی نەوت لە بازاڕە\u200cکانی جیهان بەرز بووەوە"
    # The right-to-left mark that opens the summary is kept.
    assert second.summary == "\u200fنرخی بەرمیلێک نەوتی برێنت گەیشتە ٨٥ دۆلار."
    assert second.categories == ("جیهان", "ئابووری")
    assert [first.language, second.language, third.language] == ["ckb", "ckb", "ku"]


def test_rudaw_arabic_windows_1256_declared_in_the_prolog() -> None:
    raw = (DATA / "rudaw_arabic_windows1256.rss").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the sample really is single-byte Arabic
    feed = _parse("rudaw_arabic_windows1256.rss", url="https://www.rudaw.net/arabic/rss")
    assert (feed.title, feed.language, feed.bozo) == ("روداو عربية", "ar", False)
    assert [draft.title for draft in feed.entries] == [
        "رئيس حكومة إقليم كوردستان يستقبل وفداً أوروبياً",
        "ارتفاع أسعار النفط في الأسواق العالمية",
    ]
    assert feed.entries[0].summary == "بحث الجانبان العلاقات الثنائية والأوضاع في المنطقة."
    assert feed.entries[1].categories == ("اقتصاد",)


def test_charset_declared_only_in_the_http_header_is_honoured() -> None:
    raw = (DATA / "rudaw_arabic_windows1256.rss").read_bytes()
    without_prolog = raw.split(b"?>", 1)[1]
    feed = parse_feed(
        without_prolog,
        url="https://www.rudaw.net/arabic/rss",
        content_type="application/rss+xml; charset=windows-1256",
        now=NOW,
    )
    assert feed.title == "روداو عربية"
    assert feed.entries[1].title == "ارتفاع أسعار النفط في الأسواق العالمية"


def test_undeclared_utf8_without_content_type_is_read_as_utf8() -> None:
    body = '<rss version="2.0"><channel><title>کوردستان</title></channel></rss>'.encode()
    feed = parse_feed(body, url=ENGLISH_URL, now=NOW)
    assert (feed.title, feed.bozo) == ("کوردستان", False)


def test_feed_served_as_text_html_is_not_bozo() -> None:
    feed = _parse("rudaw_english.rss", content_type="text/html; charset=utf-8")
    assert (feed.bozo, feed.bozo_reason, len(feed.entries)) == (False, None, 4)


# --- a stray byte in a UTF-8 feed (news.feed_encoding) --------------------------------------

# Each edition's feed: its title and three (title, description, category) items. In the
# middle item, the edition's DAMAGED character is where a stray byte can go.
EDITION_FEEDS: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "ckb": (
        "ڕووداو",
        [
            (
                "سەرۆکی حکومەتی هەرێمی کوردستان سەردانی بەغدا دەکات",
                "ئەمڕۆ سەردانی بەغدا دەکات.",
                "کوردستان",
            ),
            ("فڕۆکەخانەی هەولێر دەکرێتەوە", "گەشتەکان لە هەولێرەوە دەست پێدەکەنەوە.", "هەولێر"),
            (
                "نرخی نەوت لە بازاڕەکانی جیهان بەرز بووەوە",
                "بەرمیلێک نەوت گەیشتە ٨٥ دۆلار.",
                "جیهان",
            ),
        ],
    ),
    "ar": (
        "روداو عربية",
        [
            (
                "رئيس حكومة إقليم كوردستان يزور بغداد",
                "بحث الجانبان العلاقات الثنائية.",
                "كوردستان",
            ),
            ("افتتاح مطار أربيل من جديد", "استؤنفت الرحلات من أربيل صباح اليوم.", "اقتصاد"),
            ("ارتفاع أسعار النفط في الأسواق العالمية", "بلغ سعر البرميل ٨٥ دولاراً.", "العالم"),
        ],
    ),
    "kmr": (
        "Rûdaw Kurmancî",
        [
            (
                "Serokê Herêma Kurdistanê serdana Bexdayê dike",
                "Şanda hikûmetê îro çû.",
                "Kurdistan",
            ),
            ("Balafirgeha Hewlêrê ji nû ve vedibe", "Geşt ji Hewlêrê dest pê dikin.", "Herêm"),
            ("Bihayê neftê li cîhanê bilind bû", "Bihayê bermîlekê gihîşt 85 dolarî.", "Cîhan"),
        ],
    ),
    "tr": (
        "Rudaw Türkçe",
        [
            ("Kürdistan Bölgesi Başbakanı Bağdat'ı ziyaret ediyor", "Görüşme bugün.", "Kürdistan"),
            (
                "Erbil Havalimanı uçuşlara yeniden açılıyor",
                "Uçuşlar bu sabah başladı.",
                "Taşımacılık",
            ),
            ("Petrol fiyatları dünya piyasalarında yükseldi", "Varil fiyatı 85 dolar.", "Dünya"),
        ],
    ),
    "en": (
        "Rudaw English",
        [
            ("“Historic” day for the Kurdistan Region", "Talks — finally — begin.", "Kurdistan"),
            ("Erbil’s airport reopens", "Flights resume from Erbil’s airport.", "Erbil’s economy"),
            ("Oil prices rise – again", "Brent reached $85 a barrel…", "World"),
        ],
    ),
}
# The damaged character and the bytes a broken feed has in its place: the first byte of a
# two-byte character (a text cut mid-character) or the character in the edition's old
# single-byte code page (text pasted from a legacy system).
DAMAGED = {
    "ckb": ("ێ", b"\xdb"),
    "ar": ("ا", b"\xc7"),  # windows-1256
    "kmr": ("ê", b"\xea"),  # ISO-8859-1
    "tr": ("ş", b"\xfe"),  # windows-1254
    "en": ("’", b"\x92"),  # windows-1252
}
_FIELDS = ("title", "description", "category")
_MARK = "\ue000"


def _feed_with_stray_byte(
    edition: str, field: str, prolog: bytes = b'<?xml version="1.0" encoding="utf-8"?>'
) -> tuple[bytes, tuple[str, list[tuple[str, str, tuple[str, ...]]]]]:
    """The edition's feed with one stray byte in the middle item's ``field``, and what a
    reader should see: every character intact but the damaged one, which is U+FFFD."""
    feed_title, items = EDITION_FEEDS[edition]
    character, stray = DAMAGED[edition]
    parts = ['<rss version="2.0"><channel>', f"<title>{feed_title}</title>"]
    expected = []
    for n, (title, description, category) in enumerate(items):
        texts = [title, description, category]
        if n == 1:
            index = _FIELDS.index(field)
            assert character in texts[index]
            texts[index] = texts[index].replace(character, _MARK, 1)
        parts.append(
            f"<item><title>{texts[0]}</title><link>https://www.rudaw.net/{edition}/{n}</link>"
            f"<description>{texts[1]}</description><category>{texts[2]}</category></item>"
        )
        shown = [text.replace(_MARK, "\ufffd") for text in texts]
        expected.append((shown[0], shown[1], (shown[2],)))
    parts.append("</channel></rss>")
    body = prolog + "".join(parts).encode().replace(_MARK.encode(), stray)
    return body, (feed_title, expected)


def _shown(feed: ParsedFeed) -> tuple[str | None, list[tuple[str, str, tuple[str, ...]]]]:
    return feed.title, [(d.title, d.summary, d.categories) for d in feed.entries]


@pytest.mark.parametrize("field", _FIELDS)
@pytest.mark.parametrize("edition", list(EDITION_FEEDS))
def test_a_stray_byte_costs_one_character_not_the_whole_feed(edition: str, field: str) -> None:
    body, expected = _feed_with_stray_byte(edition, field)
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")  # the premise: not valid UTF-8
    feed = parse_feed(body, url=ENGLISH_URL, content_type="application/rss+xml", now=NOW)
    assert _shown(feed) == expected
    assert (feed.replaced_bytes, feed.bozo, feed.bozo_reason) == (1, False, None)


@pytest.mark.parametrize(
    ("prolog", "content_type"),
    [
        (b'<?xml version="1.0" encoding="UTF-8"?>', None),
        (b"", "application/rss+xml; charset=utf-8"),
        (b'<?xml version="1.0" encoding="utf-8"?>', "text/xml"),
        (b"\xef\xbb\xbf", None),
        (b"", None),
        (b"", "text/xml"),
        (b'<?xml version="1.0" encoding="windows-1252"?>', "text/xml; charset=utf-8"),
    ],
    ids=[
        "prolog",
        "header",
        "text-xml-and-prolog",
        "bom",
        "undeclared",
        "undeclared-text-xml",
        "header-over-prolog",
    ],
)
def test_utf8_declared_anywhere_or_undeclared_is_mended(
    prolog: bytes, content_type: str | None
) -> None:
    body, expected = _feed_with_stray_byte("ckb", "title", prolog)
    feed = parse_feed(body, url=ENGLISH_URL, content_type=content_type, now=NOW)
    assert _shown(feed) == expected
    assert feed.replaced_bytes == 1


@pytest.mark.parametrize(
    ("prolog", "content_type"),
    [
        (b'<?xml version="1.0" encoding="utf-8"?>', None),
        (b"", "application/rss+xml; charset=utf-8"),
        (b"", None),
    ],
    ids=["prolog", "header", "undeclared"],
)
def test_a_feed_labelled_utf8_but_in_windows_1252_throughout_reads_as_before(
    prolog: bytes, content_type: str | None
) -> None:
    title = "Erbil’s “new” café — Größe, façade, señor"
    body = prolog + (
        f'<rss version="2.0"><channel><title>Old CMS</title><item><title>{title}</title>'
        "<link>https://outlet.example/1</link><description>Déjà vu · 25 °C</description>"
        "</item></channel></rss>"
    ).encode("cp1252")
    feed = parse_feed(body, url=ENGLISH_URL, content_type=content_type, now=NOW)
    assert _shown(feed) == ("Old CMS", [(title, "Déjà vu · 25 °C", ())])
    assert feed.replaced_bytes == 0


# --- Atom and xml:base --------------------------------------------------------------------


def test_atom_feed_metadata_resolves_xml_base_and_strips_html_title() -> None:
    feed = _parse("rudaw_atom_xml_base.atom", url="https://feeds.example/atom")
    assert (feed.title, feed.link, feed.language) == (
        "Rudaw & Partners Atom",
        "https://www.rudaw.net/english/",
        "en",
    )


def test_atom_entry_with_html_title_text_summary_and_relative_image() -> None:
    first = _parse("rudaw_atom_xml_base.atom", url="https://feeds.example/atom").entries[0]
    assert first == StoryDraft(
        identity="guid:tag:rudaw.net,2026:en/18022026-peshmerga",
        title="Peshmerga reform bill passes first reading",
        link="https://www.rudaw.net/english/kurdistan/18022026-peshmerga",
        guid="tag:rudaw.net,2026:en/18022026-peshmerga",
        # type="text": markup characters are literal text, not tags
        summary="Use <b> & co: the bill's text is plain.",
        image_url="https://www.rudaw.net/ScaledImages/600/peshmerga.jpg",
        author="Rudaw",
        categories=("Kurdistan", "politics"),
        language="en",
        published_at=datetime(2026, 2, 18, 5, 0, tzinfo=UTC),
    )


def test_atom_entry_base_content_only_and_updated_date() -> None:
    second = _parse("rudaw_atom_xml_base.atom", url="https://feeds.example/atom").entries[1]
    assert second.link == "https://www.rudaw.net/english/world/18022026-summit"
    assert second.summary == "Only content, no summary. Second paragraph."
    assert second.published_at == datetime(2026, 2, 18, 9, 0, tzinfo=UTC)


def test_atom_entry_language_overrides_the_feed_language() -> None:
    third = _parse("rudaw_atom_xml_base.atom").entries[2]
    assert (third.title, third.language) == ("هەواڵێکی کوردی لە فیدی ئینگلیزیدا", "ckb")


# --- hostile titles and oversize fields -----------------------------------------------------


@functools.cache
def _hostile() -> dict[str, StoryDraft]:
    return _by_title(_parse("hostile_titles.rss"))


def test_hostile_feed_metadata() -> None:
    feed = _parse("hostile_titles.rss")
    # HTML title stripped; a javascript: link and an unknown language are dropped.
    assert (feed.title, feed.link, feed.language) == ("Hostile & broken feed", None, None)


def test_plain_text_titles_keep_markup_characters_literally() -> None:
    hostile = _hostile()
    assert '<script>alert("x")</script> Breaking' in hostile
    assert "Use <b> & co" in hostile
    assert 'He said "no" & left' in hostile


def test_html_titles_are_stripped() -> None:
    hostile = _hostile()
    assert hostile["Bold move"].link == "https://example.org/hostile/4"


def test_summaries_drop_scripts_and_unwrap_double_encoding() -> None:
    hostile = _hostile()
    assert hostile['<script>alert("x")</script> Breaking'].summary == "Safe & sound"
    assert hostile["Use <b> & co"].summary == "Hello"


def test_oversize_fields_are_capped() -> None:
    hostile = _hostile()
    long_title = " ".join(["Kurdistan"] * 30) + "…"
    draft = hostile[long_title]
    assert len(draft.title) == 300
    assert draft.summary == " ".join(f"word{i:04d}" for i in range(111)) + "…"
    assert len(draft.summary) == 999
    assert draft.author == "A" * 199 + "…"
    assert draft.categories == tuple(f"Topic {i:02d}" for i in range(20))
    assert hostile["Bold move"].categories == ("C" * 99 + "…",)


def test_whitespace_is_folded_and_non_http_links_dropped() -> None:
    hostile = _hostile()
    draft = hostile["Multi line title"]
    assert (draft.link, draft.summary) == (None, "No usable link")
    assert draft.identity == "hash:" + _sha1("Multi line title\n")


def test_far_future_dates_are_clamped_to_now() -> None:
    hostile = _hostile()
    assert hostile["Multi line title"].published_at == NOW


def test_dates_slightly_ahead_are_kept() -> None:
    hostile = _hostile()
    assert hostile["Slightly ahead of the clock"].published_at == NOW + timedelta(minutes=5)


def test_placeholder_dates_before_1990_are_dropped() -> None:
    hostile = _hostile()
    draft = hostile["Epoch placeholder date"]
    assert draft.published_at is None
    # A whitespace-only guid is no guid; a javascript: link is no link.
    assert (draft.guid, draft.link) == (None, None)
    assert draft.identity == "hash:" + _sha1("Epoch placeholder date\n")


def test_untitled_unlinked_item_with_text_is_kept() -> None:
    hostile = _hostile()
    text = "Untitled, unlinked post: the text is the story."
    draft = hostile[text]
    assert (draft.summary, draft.link, draft.identity) == (
        text,
        None,
        "hash:" + _sha1(text + "\n"),
    )


def test_items_without_title_link_or_text_are_skipped() -> None:
    # The last item has only a guid: nothing a reader could see.
    titles = [draft.title for draft in _parse("hostile_titles.rss").entries]
    assert len(titles) == 9
    assert all(draft.guid != "h10" for draft in _parse("hostile_titles.rss").entries)


# --- identity -------------------------------------------------------------------------------


def test_guid_shared_by_different_links_falls_back_to_links() -> None:
    entries = _parse("duplicate_guids.rss").entries
    assert [(draft.identity, draft.guid) for draft in entries] == [
        ("link:https://example.org/a", None),
        ("link:https://example.org/b", None),
        ("guid:repeat", "repeat"),
        ("guid:unique", "unique"),
    ]


def test_repeated_item_is_kept_once_first_copy_winning() -> None:
    entries = _parse("duplicate_guids.rss").entries
    assert [draft.title for draft in entries if draft.guid == "repeat"] == ["Repeated item"]


def test_feed_without_guids_uses_links_then_hashes() -> None:
    entries = _parse("no_guids.rss").entries
    assert [draft.identity for draft in entries] == [
        "link:https://example.org/news/1?id=7",
        # The same page once tracking parameters are gone, but its fragment tells it apart
        # from the first item (news.story_identity), so it is another story.
        "link:https://example.org/news/1?id=7#top",
        "hash:" + _sha1("Title only, no link\n"),
        "link:https://example.org/news/3",
        "link:https://example.org/news/4",
    ]
    assert entries[0].title == "Linked story"


def test_untitled_item_takes_its_title_from_the_summary_else_the_link() -> None:
    entries = _parse("no_guids.rss").entries
    assert entries[3].title == (
        "Posts without a title take their title from the start of the summary, which here "
        "runs on for quite…"
    )
    assert len(entries[3].title) <= 100
    assert entries[4].title == "https://example.org/news/4"


def test_relative_permalink_guid_is_resolved_by_feedparser() -> None:
    # A guid without isPermaLink="false" is a permalink: feedparser resolves it
    # against the feed URL and uses it as the link when there is no <link>.
    body = _rss("<item><title>t</title><guid>/english/world/1</guid></item>")
    draft = _only(parse_feed(body, url=ENGLISH_URL, now=NOW))
    assert (draft.identity, draft.link) == (
        "guid:https://www.rudaw.net/english/world/1",
        "https://www.rudaw.net/english/world/1",
    )


def test_permalink_guids_resolve_against_the_feed_url_as_feedparser_does() -> None:
    # feedparser is told the document's URL only when a guid needs it (it costs a third of
    # its time on a big feed); the identities must not depend on that shortcut.
    numeric = _rss(
        "<item><title>a</title><link>https://www.rudaw.net/english/a</link>"
        "<guid>12345</guid></item>"
    )
    assert _only(parse_feed(numeric, url=ENGLISH_URL, now=NOW)).identity == (
        "guid:https://www.rudaw.net/english/12345"
    )
    opaque = _rss(
        "<item><title>a</title><link>https://www.rudaw.net/english/a</link>"
        '<guid isPermaLink="false">12345</guid></item>'
    )
    assert _only(parse_feed(opaque, url=ENGLISH_URL, now=NOW)).identity == "guid:12345"


def test_max_items_keeps_the_newest_in_document_order() -> None:
    def item(name: str, date: str | None) -> str:
        published = f"<pubDate>{date}</pubDate>" if date else ""
        return f"<item><title>{name}</title><link>https://x.test/{name}</link>{published}</item>"

    body = _rss(
        item("old", "Mon, 16 Feb 2026 10:00:00 GMT")
        + item("undated", None)  # counts as published now: among the newest
        + item("newest", "Wed, 18 Feb 2026 10:00:00 GMT")
        + item("older", "Sun, 15 Feb 2026 10:00:00 GMT")
        + item("newer", "Tue, 17 Feb 2026 10:00:00 GMT")
    )
    feed = parse_feed(body, url=ENGLISH_URL, now=NOW, max_items=3)
    assert [draft.title for draft in feed.entries] == ["undated", "newest", "newer"]
    assert feed.item_count == 5
    everything = parse_feed(body, url=ENGLISH_URL, now=NOW)
    assert (len(everything.entries), everything.item_count) == (5, 5)


# --- images, inline ----------------------------------------------------------------------


def test_image_media_content_beats_thumbnail_and_inline_img() -> None:
    body = _rss(
        "<item><title>t</title><link>https://x.test/1</link>"
        '<description>&lt;img src="https://x.test/inline.jpg"&gt;</description>'
        '<media:thumbnail url="https://x.test/thumb.jpg"/>'
        '<media:content url="https://x.test/big.webp"/>'
        "</item>"
    )
    assert _only(parse_feed(body, url=ENGLISH_URL, now=NOW)).image_url == "https://x.test/big.webp"


def test_untyped_media_content_that_is_not_an_image_is_skipped() -> None:
    body = _rss(
        "<item><title>t</title><link>https://x.test/1</link>"
        '<media:content url="https://x.test/clip.mp4"/>'
        '<enclosure url="https://x.test/photo.JPG"/>'
        "</item>"
    )
    assert (
        _only(parse_feed(body, url=ENGLISH_URL, now=NOW)).image_url == "https://x.test/photo.JPG"
    )


def test_inline_tracking_pixels_and_non_http_images_are_skipped() -> None:
    body = _rss(
        "<item><title>t</title><link>https://x.test/1</link><description><![CDATA["
        '<img src="https://x.test/pixel.gif" width="1" height="1">'
        '<img src="http://feeds.feedburner.com/~ff/Rudaw?d=abc">'
        '<img src="data:image/gif;base64,R0lGOD">'
        "<img src='/real.jpg?w=600&amp;h=400'>"
        "]]></description></item>"
    )
    draft = _only(parse_feed(body, url=ENGLISH_URL, now=NOW))
    assert draft.image_url == "https://www.rudaw.net/real.jpg?w=600&h=400"


def test_no_image_gives_none() -> None:
    body = _rss("<item><title>t</title><link>https://x.test/1</link></item>")
    assert _only(parse_feed(body, url=ENGLISH_URL, now=NOW)).image_url is None


# --- not a feed, bozo ----------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   \n\t", (DATA / "whitespace_only.rss").read_bytes()])
def test_empty_body_is_not_a_feed(body: bytes) -> None:
    with pytest.raises(NotAFeedError, match="empty document"):
        parse_feed(body, url=ENGLISH_URL, now=NOW)


def test_html_login_page_is_not_a_feed() -> None:
    with pytest.raises(NotAFeedError, match="HTML page") as caught:
        _parse("login_page.html", content_type="text/html; charset=utf-8")
    assert caught.value.reason == "HTML page, not a feed"
    assert isinstance(caught.value, ValueError)


def test_document_moved_page_is_not_a_feed() -> None:
    body = b"<head><title>Document Moved</title></head><body><h1>Object Moved</h1></body>"
    with pytest.raises(NotAFeedError, match="HTML page"):
        parse_feed(body, url=ENGLISH_URL, now=NOW)


def test_json_that_is_no_json_feed_is_not_a_feed() -> None:
    # JSON Feeds themselves are read (tests/test_json_feed.py); other JSON is some API's answer.
    with pytest.raises(NotAFeedError, match="JSON document, not a JSON Feed"):
        parse_feed(b'{"status": "ok", "items": []}', url="", now=NOW)


@pytest.mark.parametrize(
    "body", [b"<!-- only a comment -->", b"plain text, not markup", b"\x00\x01\x02garbage"]
)
def test_documents_without_a_feed_are_not_feeds(body: bytes) -> None:
    with pytest.raises(NotAFeedError, match="no RSS/Atom feed found"):
        parse_feed(body, url=ENGLISH_URL, now=NOW)


def test_runs_of_comments_are_rejected_quickly() -> None:
    # The HTML sniff once backtracked exponentially on consecutive comments.
    started = time.perf_counter()
    with pytest.raises(NotAFeedError):
        parse_feed(b"<!--a-->" * 5000 + b"x", url=ENGLISH_URL, now=NOW)
    assert time.perf_counter() - started < 2


def test_body_is_never_opened_as_a_file_path(tmp_path: Path) -> None:
    # feedparser.parse(bytes) would open() a body that names an existing file.
    secret = tmp_path / "feed.xml"
    secret.write_bytes((DATA / "rudaw_english.rss").read_bytes())
    with pytest.raises(NotAFeedError):
        parse_feed(str(secret).encode(), url=ENGLISH_URL, now=NOW)


def test_valid_feed_with_no_items_is_fine() -> None:
    feed = parse_feed(_rss("", channel="<title>Quiet</title>"), url=ENGLISH_URL, now=NOW)
    assert (feed.title, feed.entries, feed.bozo) == ("Quiet", (), False)


def test_malformed_feed_with_entries_is_used_and_marked_bozo() -> None:
    body = _rss(
        "<item><title>Fine</title><link>https://x.test/1</link></item>"
        "<item><title>Bad &#1; char</title><link>https://x.test/2</link></item>"
    )
    feed = parse_feed(body, url=ENGLISH_URL, now=NOW)
    assert feed.bozo is True
    assert feed.bozo_reason is not None
    assert feed.bozo_reason.startswith("SAXParseException: ")
    assert len(feed.bozo_reason) <= 200
    assert [draft.link for draft in feed.entries] == ["https://x.test/1", "https://x.test/2"]


def test_truncated_feed_keeps_the_complete_items() -> None:
    raw = (DATA / "rudaw_english.rss").read_bytes()
    cut = raw[: raw.index(b"<title>Kurdish film")]
    feed = parse_feed(cut, url=ENGLISH_URL, now=NOW)
    assert feed.bozo is True
    assert [draft.guid for draft in feed.entries][:3] == [
        "rudaw-en-180220261",
        "rudaw-en-18022026",
        "rudaw-en-17022026",
    ]


# --- small pure helpers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTPS://WWW.Rudaw.NET/English/News", "https://www.rudaw.net/English/News"),
        ("https://rudaw.net", "https://rudaw.net/"),
        (
            "https://rudaw.net/a?utm_source=x&b=1&fbclid=2&gclid=3&Utm_Medium=4",
            "https://rudaw.net/a?b=1",
        ),
        ("https://rudaw.net/a?b=%20x&c=d+e#frag", "https://rudaw.net/a?b=%20x&c=d+e"),
        ("https://User:Pw@Rudaw.net:8080/a", "https://User:Pw@rudaw.net:8080/a"),
        ("  /english/a b  ", "https://www.rudaw.net/english/a%20b"),
        ("//cdn.rudaw.net/x.jpg", "https://cdn.rudaw.net/x.jpg"),
        ("javascript:alert(1)", None),
        ("mailto:news@rudaw.net", None),
        ("ftp://rudaw.net/file", None),
        ("http://[::1", None),
        ("https://", None),
        ("", None),
    ],
)
def test_normalise_link(raw: str, expected: str | None) -> None:
    assert normalise_link(raw, ENGLISH_URL) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("en", "en"),
        ("en-US", "en"),
        ("en_us", "en"),
        (" AR-iq ", "ar"),
        ("ckb", "ckb"),
        ("ckb-IQ", "ckb"),
        ("ku-Arab", "ckb"),
        ("ku-Latn-TR", "ku"),
        ("kmr", "kmr"),
        ("English", None),
        ("", None),
        ("e1", None),
    ],
)
def test_normalise_language(raw: str, expected: str | None) -> None:
    assert normalise_language(raw) == expected


def test_now_defaults_to_the_current_time_and_accepts_other_zones() -> None:
    body = _rss(
        "<item><title>t</title><link>https://x.test/1</link>"
        "<pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>"
    )
    erbil = timezone(timedelta(hours=3))
    clamped = _only(parse_feed(body, url=ENGLISH_URL, now=NOW.astimezone(erbil))).published_at
    assert clamped == NOW
    assert clamped is not None and clamped.tzinfo == UTC
    before = datetime.now(UTC)
    defaulted = _only(parse_feed(body, url=ENGLISH_URL)).published_at
    assert defaulted is not None and before <= defaulted <= datetime.now(UTC)
