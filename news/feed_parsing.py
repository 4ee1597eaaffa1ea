"""Feed documents (RSS 0.9x/1.0/2.0, Atom, JSON Feed) as bytes → a ParsedFeed of StoryDrafts.

This module owns the meaning of a feed item for newsbot: which text is the
title and summary, which link is canonical (absolute, http(s), no tracking
parameters), which image and date belong to it, and which items a huge document
gives up (``max_items``: the newest are kept). Which keys identify a story is
``news.story_identity``'s rule, applied here. It is pure and synchronous (no I/O,
no clock unless ``now`` is omitted); the caller runs it in a worker thread. A
document that is not a feed raises NotAFeedError; anything else, however
broken, yields a ParsedFeed. feedparser reads RSS and Atom; ``news.json_feed`` reads JSON
Feed into entries of the same shape, so every rule here applies to both.
"""

from __future__ import annotations

import calendar
import html
import io
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import feedparser

from news.feed_encoding import utf8_repaired
from news.json_feed import JsonFeedError, looks_like_json, read_json_feed
from news.plain_text import clean_plain, html_to_text, truncate_words
from news.story_draft import StoryDraft
from news.story_identity import StoryKey, hashed_identity, story_keys

__all__ = ["NotAFeedError", "ParsedFeed", "normalise_language", "normalise_link", "parse_feed"]

logger = logging.getLogger(__name__)

TITLE_MAX = 300
SUMMARY_MAX = 1_000
FALLBACK_TITLE_MAX = 100
AUTHOR_MAX = 200
CATEGORY_MAX = 100
CATEGORIES_MAX = 20
BOZO_REASON_MAX = 200
# Clocks drift and some CMSs stamp stories a few minutes ahead; beyond that a
# future date is a lie that would pin the story to the top of every list.
FUTURE_TOLERANCE = timedelta(minutes=10)
# Dates before this are placeholders (epoch 0, "0001-01-01"), not publication times.
EARLIEST_YEAR = 1990

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
_TRACKING_PARAMS = frozenset({"fbclid", "gclid"})
# Share buttons and hit counters that feeds embed as <img>: never a story's picture.
_NON_STORY_IMAGE_RE = re.compile(
    r"^https?://(?:feeds\.feedburner\.com/~|feedads\.|pixel\.wp\.com/|stats\.wordpress\.com/"
    r"|www\.google-analytics\.com/|[^/]*doubleclick\.net/)",
    re.IGNORECASE,
)
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".bmp", ".svg")
_URL_UNSAFE_RE = re.compile(r"[\x00-\x20\x7f]")
# Bounded: attribute matching is quadratic in a tag's length, and no real <img>
# tag is kilobytes long.
_IMG_TAG_RE = re.compile(r"<img\b[^>]{0,2000}>", re.IGNORECASE)
_ATTR_RE = re.compile(r"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")
_LANGUAGE_PRIMARY_RE = re.compile(r"[a-z]{2,3}")
# How an HTML page starts, after any XML declaration, comments and whitespace.
# A comment's body may not contain "-->", so each comment matches one way only
# (a lazy ".*?" here backtracks exponentially on a run of comments).
_HTML_START_RE = re.compile(
    r"\A\s*+(?:<\?xml[^>]*+>\s*+)?(?:<!--(?:[^-]|-(?!->))*+-->\s*+)*+"
    r"<(?:!doctype\s+html|html|head|body)\b",
    re.IGNORECASE,
)
_SNIFF_BYTES = 4_096
# A guid or id element (any namespace prefix), its attributes and the start of its value.
_GUID_RE = re.compile(
    rb"<(?:[\w.-]+:)?(?:guid|id)\b([^>]*)>\s*(?:<!\[CDATA\[\s*)?([^<\s]*)", re.IGNORECASE
)
_NOT_PERMALINK_RE = re.compile(rb"""ispermalink\s*=\s*["']\s*false""", re.IGNORECASE)
_URI_SCHEME_RE = re.compile(rb"[a-z][a-z0-9+.-]*:", re.IGNORECASE)


