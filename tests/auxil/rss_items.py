"""Small RSS documents for the ingestion tests: items dated relative to a fixed NOW, with
just the fields a test names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

from tests.auxil.stored_items import NOW


@dataclass
class Item:
    """One RSS item; ``minutes_ago`` is relative to NOW."""

    key: str
    title: str | None = None
    minutes_ago: float = 30.0
    link: str | None = None
    guid: str | None = None
    description: str | None = None
    categories: Sequence[str] = ()
    dated: bool = True

    def xml(self) -> str:
        title = self.title if self.title is not None else f"Story {self.key}"
        link = self.link or f"https://outlet.example/news/{self.key}"
        guid = self.guid or f"urn:outlet:{self.key}"
        published = format_datetime(NOW - timedelta(minutes=self.minutes_ago), usegmt=True)
        date = f"<pubDate>{published}</pubDate>" if self.dated else ""
        description = self.description if self.description is not None else f"About {self.key}"
        categories = "".join(f"<category>{escape(c)}</category>" for c in self.categories)
        return (
            f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
            f'<guid isPermaLink="false">{escape(guid)}</guid>{date}'
            f"<description>{escape(description)}</description>{categories}</item>"
        )


def rss(items: Sequence[Item], *, title: str = "Test Outlet", encoding: str = "utf-8") -> bytes:
    document = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://outlet.example/</link>"
        f"{''.join(item.xml() for item in items)}</channel></rss>"
    )
    return document.encode(encoding)
