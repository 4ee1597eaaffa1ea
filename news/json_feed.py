"""JSON Feed 1.0 and 1.1 documents (``application/feed+json``) → feed entries for parsing.

feedparser does not read JSON Feed, and the libraries that do were measured against this
reader (README, "Feed formats"): ``jsonfeed-util`` wraps ``json.loads`` in classes and
reads no dates or URLs, ``feedparser-rs`` drops numeric ids and says "format not
recognized" for broken JSON. This module is the small, strict part that is about JSON:
which documents are JSON (``looks_like_json``), which of those are JSON Feeds, and how
each item's fields map onto the keys that ``news.feed_parsing`` reads from feedparser's
entries — so titles, summaries, links, images, dates, identity, ``FEED_MAX_ITEMS`` and the
plain-text sanitising are the very same rules for every format.

The mapping, field by field (1.1 names first, then what 1.0 called them):

- ``id`` → the guid; a number is coerced to a string, as the spec asks of readers.
- ``url`` (the permalink), else ``external_url`` → the link.
- ``title`` → the title; ``summary``, else ``content_html`` (stripped of every tag), else
  ``content_text`` → the summary. Titles and summaries are plain text, unless they hold
  closing tags or entities (some feeds paste HTML there), which are then stripped as in RSS.
- ``date_published``, else ``date_modified`` (RFC 3339; an RFC 822 date is read too).
- ``image``, else ``banner_image``, else an ``attachments`` image → the picture; else the
  first ``<img>`` of ``content_html``.
- ``authors[0].name`` (1.1), else ``author.name`` (1.0), else the feed's → the author.
- ``tags`` → the categories; the item's ``language`` (1.1), else the feed's.
- Relative URLs resolve against ``home_page_url``, else ``feed_url``, else the URL fetched.

A JSON Feed is UTF-8 (RFC 8259): invalid bytes become U+FFFD and are counted, whatever a
charset parameter says. Values of the wrong JSON type are ignored; an item that is not an
object is skipped and makes the document "malformed but usable".
"""

from __future__ import annotations

import codecs
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from news.plain_text import looks_like_html

__all__ = ["JsonFeed", "JsonFeedError", "looks_like_json", "read_json_feed"]

_VERSION_PREFIXES = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")
_JSON_MEDIA_TYPES = frozenset({"application/json", "text/json"})
_WHITESPACE = b" \t\r\n"
_REPLACEMENT_BYTES = "\ufffd".encode()
# The start of a document worth looking at to tell JSON from XML or HTML.
_SNIFF_BYTES = 1_024
_ERROR_MAX = 160


