"""Building small RSS documents for tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

# The feed samples in tests/data.
DATA = Path(__file__).resolve().parents[1] / "data"

# The two tricky stories in the end-to-end outlet's feed (tests/e2e/conftest.py): HTML's
# special characters in a title, and a right-to-left Sorani title.
HOSTILE_TITLE = 'Oil & gas: <Kirkuk> "deal" signed'
SORANI_TITLE = "پێشمەرگە و هاوپەیمانان لە هەولێر کۆبوونەوە"


@dataclass
class Item:
    """One RSS item."""

    title: str
    link: str
    guid: str | None = None
    description: str = ""
    categories: list[str] = field(default_factory=list)
    published: datetime | None = None
    image: str | None = None  # the story's picture, as an image enclosure


def rss(
    items: list[Item],
    *,
    title: str = "Rudaw English",
    language: str = "en",
    hub: str | None = None,
    self_url: str | None = None,
) -> str:
    """An RSS 2.0 document holding ``items`` in the given order; ``hub`` and ``self_url``
    advertise a WebSub hub (``<atom:link rel="hub">`` and ``rel="self"``)."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>',
        f"<title>{escape(title)}</title><link>https://www.rudaw.net/english</link>",
        f"<language>{language}</language>",
    ]
    if hub:
        parts.append(f'<atom:link rel="hub" href="{escape(hub)}"/>')
    if self_url:
        parts.append(f'<atom:link rel="self" href="{escape(self_url)}"/>')
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(item.title)}</title><link>{escape(item.link)}</link>")
        if item.guid:
            parts.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid>')
        if item.description:
            parts.append(f"<description>{escape(item.description)}</description>")
        for category in item.categories:
            parts.append(f"<category>{escape(category)}</category>")
        if item.published:
            parts.append(f"<pubDate>{format_datetime(item.published, usegmt=True)}</pubDate>")
        if item.image:
            parts.append(f'<enclosure url="{escape(item.image)}" type="image/jpeg" length="0"/>')
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts)


def rudaw_items(count: int, *, now: datetime | None = None, start: int = 0) -> list[Item]:
    """``count`` plausible Rudaw stories, alternating Kurdistan and World, newest first."""
    now = now or datetime.now(UTC)
    topics = ["Kurdistan", "World"]
    items = []
    for n in range(start, start + count):
        items.append(
            Item(
                title=f"Story {n}: Erbil and Baghdad talk budget",
                link=f"https://www.rudaw.net/english/story/{n}",
                guid=f"rudaw-{n}",
                description=f"Summary of story {n} about the Peshmerga and oil exports.",
                categories=[topics[n % 2]],
                published=now - timedelta(minutes=10 * (count - n)),
            )
        )
    return list(reversed(items))


# A feed of one story, for tests about fetching rather than parsing.
ONE_STORY_RSS = rss([Item("Erbil airport reopens", "https://www.rudaw.net/english/1", guid="1")])
