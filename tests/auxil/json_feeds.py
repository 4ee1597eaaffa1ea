"""Building small JSON Feed documents for tests, from the same Items as RSS (tests.auxil.feeds)."""

from __future__ import annotations

import json
from typing import Any

from tests.auxil.feeds import Item

JSON_FEED_TYPE = "application/feed+json"


def json_feed_item(item: Item) -> dict[str, Any]:
    """One JSON Feed 1.1 item for an RSS test Item (without an id when it has no guid)."""
    entry: dict[str, Any] = {"url": item.link, "title": item.title}
    if item.guid:
        entry["id"] = item.guid
    if item.description:
        entry["content_html"] = item.description
    if item.categories:
        entry["tags"] = list(item.categories)
    if item.published:
        entry["date_published"] = item.published.isoformat()
    return entry


def json_feed(
    items: list[Item], *, title: str = "Rudaw English", language: str = "en", **extra: Any
) -> str:
    """A JSON Feed 1.1 document holding ``items`` in the given order; ``extra`` adds or
    replaces top-level members."""
    document: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": "https://www.rudaw.net/english",
        "language": language,
        "items": [json_feed_item(item) for item in items],
    }
    document.update(extra)
    return json.dumps(document, ensure_ascii=False)
