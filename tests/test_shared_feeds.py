"""Every document in the shared feed corpus (../shared/feeds) through parse_feed.

The corpus is real-world feeds and feedparser's own edge cases, kept outside
the repository. Each file must either raise NotAFeedError or give drafts that
satisfy the invariants storage relies on; MANIFEST.tsv and the ``fp_*`` files'
``Expect:`` comments serve as extra oracles. Without the folder, the tests skip.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from jobs.feed_parsing import NotAFeedError, ParsedFeed, parse_feed
from storage.records import StoryDraft

SHARED_FEEDS = Path(
    os.environ.get("NEWSBOT_SHARED_FEEDS")
    or Path(__file__).resolve().parents[1].parent / "shared" / "feeds"
)
ABSENT_REASON = (
    f"shared feed corpus not found at {SHARED_FEEDS} "
    "(set NEWSBOT_SHARED_FEEDS to the folder holding MANIFEST.tsv)"
)
NOW = datetime(2026, 3, 1, tzinfo=UTC)
# Files MANIFEST.tsv counts entries for that hold nothing a reader could see.
EMPTY_ENTRIES = {
    "fp_rss_incomplete_cdata.xml": "its only <item> is cut off inside '<![CD'; the entry is {}",
}
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


def test_json_feed_is_not_a_feed() -> None:
    with pytest.raises(NotAFeedError, match="JSON"):
        _parse(_shared("humanwhocodes.json"))


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