class JsonFeedError(ValueError):
    """The document is JSON (or says it is) but not a usable JSON Feed; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class JsonFeed:
    """A JSON Feed's metadata and its items as entries in feedparser's shape.

    ``title``, ``home_page_url`` and ``language`` are the document's strings ("" when
    absent). ``problems`` say what made the document malformed but usable.
    """

    title: str
    home_page_url: str
    language: str
    entries: list[Mapping[str, Any]]
    problems: tuple[str, ...]
    replaced_bytes: int
    # WebSub: the first ``hubs`` entry's url, and ``feed_url`` (the topic); "" when absent.
    hub: str = ""
    feed_url: str = ""


def looks_like_json(body: bytes, content_type: str | None) -> bool:
    """Say whether a document is to be read as JSON: it starts with ``{`` or ``[``, or its
    Content-Type is JSON (``application/feed+json``, ``application/json``, ``…+json``) and
    it does not start like XML or HTML (a server mislabelling its RSS is not rare)."""
    head = _sniff(body)
    if head.startswith((b"{", b"[")):
        return True
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    is_json_type = media_type in _JSON_MEDIA_TYPES or media_type.endswith("+json")
    return is_json_type and not head.startswith(b"<")


def read_json_feed(body: bytes, url: str, content_type: str | None = None) -> JsonFeed:
    """Read a JSON document as a JSON Feed; raise JsonFeedError if it is not one."""
    text, replaced_bytes = _decoded(body)
    try:
        document = json.loads(text)
    except RecursionError:
        raise JsonFeedError("malformed JSON (nested too deeply)") from None
    except ValueError as error:  # JSONDecodeError, or a number of over 4,300 digits
        raise JsonFeedError(f"malformed JSON ({_short(str(error))})") from None
    if not isinstance(document, dict):
        raise JsonFeedError(f"JSON {type(document).__name__}, not a JSON Feed")
    problems: list[str] = []
    version = _string(document.get("version"))
    if not version.startswith(_VERSION_PREFIXES):
        # A server that says application/feed+json vouches for a feed whose version is
        # missing; a bare JSON object without one is some other API's answer.
        said_feed = (content_type or "").split(";", 1)[0].strip().lower() == (
            "application/feed+json"
        )
        if not (said_feed and isinstance(document.get("items"), list)):
            raise JsonFeedError(
                "JSON document, not a JSON Feed (no https://jsonfeed.org/version/ version)"
            )
        problems.append("no JSON Feed version")
    items = document.get("items")
    if not isinstance(items, list):
        raise JsonFeedError("JSON Feed without an items list")
    base = _base(document, url)
    feed_author = _author_name(document)
    language = _string(document.get("language"))
    entries: list[Mapping[str, Any]] = []
    skipped = 0
    for item in items:
        if not isinstance(item, dict):
            skipped += 1
            continue
        entries.append(_entry(item, base, feed_author, language))
    if skipped:
        problems.append(f"{skipped} of {len(items)} items are not JSON objects")
    return JsonFeed(
        title=_string(document.get("title")),
        home_page_url=_string(document.get("home_page_url")),
        language=language,
        entries=entries,
        problems=tuple(problems),
        replaced_bytes=replaced_bytes,
        hub=next((_string(h.get("url")) for h in _objects(document.get("hubs"))), ""),
        feed_url=_string(document.get("feed_url")),
    )


# --- the document --------------------------------------------------------------------------


def _sniff(body: bytes) -> bytes:
    """The document's first bytes after a byte-order mark and whitespace (UTF-16/32 bodies,
    which JSON no longer allows, are read as UTF-8 and fail as such)."""
    head = body[:_SNIFF_BYTES].removeprefix(codecs.BOM_UTF8)
    return head.lstrip(_WHITESPACE)


def _decoded(body: bytes) -> tuple[str, int]:
    """The document as text (UTF-8, a BOM dropped), and how many invalid bytes became U+FFFD."""
    body = body.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8"), 0
    except UnicodeDecodeError:
        pass
    text = body.decode("utf-8", errors="replace")
    clean = text.encode("utf-8")
    # U+FFFD already in the source is valid UTF-8 (EF BF BD), not a replacement we made;
    # each invalid sequence (one or more bytes) became the three bytes of one U+FFFD.
    invalid = text.count("\ufffd") - body.count(_REPLACEMENT_BYTES)
    return text, len(body) - (len(clean) - len(_REPLACEMENT_BYTES) * invalid)


def _base(document: Mapping[str, Any], url: str) -> str:
    """What relative URLs resolve against: home_page_url, else feed_url, else ``url``."""
    for key in ("home_page_url", "feed_url"):
        candidate = _absolute(_string(document.get(key)), url)
        if candidate:
            return candidate
    return url


def _absolute(raw: str, base: str) -> str:
    """``raw`` resolved against ``base`` if that makes an http(s) URL, else ""."""
    if not raw.strip():
        return ""
    try:
        resolved = urljoin(base, raw.strip())
        parts = urlsplit(resolved)
    except ValueError:
        return ""
    return resolved if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


# --- one item ------------------------------------------------------------------------------


def _entry(
    item: Mapping[str, Any], base: str, feed_author: str, feed_language: str
) -> dict[str, Any]:
    """One item as a feedparser-shaped entry (only the keys news.feed_parsing reads)."""
    title, summary = _string(item.get("title")), _string(item.get("summary"))
    entry: dict[str, Any] = {
        # The details carry the base that news.feed_parsing resolves links and images against.
        "title": title,
        "title_detail": {"type": _text_type(title), "base": base},
        "summary": summary,
        "summary_detail": {"type": _text_type(summary), "base": base},
    }
    guid = _id(item.get("id"))
    if guid:
        entry["id"] = guid
    url = _string(item.get("url"))
    if url:
        entry["link"] = url
    external = _string(item.get("external_url"))
    links = [{"rel": "alternate", "href": external}] if external else []
    html = _string(item.get("content_html"))
    plain = _string(item.get("content_text"))
    if html:
        entry["content"] = [{"type": "text/html", "value": html}]
    elif plain:
        entry["content"] = [{"type": "text/plain", "value": plain}]
    images = [_string(item.get(key)) for key in ("image", "banner_image")]
    entry["media_content"] = [{"url": image, "medium": "image"} for image in images if image]
    for attachment in _objects(item.get("attachments")):
        mime = _string(attachment.get("mime_type"))
        href = _string(attachment.get("url"))
        if href and mime.lower().startswith("image/"):
            links.append({"rel": "enclosure", "href": href, "type": mime})
    entry["links"] = links
    for key, target in (
        ("date_published", "published_parsed"),
        ("date_modified", "updated_parsed"),
    ):
        moment = _date(_string(item.get(key)))
        if moment is not None:
            entry[target] = moment
    author = _author_name(item) or feed_author
    if author:
        entry["author_detail"] = {"name": author}
    entry["tags"] = [{"term": tag} for tag in _strings(item.get("tags"))]
    language = _string(item.get("language")) or feed_language
    if language:
        entry["language"] = language
    return entry


def _text_type(text: str) -> str:
    """The type of a title or summary: plain text, as JSON Feed says, unless it holds markup
    (feeds paste HTML excerpts into ``summary``), which then is stripped as in RSS."""
    return "text/html" if looks_like_html(text) else "text/plain"


def _id(value: Any) -> str:
    """The item's id as a string: JSON Feed 1.0 feeds sometimes give numbers."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return json.dumps(value)
    return ""


def _author_name(holder: Mapping[str, Any]) -> str:
    """The first author's name: ``authors`` (1.1), else ``author`` (1.0); "" if none."""
    for author in _objects(holder.get("authors")):
        name = _string(author.get("name"))
        if name:
            return name
    legacy = holder.get("author")
    return _string(legacy.get("name")) if isinstance(legacy, dict) else ""


def _date(raw: str) -> time.struct_time | None:
    """An RFC 3339 date (or, as some feeds write, RFC 822) as a UTC struct_time, as
    feedparser gives dates; a date without a zone is UTC. None if unreadable."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        # 3.11's fromisoformat reads RFC 3339 but for a lower-case "t" or "z".
        moment = datetime.fromisoformat(raw.upper())
    except ValueError:
        try:
            moment = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.utctimetuple()
    except (OverflowError, ValueError):  # year 1 or 9999 shifted past the calendar's end
        return None


# --- JSON values of the expected type ------------------------------------------------------


def _string(value: Any) -> str:
    """``value`` if it is a string, else ""."""
    return value if isinstance(value, str) else ""


def _strings(value: Any) -> list[str]:
    """The strings of a list-valued field."""
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _objects(value: Any) -> list[Mapping[str, Any]]:
    """The objects of a list-valued field."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _short(text: str) -> str:
    """One line of at most _ERROR_MAX characters."""
    line = " ".join(text.split())
    return line if len(line) <= _ERROR_MAX else line[: _ERROR_MAX - 1] + "…"
