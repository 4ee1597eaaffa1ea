"""The outlet's events, read: the envelope, and each type's data as a plain record.

An event is ``{"type": …, "timestamp": …, "data": {…}}`` (README, "the outlet's events").
Reading is pure and strict about shape, lenient about extras: a field of the wrong JSON type
makes the event malformed (the listener answers 400 with the reason), unknown fields are
ignored. Text that readers will see is made plain here, once: controls removed, each line's
whitespace folded, capped. Nothing private is kept: the events carry no e-mail, and only
fields the site itself shows (name, date, text) are read.

Each type has one reader in ``READERS``; a new type is one more entry there and one handler
in ``jobs.outlet_inbox`` (``story.published``'s is ``jobs.published_stories``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from news.plain_text import clean_plain, html_to_text, looks_like_html
from news.story_draft import StoryDraft

COMMENT_PUBLISHED = "comment.published"
COMMENT_REJECTED = "comment.rejected"
COMMENT_DELETED = "comment.deleted"
STORY_PUBLISHED = "story.published"

# What one comment may hold once read: the site's own limits are smaller.
TEXT_MAX = 10_000
AUTHOR_MAX = 100
REASON_MAX = 200
ID_MAX = 200
LINK_MAX = 2_000
LINES_MAX = 50
# What one story.published may hold: far more than any real headline or teaser. Longer is a
# mistake or an attack, refused (400) rather than cut.
TITLE_MAX = 1_000
SUMMARY_MAX = 50_000
SECTIONS_MAX = 20
SECTION_MAX = 100
EDITION_MAX = 16
_EDITION_RE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*")


class MalformedEvent(ValueError):
    """An event that cannot be read; ``reason`` is one line for the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Envelope:
    """An event's type and its still unread data."""

    type: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoryRef:
    """How an event names its story: the article's link and/or the feed's guid."""

    link: str | None
    guid: str | None


@dataclass(frozen=True, slots=True)
class CommentPublished:
    """A comment the site now shows (written on the site, or relayed from Telegram)."""

    id: str
    story: StoryRef
    author: str
    text: str
    published_at: datetime | None
    in_reply_to: str | None = None
    # The relayed comment it publishes: our webhook-id (sent as idempotency key), if any.
    key: str | None = None
    url: str | None = None  # the comment's own address on the site, when the outlet gives it


@dataclass(frozen=True, slots=True)
class CommentRejected:
    """The site will not publish a relayed comment (or took a published one back)."""

    id: str | None
    key: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class CommentDeleted:
    """A published comment is gone from the site."""

    id: str


@dataclass(frozen=True, slots=True)
class StoryPublished:
    """The outlet published (or updated) a story: ``story.published``.

    With a ``title`` it is the story itself, ingested from the event; with only a ``link``
    (``announced_only``) it says "look at the feeds now". ``edition`` is None when the event
    names none (the default edition's).
    """

    link: str
    title: str | None = None
    guid: str | None = None
    summary: str = ""
    published_at: datetime | None = None
    image_url: str | None = None
    sections: tuple[str, ...] = ()
    edition: str | None = None
    breaking: bool = False

    @property
    def announced_only(self) -> bool:
        """Only a link: the story is to be read from the feeds."""
        return self.title is None


OutletEvent = CommentPublished | CommentRejected | CommentDeleted | StoryPublished