class NotAFeedError(ValueError):
    """The document is not a feed at all (empty, an HTML page, JSON that is no JSON Feed,
    garbage)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """One parsed feed document: channel metadata and its items as StoryDraft records.

    ``bozo`` says the document was malformed but still usable; ``bozo_reason``
    says how, in one short line for logs and the feed's health record.
    ``replaced_bytes`` counts the invalid bytes of a UTF-8 document that became
    U+FFFD instead of costing the whole document its UTF-8 (news.feed_encoding).
    ``item_count`` is how many distinct items the document holds: more than
    ``entries`` when ``max_items`` left the oldest out.
    """

    title: str | None
    link: str | None
    language: str | None
    entries: tuple[StoryDraft, ...]
    bozo: bool
    bozo_reason: str | None
    replaced_bytes: int = 0
    item_count: int = 0
    # WebSub: the hub the document advertises (``<link rel="hub">``, a JSON Feed's ``hubs``)
    # and its topic (``rel="self"``, ``feed_url``); None when it names none.
    hub: str | None = None
    topic: str | None = None


def parse_feed(
    body: bytes,
    *,
    url: str,
    content_type: str | None = None,
    now: datetime | None = None,
    max_items: int | None = None,
) -> ParsedFeed:
    """Parse a feed document fetched from ``url``; raise NotAFeedError if it is not a feed.

    With ``max_items``, only that many of the newest items (by publication date; undated
    items count as published now) become drafts, in document order.
    """
    now_utc = _as_utc(now) if now is not None else datetime.now(UTC)
    body = bytes(body)
    if not body.strip():
        raise NotAFeedError("empty document")
    if looks_like_json(body, content_type):
        return _parse_json_feed(body, url, content_type, now_utc, max_items)
    document = utf8_repaired(body, content_type)
    result = _run_feedparser(document.body, url, document.content_type)
    _reject_non_feed(document.body, result)
    feed = _mapping(result.get("feed"))
    feed_language = normalise_language(_text(_get(feed, "language")))
    bozo, bozo_reason = _bozo(result)
    entries = _mappings(result.get("entries"))
    # feedparser's items are the largest thing held while parsing: from here `entries` holds
    # them alone, and `_drafts` lets go of those the cap leaves out before building drafts.
    del result
    drafts, item_count = _drafts(entries, url, feed_language, now_utc, max_items)
    hub, topic = _websub_links(feed, url)
    return ParsedFeed(
        hub=hub,
        topic=topic,
        title=_detail_text(feed, "title", TITLE_MAX) or None,
        link=normalise_link(_text(_get(feed, "link")), url),
        language=feed_language,
        entries=drafts,
        bozo=bozo,
        bozo_reason=bozo_reason,
        replaced_bytes=document.replaced_bytes,
        item_count=item_count,
    )


def _parse_json_feed(
    body: bytes, url: str, content_type: str | None, now: datetime, max_items: int | None
) -> ParsedFeed:
    """A JSON Feed through the same entry rules as feedparser's entries."""
    try:
        feed = read_json_feed(body, url, content_type)
    except JsonFeedError as error:
        raise NotAFeedError(error.reason) from None
    language = normalise_language(feed.language)
    drafts, item_count = _drafts(feed.entries, url, language, now, max_items)
    reason = clean_plain("; ".join(feed.problems), BOZO_REASON_MAX) or None
    return ParsedFeed(
        hub=_absolute_http_url(feed.hub, url, strip_tracking=False),
        topic=_absolute_http_url(feed.feed_url, url, strip_tracking=False),
        title=clean_plain(feed.title, TITLE_MAX) or None,
        link=normalise_link(feed.home_page_url, url),
        language=language,
        entries=drafts,
        bozo=bool(feed.problems),
        bozo_reason=reason,
        replaced_bytes=feed.replaced_bytes,
        item_count=item_count,
    )


def _websub_links(feed: Mapping[str, Any], url: str) -> tuple[str | None, str | None]:
    """The hub and the topic (self) an RSS or Atom document advertises, absolute http(s)."""
    found: dict[str, str | None] = {"hub": None, "self": None}
    for link in _mappings(_get(feed, "links")):
        rel = _text(_get(link, "rel")).strip().lower()
        if rel in found and found[rel] is None:
            found[rel] = _absolute_http_url(_text(_get(link, "href")), url, strip_tracking=False)
    return found["hub"], found["self"]


def normalise_link(raw: str, base: str) -> str | None:
    """Return ``raw`` as a canonical absolute http(s) URL, or None if it cannot be one.

    Canonical: resolved against ``base``, scheme and host lower-cased, empty path
    as "/", fragment and tracking parameters (utm_*, fbclid, gclid) dropped, so
    the same story reached from a newsletter and from the feed compares equal.
    """
    return _absolute_http_url(raw, base, strip_tracking=True)


