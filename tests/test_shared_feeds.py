"""Every document in the shared feed corpus (../shared/feeds) through parse_feed, and the
whole corpus through ingestion.

The corpus is real-world feeds and feedparser's own edge cases, kept outside
the repository. Each file must either raise NotAFeedError or give drafts that
satisfy the invariants storage relies on; MANIFEST.tsv and the ``fp_*`` files'
``Expect:`` comments serve as extra oracles. Ingested as bare-URL feeds, its
hundreds of categories must not become sections. Without the folder, the tests skip.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func
from sqlmodel import select

from jobs.clients.feeds import create_feed_session
from jobs.ingestion import FeedPoller, PollSettings
from news.feed_parsing import NotAFeedError, ParsedFeed, parse_feed
from news.sections import category_sections
from news.story_draft import StoryDraft
from storage import feeds as feed_store
from storage import stories as story_store
from storage.engine import SessionFactory, writing
from storage.models import Section, Story, StorySection
from tests.auxil.feed_server import FeedServer
from tests.auxil.shared_feeds import ABSENT_REASON, SHARED_FEEDS

NOW = datetime(2026, 3, 1, tzinfo=UTC)
# Files MANIFEST.tsv counts entries for that hold nothing a reader could see.
EMPTY_ENTRIES = {
    "fp_rss_incomplete_cdata.xml": "its only <item> is cut off inside '<![CD'; the entry is {}",
}
# MANIFEST.tsv's bozo and entries columns are feedparser's; it reads no JSON Feed, newsbot does
# (tests/test_json_feed.py checks this file field by field).
NOT_FEEDPARSERS = {"humanwhocodes.json": "a JSON Feed 1.0 of 10 items"}
# Undeclared-encoding files decode differently when feedparser finds chardet
# (the README says so), which changes the MANIFEST's bozo column.
CHARDET_INSTALLED = importlib.util.find_spec("chardet") is not None
_LANGUAGE_RE = re.compile(r"[a-z]{2,3}")
_REMOVED_CHARS_RE = re.compile("[\x00-\x1f\x7f-\x9f\ufeff\u202a-\u202e\u2066-\u2069]")


def _corpus_files(pattern: str = "*") -> list[object]:
    """Return one pytest param per corpus file matching ``pattern``, or one skipped param."""
    if not SHARED_FEEDS.is_dir():
        skip = pytest.mark.skip(reason=ABSENT_REASON)
        return [pytest.param(None, id="corpus-absent", marks=skip)]
    files = sorted(path for path in SHARED_FEEDS.glob(pattern) if path.is_file())
    return [pytest.param(path, id=path.name) for path in files]


def _manifest() -> dict[str, dict[str, str]]:
    with (SHARED_FEEDS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        return {row["file"]: row for row in csv.DictReader(handle, delimiter="\t")}


def _parse(path: Path) -> ParsedFeed:
    return parse_feed(path.read_bytes(), url=f"https://feeds.example/{path.name}", now=NOW)


def _outcome(path: Path) -> ParsedFeed | NotAFeedError:
    """Return the parsed feed, or the NotAFeedError it raised (both are valid outcomes)."""
    try:
        return _parse(path)
    except NotAFeedError as error:
        return error


def _shared(name: str) -> Path:
    path = SHARED_FEEDS / name
    if not path.is_file():
        pytest.skip(ABSENT_REASON)
    return path


def _expectation(path: Path) -> str | None:
    """Return the ``Expect:`` line of a feedparser test file's leading comment."""
    head = path.read_bytes()[:2_000].decode("utf-8", errors="replace")
    match = re.search(r"^\s*Expect:\s*(.+?)\s*$", head, re.MULTILINE)
    return match.group(1) if match else None