def read_envelope(body: bytes) -> Envelope:
    """The event's type and data; MalformedEvent when the body is no event."""
    try:
        value = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedEvent("the body is not UTF-8") from None
    except ValueError as exc:
        raise MalformedEvent(f"the body is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise MalformedEvent("the body is not a JSON object")
    kind = value.get("type")
    if not isinstance(kind, str) or not kind.strip() or len(kind) > 100:
        raise MalformedEvent("'type' must be a short string")
    data = value.get("data", {})
    if not isinstance(data, dict):
        raise MalformedEvent("'data' must be an object")
    return Envelope(kind.strip(), data)


def _string(
    data: Mapping[str, Any], key: str, limit: int, *, required: bool = False
) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise MalformedEvent(f"'data.{key}' is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedEvent(f"'data.{key}' must be a string")
    text = str(value).strip()
    if len(text) > limit:
        raise MalformedEvent(f"'data.{key}' is longer than {limit} characters")
    return text or None


def _http_link(raw: str | None, key: str) -> str | None:
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise MalformedEvent(f"'{key}' must be an http(s) URL")
    return raw


def story_link(link: str) -> str:
    """A comment's link made its article's: the fragment (``#comment-5``) dropped."""
    parts = urlsplit(link)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def plain_comment(text: str, *, html: bool = False) -> str:
    """A comment's text as readers see it: plain, line breaks kept (at most LINES_MAX)."""
    if html or looks_like_html(text):
        text = html_to_text(text.replace("</p>", "\n").replace("<br", "\n<br"), TEXT_MAX * 2)
    lines = [clean_plain(line, TEXT_MAX) for line in text.splitlines()]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    body = "\n".join(kept[:LINES_MAX]).strip()
    return body[:TEXT_MAX]


def parse_time(raw: str | None, key: str) -> datetime | None:
    """An ISO 8601 time as aware UTC (a naive one is UTC); MalformedEvent if unreadable."""
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise MalformedEvent(f"'{key}' is not an ISO 8601 time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _author(data: Mapping[str, Any]) -> str:
    raw = data.get("author")
    if isinstance(raw, dict):  # {"name": …}, the relay's own shape
        raw = raw.get("name")
    if raw is not None and not isinstance(raw, str):
        raise MalformedEvent("'data.author' must be a name")
    name = clean_plain(raw or "", AUTHOR_MAX)
    if not name:
        raise MalformedEvent("'data.author' is missing")
    return name


def _story(data: Mapping[str, Any]) -> StoryRef:
    raw = data.get("story") if "story" in data else data.get("article")
    if not isinstance(raw, dict):
        raise MalformedEvent("'data.story' must be an object with 'link' and/or 'guid'")
    link = _http_link(_string(raw, "link", LINK_MAX) or _string(raw, "url", LINK_MAX), "link")
    guid = _string(raw, "guid", ID_MAX)
    if link is None and guid is None:
        raise MalformedEvent("'data.story' needs 'link' or 'guid'")
    return StoryRef(story_link(link) if link else None, guid)


def read_published(data: Mapping[str, Any]) -> CommentPublished:
    """``comment.published``."""
    comment_id = _string(data, "id", ID_MAX, required=True)
    raw_text = data.get("text")
    if not isinstance(raw_text, str):
        raise MalformedEvent("'data.text' must be a string")
    text = plain_comment(raw_text)
    if not text:
        raise MalformedEvent("'data.text' is empty")
    assert comment_id is not None
    return CommentPublished(
        id=comment_id,
        story=_story(data),
        author=_author(data),
        text=text,
        published_at=parse_time(_string(data, "published_at", 64), "data.published_at"),
        in_reply_to=_string(data, "in_reply_to", ID_MAX),
        key=_string(data, "idempotency_key", ID_MAX) or _string(data, "webhook_id", ID_MAX),
        url=_http_link(_string(data, "url", LINK_MAX), "data.url"),
    )


def read_rejected(data: Mapping[str, Any]) -> CommentRejected:
    """``comment.rejected``: by the outlet's id or by our key."""
    comment_id = _string(data, "id", ID_MAX)
    key = _string(data, "idempotency_key", ID_MAX) or _string(data, "webhook_id", ID_MAX)
    if comment_id is None and key is None:
        raise MalformedEvent("'data.id' or 'data.idempotency_key' is needed")
    raw_reason = data.get("reason")
    if raw_reason is not None and not isinstance(raw_reason, str):
        raise MalformedEvent("'data.reason' must be a string")
    reason = clean_plain(raw_reason or "", REASON_MAX) or None
    return CommentRejected(comment_id, key, reason)


def read_deleted(data: Mapping[str, Any]) -> CommentDeleted:
    """``comment.deleted``."""
    comment_id = _string(data, "id", ID_MAX, required=True)
    assert comment_id is not None
    return CommentDeleted(comment_id)


def _edition(data: Mapping[str, Any]) -> str | None:
    raw = _string(data, "edition", EDITION_MAX)
    if raw is None:
        return None
    edition = raw.lower()
    if not _EDITION_RE.fullmatch(edition):
        raise MalformedEvent("'data.edition' must be an edition code such as en or ckb")
    return edition


def _sections(data: Mapping[str, Any]) -> tuple[str, ...]:
    raw = data.get("sections")
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise MalformedEvent("'data.sections' must be a list of strings")
    if len(raw) > SECTIONS_MAX:
        raise MalformedEvent(f"'data.sections' holds more than {SECTIONS_MAX} entries")
    names = []
    for value in raw:
        if len(value) > SECTION_MAX:
            raise MalformedEvent(f"a section is longer than {SECTION_MAX} characters")
        name = clean_plain(value, SECTION_MAX)
        if name and name not in names:
            names.append(name)
    return tuple(names)


def read_story_published(data: Mapping[str, Any]) -> StoryPublished:
    """``story.published``: ``link`` always; ``title`` unless the event is only a link."""
    link = _http_link(_string(data, "link", LINK_MAX, required=True), "data.link")
    assert link is not None
    edition = _edition(data)
    title_raw = data.get("title")
    story_fields = ("guid", "summary", "published_at", "image_url", "sections", "breaking")
    if title_raw is None or title_raw == "":
        if any(data.get(key) not in (None, "", [], False) for key in story_fields):
            raise MalformedEvent("'data.title' is missing")
        return StoryPublished(link=link, edition=edition)
    title = _string(data, "title", TITLE_MAX, required=True)
    if not title or not clean_plain(title, TITLE_MAX):
        raise MalformedEvent("'data.title' is empty")
    summary = data.get("summary", "")
    if summary is None:
        summary = ""
    if not isinstance(summary, str):
        raise MalformedEvent("'data.summary' must be a string")
    if len(summary) > SUMMARY_MAX:
        raise MalformedEvent(f"'data.summary' is longer than {SUMMARY_MAX} characters")
    breaking = data.get("breaking", False)
    if not isinstance(breaking, bool):
        raise MalformedEvent("'data.breaking' must be true or false")
    return StoryPublished(
        link=link,
        title=title,
        guid=_string(data, "guid", ID_MAX * 2),
        summary=summary,
        published_at=parse_time(_string(data, "published_at", 64), "data.published_at"),
        image_url=_http_link(_string(data, "image_url", LINK_MAX), "data.image_url"),
        sections=_sections(data),
        edition=edition,
        breaking=breaking,
    )


def story_document(event: StoryPublished) -> bytes:
    """The event as a JSON Feed of one item, so that the feed parser reads it by the very
    rules it reads a polled feed's items with (titles, summaries, links, images, dates and
    identity): the feed's copy of the story is then the same story, not a second one."""
    item: dict[str, Any] = {"url": event.link, "title": event.title, "summary": event.summary}
    if event.guid:
        item["id"] = event.guid
    if event.published_at:
        item["date_published"] = event.published_at.isoformat()
    if event.image_url:
        item["image"] = event.image_url
    if event.sections:
        item["tags"] = list(event.sections)
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "", "items": [item]}
    return json.dumps(document, ensure_ascii=False).encode()


READERS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    COMMENT_PUBLISHED: read_published,
    COMMENT_REJECTED: read_rejected,
    COMMENT_DELETED: read_deleted,
    STORY_PUBLISHED: read_story_published,
}


def feed_comment(draft: StoryDraft) -> CommentPublished | None:
    """A comments feed's item as ``comment.published`` (None without a link to its story).

    WordPress and most comment systems publish ``<item>``s whose link is the comment's own
    address on the article's page (``…/article/#comment-5``): the article is that link
    without its fragment; the comment's id is its guid, else that link.
    """
    if not draft.link:
        return None
    text = plain_comment(draft.summary)
    if not text:
        return None
    return CommentPublished(
        id=(draft.guid or draft.link)[:ID_MAX],
        story=StoryRef(story_link(draft.link), None),
        author=clean_plain(draft.author or "", AUTHOR_MAX) or "—",
        text=text,
        published_at=draft.published_at,
        url=draft.link,
    )


def event_body(comment: CommentPublished) -> dict[str, Any]:
    """A comment as the ``comment.published`` event the outlet would send (the feed path
    goes through the same inbox)."""
    data: dict[str, Any] = {
        "id": comment.id,
        "story": {"link": comment.story.link, "guid": comment.story.guid},
        "author": comment.author,
        "text": comment.text,
        "published_at": comment.published_at.isoformat() if comment.published_at else None,
    }
    if comment.url:
        data["url"] = comment.url
    return {"type": COMMENT_PUBLISHED, "data": data}