def normalise_language(raw: str) -> str | None:
    """Return the primary language subtag of ``raw`` ("en-US" → "en"), or None if unusable."""
    parts = raw.strip().lower().replace("_", "-").split("-")
    primary = parts[0]
    if not _LANGUAGE_PRIMARY_RE.fullmatch(primary):
        return None
    # Arabic-script Kurdish is Sorani in practice; keep it apart from Kurmanji ("ku").
    if primary == "ku" and "arab" in parts[1:]:
        return "ckb"
    return primary


# --- the document --------------------------------------------------------------------------


def _run_feedparser(body: bytes, url: str, content_type: str | None) -> Any:
    """Run feedparser on the bytes, never letting it treat them as a path or URL."""
    # feedparser.parse(bytes) first tries open(bytes) as a *file name*; a stream never is.
    stream = io.BytesIO(body)
    # No declared type behaves like bare bytes: the XML prolog or BOM decides the
    # charset, UTF-8 by default. Omitting the key would instead make feedparser
    # assume ISO-8859-1 for undeclared documents (RFC 3023), mangling UTF-8 feeds.
    headers = {"content-type": content_type or "application/xml"}
    if _has_relative_guids(body):
        headers["content-location"] = url
    try:
        # feedparser's own sanitizer is regex-era and lets script text through
        # (its test "item_description_crazy" keeps "function executeMe()"); every
        # string we keep goes through nh3 instead, which drops script content.
        return feedparser.parse(stream, response_headers=headers, sanitize_html=False)
    except Exception as error:  # feedparser should never raise; if it does, blame the document
        raise NotAFeedError(f"unparseable document ({type(error).__name__})") from error


def _has_relative_guids(body: bytes) -> bool:
    """Say whether feedparser must know the document's URL: when a guid or id it would resolve
    against it (all but isPermaLink="false" guids) is not an absolute URI.

    Told the URL, feedparser resolves every element's base against it, which is a third of
    its time on a big feed; everything else relative (links, images, xml:base) is resolved
    here against ``_entry_base``. A document this cannot read as bytes (UTF-16) is told.
    """
    if body.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in body[:_SNIFF_BYTES]:
        return True
    for match in _GUID_RE.finditer(body):
        attributes, value = match.groups()
        if _NOT_PERMALINK_RE.search(attributes) or _URI_SCHEME_RE.match(value):
            continue
        return True
    return False


def _reject_non_feed(body: bytes, result: Any) -> None:
    """Raise NotAFeedError unless feedparser recognised a feed or found entries."""
    has_entries = bool(result.get("entries"))
    version = _text(result.get("version"))
    head = _sniff_text(body)
    if not has_entries and _HTML_START_RE.match(head):
        raise NotAFeedError("HTML page, not a feed")
    if version or has_entries:
        return
    _, reason = _bozo(result)
    detail = f" ({reason})" if reason else ""
    raise NotAFeedError(f"no RSS/Atom feed found{detail}")


def _sniff_text(body: bytes) -> str:
    """Return the start of the document as text, good enough to recognise HTML."""
    head = body[:_SNIFF_BYTES]
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, errors="ignore")
    return head.decode("latin-1").removeprefix("\xef\xbb\xbf")


def _bozo(result: Any) -> tuple[bool, str | None]:
    """Return whether the document was malformed, and a one-line reason."""
    if not result.get("bozo"):
        return False, None
    error = result.get("bozo_exception")
    # A non-XML Content-Type (text/html, text/plain) says how the server labels
    # the feed, not that the document is broken; many healthy feeds are served so.
    if isinstance(error, feedparser.NonXMLContentType):
        return False, None
    if error is None:
        return True, "malformed document"
    reason = clean_plain(f"{type(error).__name__}: {error}", BOZO_REASON_MAX)
    return True, reason


# --- the entries ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Keyed:
    """An entry with its base URL, its link (fragment still on), its guid and its date."""

    entry: Mapping[str, Any]
    base: str
    link: str | None
    guid: str | None
    published_at: datetime | None