# --- every file -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", _corpus_files())
def test_document_is_a_valid_feed_or_not_a_feed(path: Path) -> None:
    feed = _outcome(path)
    if isinstance(feed, NotAFeedError):
        assert feed.reason
        return
    _assert_feed_invariants(feed)
    identities = [draft.identity for draft in feed.entries]
    assert len(identities) == len(set(identities)), "identities must be unique within a feed"
    keys = [draft.link for draft in feed.entries if draft.link and draft.link_is_key]
    assert len(keys) == len(set(keys)), "link keys must be unique within a feed"
    pages = [draft.link.partition("#")[0] for draft in feed.entries if draft.link]
    for draft in feed.entries:
        _assert_draft_invariants(draft)
        if draft.link and "#" in draft.link:
            # A fragment is kept only when it tells items on one page apart.
            assert pages.count(draft.link.partition("#")[0]) > 1, draft.link


@pytest.mark.parametrize("path", _corpus_files())
def test_manifest_entries_and_bozo_agree(path: Path) -> None:
    row = _manifest().get(path.name)
    if row is None:
        pytest.skip(f"{path.name} is not listed in MANIFEST.tsv")
    if path.name in NOT_FEEDPARSERS:
        pytest.skip(f"{path.name}: {NOT_FEEDPARSERS[path.name]}, which feedparser cannot read")
    expected_entries = int(row["entries"])
    feed = _outcome(path)
    if isinstance(feed, NotAFeedError):
        assert expected_entries == 0, f"MANIFEST lists {expected_entries} entries"
        return
    if expected_entries > 0 and path.name not in EMPTY_ENTRIES:
        assert feed.entries, f"MANIFEST lists {expected_entries} entries, parse_feed kept none"
    if not CHARDET_INSTALLED:
        assert feed.bozo == (row["bozo"] == "1"), feed.bozo_reason


@pytest.mark.parametrize("path", _corpus_files("fp_*"))
def test_feedparser_case_bozo_expectation(path: Path) -> None:
    expectation = _expectation(path)
    if expectation is None or "bozo" not in expectation:
        pytest.skip(f"{path.name} states no bozo expectation")
    expects_bozo = not expectation.startswith("not bozo")
    feed = _outcome(path)
    if isinstance(feed, NotAFeedError):
        assert expects_bozo, f"{path.name} expects: {expectation}"
        return
    assert feed.bozo == expects_bozo, f"{path.name} expects: {expectation}"


# --- oracles from specific files ------------------------------------------------------------


def test_cp1252_smart_quote_in_utf8_becomes_an_apostrophe() -> None:
    feed = _parse(_shared("fp_demoronize_cp1252.xml"))
    assert feed.entries[0].summary == "don\u2019t"


def test_invalid_bytes_after_a_utf8_bom_cost_only_themselves() -> None:
    # The BOM says UTF-8: "Ѩ" stays (windows-1252 made it "Ñ¨") and the Latin-1 "ñ" after
    # it, invalid in UTF-8, is the one character replaced.
    feed = _parse(_shared("fp_invalid_bytes_with_bom.xml"))
    assert feed.title == "Valid UTF8: \u0468Invalid UTF8: Espa\ufffda"
    assert (feed.replaced_bytes, feed.bozo) == (1, True)  # still bozo: "</rss" is cut off


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("cerclepsy_undeclared_iso-8859-1.rss", "nombre d'études"),
        ("uol_noticias_undeclared_latin1.rss", "simulações de 2º turno"),
        ("golem_iso-8859-1.rss", "ü"),
        ("jn_pt_iso-8859-1_noguid.rss", "ç"),
        ("ibash_windows-1251.rss", "ь"),
        ("oren_ru_windows-1251.rss", "ь"),
        ("kc0011_gb2312.rss", "的"),
        ("finanzen_net_charset_mismatch.rss", "Kursziel für"),
        ("eliotjones_declared_utf16.rss", "Let's say you love pain."),
        ("fp_windows1255_hebrew_undeclared.xml", None),
        ("davidbau_iso-8859-1.rdf", "water cooler\u2014a lean"),
        ("fp_high_bit_date_iso-8859-7.xml", None),
        ("windows-1252_euro_byte.xml", "Euro \u20ac"),
        ("fp_demoronize_cp1252.xml", "don\u2019t"),
    ],
)
def test_legacy_and_mislabelled_encodings_are_not_mended(name: str, text: str | None) -> None:
    # Mostly-invalid UTF-8 (a legacy encoding, declared or not) keeps feedparser's decoding.
    feed = _parse(_shared(name))
    assert feed.replaced_bytes == 0
    if text is not None:
        shown = [feed.title or ""] + [f"{d.title} {d.summary}" for d in feed.entries]
        assert any(text in line for line in shown)


