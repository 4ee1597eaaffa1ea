"""Parsing in a child process (jobs/parse_process.py): the same answer as parse_feed, errors
across the process boundary, and a cancelled parse that takes its child with it."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobs.parse_process import parse_in_child_process
from news.feed_parsing import NotAFeedError, parse_feed
from tests.auxil.feeds import DATA
from tests.auxil.rss_items import Item, rss

NOW = datetime(2026, 2, 18, 12, 0, tzinfo=UTC)
URL = "https://www.rudaw.net/english/rss"


def children() -> set[int]:
    """Process ids of this process's children (Linux /proc)."""
    found: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        text = (task / "children").read_text()
        found.update(int(pid) for pid in text.split())
    return found


async def test_the_child_answers_as_parse_feed_does() -> None:
    body = (DATA / "rudaw_english.rss").read_bytes()
    expected = parse_feed(body, url=URL, now=NOW, max_items=3)
    parsed = await parse_in_child_process(
        body, url=URL, content_type="application/rss+xml", now=NOW, max_items=3
    )
    assert parsed == expected
    assert (len(parsed.entries), parsed.item_count) == (3, 4)


async def test_not_a_feed_crosses_the_process_boundary() -> None:
    body = (DATA / "login_page.html").read_bytes()
    with pytest.raises(NotAFeedError, match="HTML page"):
        await parse_in_child_process(
            body, url=URL, content_type="text/html", now=NOW, max_items=None
        )


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
async def test_a_cancelled_parse_kills_its_child() -> None:
    body = rss([Item(str(n)) for n in range(40_000)])  # seconds of feedparser
    before = children()
    parsing = asyncio.create_task(
        parse_in_child_process(body, url=URL, content_type=None, now=NOW, max_items=None)
    )
    started: set[int] = set()
    while not started:
        await asyncio.sleep(0.01)
        started = children() - before
    [child] = started
    parsing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await parsing
    assert child not in children()
    assert not os.path.exists(f"/proc/{child}")  # noqa: ASYNC240 - killed and reaped