def _drafts(
    entries: list[Mapping[str, Any]],
    url: str,
    feed_language: str | None,
    now: datetime,
    max_items: int | None,
) -> tuple[tuple[StoryDraft, ...], int]:
    """Return one StoryDraft per distinct usable entry (the newest ``max_items`` of them),
    and how many distinct entries there were. Empties ``entries``."""
    keyed = [item for item in (_keyed(entry, url, now) for entry in entries) if item is not None]
    entries.clear()
    # Keys come from every entry, not only the kept ones: whether a fragment or a guid tells
    # items apart must not depend on where the cap falls.
    keys = story_keys([(item.guid, item.link) for item in keyed])
    distinct = [(item, key) for item, key in zip(keyed, keys, strict=True) if key is not None]
    del keyed, keys
    item_count = len(distinct)
    if max_items is not None and item_count > max_items:
        distinct = _newest(distinct, max_items, now)
    drafts: dict[str, StoryDraft] = {}
    for item, key in distinct:
        try:
            draft = _draft(item, key, feed_language)
        except Exception:  # one hostile entry must not cost the reader the rest of the feed
            logger.warning("skipping unparseable feed entry url=%s", url, exc_info=True)
            continue
        # Only hashed identities can still clash: two link-less items with one title.
        if draft is not None and draft.identity not in drafts:
            drafts[draft.identity] = draft
    return tuple(drafts.values()), item_count


def _newest(
    items: list[tuple[_Keyed, StoryKey]], count: int, now: datetime
) -> list[tuple[_Keyed, StoryKey]]:
    """The ``count`` most recently published items, in document order; an undated item counts
    as published now (storage sorts it so too), and ties keep the document's order."""
    order = sorted(
        range(len(items)),
        key=lambda index: (-(items[index][0].published_at or now).timestamp(), index),
    )
    return [items[index] for index in sorted(order[:count])]


def _keyed(entry: Mapping[str, Any], url: str, now: datetime) -> _Keyed | None:
    """Return the entry with its base, link, guid and date, or None if those fail."""
    try:
        base = _entry_base(entry, url)
        return _Keyed(
            entry, base, _entry_link(entry, base), _guid(entry), _published_at(entry, now)
        )
    except Exception:  # as in _drafts: skip the entry, keep the feed
        logger.warning("skipping unparseable feed entry url=%s", url, exc_info=True)
        return None


def _draft(item: _Keyed, key: StoryKey, feed_language: str | None) -> StoryDraft | None:
    """Build one StoryDraft, or None for an entry with nothing to show (no title, link, text)."""
    entry = item.entry
    summary = _summary(entry)
    # RSS 2.0 allows description-only items (microblog posts, feedparser's own
    # test cases); their text is the story, so it also stands in for the title.
    title = _detail_text(entry, "title", TITLE_MAX) or _fallback_title(summary, key.link)
    if not title:
        return None
    return StoryDraft(
        identity=key.identity or hashed_identity(title),
        title=title,
        link=key.link,
        guid=key.guid,
        summary=summary,
        image_url=_image_url(entry, item.base),
        author=_author(entry),
        categories=_categories(entry),
        language=_entry_language(entry) or feed_language,
        published_at=item.published_at,
        link_is_key=key.link_is_key,
    )


def _fallback_title(summary: str, link: str | None) -> str:
    """Return a stand-in title for an untitled entry: the summary's start, else the link."""
    if summary:
        return truncate_words(summary, FALLBACK_TITLE_MAX)
    return link or ""


def _guid(entry: Mapping[str, Any]) -> str | None:
    """Return the entry's guid/id with controls and edge whitespace removed, or None."""
    guid = clean_plain(_text(_get(entry, "id")), 10_000)
    return guid or None


def _entry_base(entry: Mapping[str, Any], url: str) -> str:
    """Return the URL relative references in this entry resolve against (xml:base, else url)."""
    for key in ("title_detail", "summary_detail"):
        base = _text(_get(_mapping(_get(entry, key)), "base"))
        if base:
            return urljoin(url, base)
    return url


def _entry_link(entry: Mapping[str, Any], base: str) -> str | None:
    """Return the entry's link, canonical but for its fragment (``story_keys`` decides that),
    preferring the publisher's original over a redirect."""
    for candidate in _link_candidates(entry):
        link = _absolute_http_url(candidate, base, strip_tracking=True, keep_fragment=True)
        if link:
            return link
    return None


def _link_candidates(entry: Mapping[str, Any]) -> Iterator[str]:
    """Yield the entry's possible links in order of preference (lazily: the first usually
    wins, and a big feed asks this of every entry)."""
    # FeedBurner rewrites <link> into a tracking redirect and keeps the real one here.
    yield _text(_get(entry, "feedburner_origlink"))
    yield _text(_get(entry, "link"))
    for link in _mappings(_get(entry, "links")):
        if _text(_get(link, "rel")) in ("", "alternate"):
            yield _text(_get(link, "href"))