def test_double_encoded_utf8_ellipsis() -> None:
    feed = _parse(_shared("fp_double_encoded_html.xml"))
    assert (feed.bozo, feed.entries[0].summary) == (True, "\u2026")


def test_undefined_entity_stays_literal_in_the_feed_title() -> None:
    feed = _parse(_shared("fp_entity_doesnotexist.xml"))
    assert feed.title == "testing &doesnotexist; entity"


def test_crazy_description_loses_all_script() -> None:
    summary = _parse(_shared("fp_item_description_crazy.xml")).entries[0].summary
    assert summary == (
        "Crazy HTML -- Can Your Regex Parse This? Did The Javascript Execute? "
        "I will execute here, too, if you mouse over me"
    )


def test_html_document_moved_page_is_not_a_feed() -> None:
    with pytest.raises(NotAFeedError, match="HTML page"):
        _parse(_shared("not_a_feed_document_moved.html"))


def test_json_feed_is_read_like_any_feed() -> None:
    feed = _parse(_shared("humanwhocodes.json"))
    assert (feed.title, feed.bozo, len(feed.entries)) == ("Human Who Codes", False, 10)


def test_al_monitor_repeated_items_are_kept_once() -> None:
    feed = _parse(_shared("almonitor_middle_east.rss"))
    assert len(feed.entries) == 11  # 20 items, 9 of them repeats of earlier guids


def test_relative_urls_resolve_against_the_feed_url() -> None:
    feed = _parse(_shared("neverwinter_relative_urls.rss"))
    assert feed.link == "https://feeds.example/en/games/neverwinter/news"
    assert all(
        draft.link and draft.link.startswith("https://feeds.example/") for draft in feed.entries
    )
    assert feed.language == "en"


def test_feedburner_links_prefer_the_original() -> None:
    feed = _parse(_shared("reuters_world_2017.rss"))
    assert all(
        draft.link and draft.link.startswith("http://www.reuters.com/") for draft in feed.entries
    )
    assert all(draft.image_url is None for draft in feed.entries)  # only share-button flares


def test_utm_parameters_are_stripped_from_links() -> None:
    feed = _parse(_shared("mercopress.rss"))
    assert all(draft.link and "utm_" not in draft.link for draft in feed.entries)


def test_urdu_right_to_left_feed() -> None:
    feed = _parse(_shared("bbc_urdu_rtl.rss"))
    assert feed.language == "ur"
    assert len(feed.entries) == 26
    assert all(draft.image_url for draft in feed.entries)


# --- ingestion ------------------------------------------------------------------------------


def _corpus_documents() -> dict[str, bytes]:
    """Every document of the corpus by file name (MANIFEST.tsv and README.md aside)."""
    paths = sorted(SHARED_FEEDS.glob("*"))
    return {p.name: p.read_bytes() for p in paths if p.suffix not in (".tsv", ".md")}


