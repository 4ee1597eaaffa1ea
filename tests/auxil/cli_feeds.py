"""The outlet the CLI tests poll: a World feed and an Everything feed (the cli_outlet fixture),
dated relative to the real clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

# The CLI reads the real clock: stories are dated relative to it, to the minute.
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def rss(title: str, items: Sequence[tuple[str, str, float, Sequence[str]]]) -> bytes:
    """An RSS document; each item is (key, title, minutes before NOW, categories)."""
    parts = []
    for key, item_title, minutes_ago, categories in items:
        published = format_datetime(NOW - timedelta(minutes=minutes_ago), usegmt=True)
        tags = "".join(f"<category>{escape(c)}</category>" for c in categories)
        parts.append(
            f"<item><title>{escape(item_title)}</title>"
            f"<link>https://outlet.example/{key}</link><guid>urn:{key}</guid>"
            f"<pubDate>{published}</pubDate><description>About {escape(item_title)}</description>"
            f"{tags}</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title>{''.join(parts)}</channel></rss>"
    ).encode()


WORLD = [
    ("w1", "Oil prices climb after OPEC meeting", 120, ()),
    ("w2", "Drought threatens harvest across Iraq", 60, ()),
]
ALL = [("a1", "Erbil marathon draws record crowd", 90, ("Sport",))]