def _summary(entry: Mapping[str, Any]) -> str:
    """Return the entry's summary/description, else its first content block, as plain text."""
    summary = _detail_text(entry, "summary", SUMMARY_MAX)
    if summary:
        return summary
    for content in _mappings(_get(entry, "content")):
        value, mime = _text(_get(content, "value")), _text(_get(content, "type"))
        text = _typed_text(value, mime, SUMMARY_MAX)
        if text:
            return text
    return ""


def _author(entry: Mapping[str, Any]) -> str | None:
    """Return the entry's author name as plain text, or None."""
    name = _text(_get(_mapping(_get(entry, "author_detail")), "name")) or _text(
        _get(entry, "author")
    )
    return clean_plain(name, AUTHOR_MAX) or None


def _categories(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the entry's category names, deduplicated case-insensitively, order kept."""
    seen: set[str] = set()
    categories: list[str] = []
    for tag in _mappings(_get(entry, "tags")):
        name = clean_plain(_text(_get(tag, "label")) or _text(_get(tag, "term")), CATEGORY_MAX)
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            categories.append(name)
            if len(categories) == CATEGORIES_MAX:
                break
    return tuple(categories)


def _entry_language(entry: Mapping[str, Any]) -> str | None:
    """Return the entry's own language (dc:language, or xml:lang in scope), or None."""
    for candidate in (
        _text(_get(entry, "language")),
        _text(_get(_mapping(_get(entry, "title_detail")), "language")),
        _text(_get(_mapping(_get(entry, "summary_detail")), "language")),
    ):
        language = normalise_language(candidate)
        if language:
            return language
    return None


def _published_at(entry: Mapping[str, Any], now: datetime) -> datetime | None:
    """Return the entry's publication time in UTC, clamped to ``now`` if in the future."""
    for key in ("published_parsed", "updated_parsed"):
        # Never FeedParserDict.get: its "updated_parsed" falls back to published, with a warning.
        value = _get(entry, key)
        if value is None:
            continue
        moment = _struct_time_to_utc(value, now)
        if moment is not None:
            return moment
    return None


def _struct_time_to_utc(value: Any, now: datetime) -> datetime | None:
    """Convert feedparser's UTC struct_time to an aware datetime, or None if absurd."""
    try:
        fields = tuple(int(field) for field in tuple(value)[:6])
        if len(fields) < 6 or fields[0] < EARLIEST_YEAR:
            return None
        if fields[0] > now.year + 1:
            return now
        moment = datetime.fromtimestamp(calendar.timegm((*fields, 0, 0, 0)), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    if moment.year < EARLIEST_YEAR:
        return None
    return now if moment > now + FUTURE_TOLERANCE else moment


# --- images --------------------------------------------------------------------------------


def _image_url(entry: Mapping[str, Any], base: str) -> str | None:
    """Return the entry's lead image: media:content, media:thumbnail, image links, then <img>."""
    for candidate in _image_candidates(entry):
        image = _absolute_http_url(candidate, base, strip_tracking=False)
        if image and not _NON_STORY_IMAGE_RE.match(image):
            return image
    return None


def _image_candidates(entry: Mapping[str, Any]) -> Iterator[str]:
    """Yield possible image URLs in order of preference."""
    for media in _mappings(_get(entry, "media_content")):
        if _is_image_media(media):
            yield _text(_get(media, "url"))
    for thumbnail in _mappings(_get(entry, "media_thumbnail")):
        yield _text(_get(thumbnail, "url"))
    for link in _mappings(_get(entry, "links")):
        if _is_image_link(link):
            yield _text(_get(link, "href"))
    for fragment in _html_fragments(entry):
        yield from _img_sources(fragment)


def _is_image_media(media: Mapping[str, Any]) -> bool:
    """Say whether a media:content element is an image rather than video or audio."""
    medium = _text(_get(media, "medium")).lower()
    mime = _text(_get(media, "type")).lower()
    if medium or mime:
        return medium == "image" or mime.startswith("image/")
    return _looks_like_image_url(_text(_get(media, "url")))


def _is_image_link(link: Mapping[str, Any]) -> bool:
    """Say whether an enclosure or link is an image (typed image/*, or untyped image file)."""
    mime = _text(_get(link, "type")).lower()
    if mime:
        return mime.startswith("image/")
    if _text(_get(link, "rel")) != "enclosure":
        return False
    return _looks_like_image_url(_text(_get(link, "href")))


def _looks_like_image_url(url: str) -> bool:
    """Say whether a URL's path ends like an image file."""
    try:
        path = urlsplit(url).path.lower()
    except ValueError:
        return False
    return path.endswith(_IMAGE_EXTENSIONS)


def _html_fragments(entry: Mapping[str, Any]) -> Iterator[str]:
    """Yield the entry's summary and content HTML, where inline images live."""
    yield _text(_get(entry, "summary"))
    for content in _mappings(_get(entry, "content")):
        yield _text(_get(content, "value"))


def _img_sources(fragment: str) -> Iterator[str]:
    """Yield the src of each <img> in an HTML fragment, skipping 1×1 tracking pixels."""
    for tag in _IMG_TAG_RE.findall(fragment):
        attributes = {
            name.lower(): _unquote_attribute(value) for name, value in _ATTR_RE.findall(tag)
        }
        if attributes.get("width") in ("0", "1") or attributes.get("height") in ("0", "1"):
            continue
        if attributes.get("src"):
            yield attributes["src"]


def _unquote_attribute(value: str) -> str:
    """Return an HTML attribute value without quotes and with entities decoded."""
    return html.unescape(value.strip("\"'"))


# --- URLs, text and defensive access to feedparser's dicts ---------------------------------


def _absolute_http_url(
    raw: str, base: str, *, strip_tracking: bool, keep_fragment: bool = False
) -> str | None:
    """Return ``raw`` resolved against ``base`` as a tidy http(s) URL, or None."""
    candidate = raw.strip()
    if not candidate:
        return None
    # Stray spaces and control characters break Telegram's link parsing; encode them.
    candidate = _URL_UNSAFE_RE.sub(lambda match: quote(match.group()), candidate)
    try:
        parts = urlsplit(candidate)
        # Only references without a scheme are relative: urljoin would turn
        # "https://" or "http:page" into the base URL or a path under it.
        if not parts.scheme:
            parts = urlsplit(urljoin(base, candidate))
        host = parts.hostname
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        return None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    netloc = f"{userinfo}@{hostport.lower()}" if userinfo else hostport.lower()
    query = _without_tracking(parts.query) if strip_tracking else parts.query
    fragment = parts.fragment if keep_fragment else ""
    return urlunsplit((scheme, netloc, parts.path or "/", query, fragment))


def _without_tracking(query: str) -> str:
    """Drop utm_*, fbclid and gclid parameters, leaving the rest byte-for-byte."""
    kept = []
    for pair in query.split("&"):
        key = pair.split("=", 1)[0].lower()
        if pair and not key.startswith("utm_") and key not in _TRACKING_PARAMS:
            kept.append(pair)
    return "&".join(kept)


def _detail_text(mapping: Mapping[str, Any], key: str, max_length: int) -> str:
    """Return ``mapping[key]`` as plain text, stripping tags only if its detail says HTML."""
    detail = _mapping(_get(mapping, f"{key}_detail"))
    return _typed_text(_text(_get(mapping, key)), _text(_get(detail, "type")), max_length)


def _typed_text(value: str, mime: str, max_length: int) -> str:
    """Return plain text from a value whose declared type is HTML or plain text."""
    # No type means feedparser copied the value from elsewhere (an Atom entry's
    # summary taken from its HTML content); RSS's default content model is HTML.
    if not mime or mime.lower() in _HTML_TYPES:
        return html_to_text(value, max_length)
    return clean_plain(value, max_length)


def _as_utc(moment: datetime) -> datetime:
    """Return ``moment`` as aware UTC, reading a naive datetime as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _text(value: Any) -> str:
    """Return ``value`` if it is a string, else "" (feedparser's values are loosely typed)."""
    return value if isinstance(value, str) else ""


def _get(mapping: Mapping[str, Any], key: str) -> Any:
    """Return ``mapping[key]``, or None, looked up as in a plain dict.

    feedparser's FeedParserDict resolves aliases and fallbacks on every ``get``, which took
    half the time of turning a big feed into drafts; the keys read here are the canonical
    ones it stores, so a plain lookup finds the same, at dict speed, without a copy.
    """
    return dict.get(mapping, key) if isinstance(mapping, dict) else mapping.get(key)


def _mapping(value: Any) -> Mapping[str, Any]:
    """Return ``value`` if it is a dict, else an empty one."""
    return value if isinstance(value, dict) else {}


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    """Return the dicts in a list-valued field, ignoring anything else."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]