async def _ingest_corpus(
    sessions: SessionFactory, server: FeedServer, sections: dict[str, tuple[str, ...]]
) -> None:
    """Every corpus document served and polled once as a bare-URL feed of one edition."""
    documents = _corpus_documents()
    for name, body in documents.items():
        server.serve(f"/{name}", body, content_type="application/xml")
    async with writing(sessions) as session:
        feeds = await feed_store.register_feeds(
            session, [(server.url(f"/{name}"), None, "en") for name in documents], NOW
        )
    settings = PollSettings(
        interval=60.0,
        max_backoff=60.0,
        push_max_age=3600.0,
        fetch_timeout=10.0,
        max_bytes=20 * 1024 * 1024,
        category_sections=category_sections(sections),
    )
    http = create_feed_session("newsbot-tests/1.0", concurrency=4)
    try:
        poller = FeedPoller(sessions, http, settings, clock=lambda: NOW)
        for feed in feeds:
            await poller.poll(feed.id)
    finally:
        await http.close()


async def _count(sessions: SessionFactory, table: type[object]) -> int:
    async with sessions() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


async def test_the_corpus_categories_become_no_sections(
    sessions: SessionFactory, feed_server: FeedServer
) -> None:
    """Before sections came from the operator, this corpus made 698 sections (issue 12
    counted 321 from ten of its feeds), every one offered by /sections; now it makes none."""
    _shared("MANIFEST.tsv")
    await _ingest_corpus(sessions, feed_server, {})
    assert await _count(sessions, Story) > 1000
    assert await _count(sessions, Section) == 0
    assert await _count(sessions, StorySection) == 0
    async with sessions() as session:
        assert await story_store.list_sections(session) == []
        # The categories are still searchable, like this one the issue quotes.
        found = await story_store.search_stories(session, "internal open access from nl")
    assert found and all("internal-open-access-from-nl" in s.categories for s in found)


async def test_the_corpus_offers_only_the_sections_the_operator_maps(
    sessions: SessionFactory, feed_server: FeedServer
) -> None:
    _shared("MANIFEST.tsv")
    await _ingest_corpus(sessions, feed_server, {"world": ("World", "World news")})
    async with sessions() as session:
        assert await story_store.list_sections(session) == [("world", "World")]
        listed = await story_store.latest_stories(session, section="world", limit=1000)
    assert listed and all(
        {"world", "world news"} & {c.casefold() for c in s.categories} for s in listed
    )


# --- invariants -----------------------------------------------------------------------------


def _assert_feed_invariants(feed: ParsedFeed) -> None:
    assert feed.title is None or 0 < len(feed.title) <= 300
    assert feed.link is None or _is_absolute_http(feed.link)
    assert feed.language is None or _LANGUAGE_RE.fullmatch(feed.language)
    assert (feed.bozo_reason is not None) == feed.bozo
    assert feed.bozo_reason is None or len(feed.bozo_reason) <= 200


def _assert_draft_invariants(draft: StoryDraft) -> None:
    assert draft.title and len(draft.title) <= 300
    assert draft.title == draft.title.strip()
    assert len(draft.summary) <= 1000
    for text in (draft.title, draft.summary, draft.author or ""):
        assert not _REMOVED_CHARS_RE.search(text), repr(text)
    assert draft.link is None or _is_absolute_http(draft.link)
    assert draft.image_url is None or _is_absolute_http(draft.image_url)
    assert draft.identity.split(":", 1)[0] in ("guid", "link", "hash")
    assert draft.author is None or 0 < len(draft.author) <= 200
    assert len(draft.categories) <= 20
    assert all(0 < len(category) <= 100 for category in draft.categories)
    assert len({category.casefold() for category in draft.categories}) == len(draft.categories)
    assert draft.language is None or _LANGUAGE_RE.fullmatch(draft.language)
    if draft.published_at is not None:
        assert draft.published_at.utcoffset() == timedelta(0)
        assert draft.published_at.tzinfo is UTC
        assert (
            datetime(1990, 1, 1, tzinfo=UTC) <= draft.published_at <= NOW + timedelta(minutes=10)
        )


def _is_absolute_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
