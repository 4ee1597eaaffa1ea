"""Feed items straight into storage, for the storage tests: a draft, a feed, a store call
with the news-or-backlog rule applied as ingestion applies it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from news.freshness import Baseline, is_news
from news.story_draft import StoryDraft
from storage import feeds as feed_store
from storage import stories as story_store
from storage.engine import SessionFactory, writing
from storage.records import IngestOutcome

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def draft(key: str, *, hours_ago: float | None = 1.0, **fields: Any) -> StoryDraft:
    """A feed item ``key`` published ``hours_ago`` before NOW (None: no date)."""
    values: dict[str, Any] = {
        "identity": f"guid:{key}",
        "guid": key,
        "title": f"Story {key}",
        "link": f"https://example.org/news/{key}",
        "summary": f"Summary of {key}",
        "published_at": None if hours_ago is None else NOW - timedelta(hours=hours_ago),
    }
    values.update(fields)
    return StoryDraft(**values)


async def add_feed(sessions: SessionFactory, url: str, section: str | None = None) -> int:
    async with writing(sessions) as session:
        [feed] = await feed_store.register_feeds(session, [(url, section, "en")], NOW)
    return feed.id


async def store(
    sessions: SessionFactory,
    feed_id: int,
    items: Sequence[tuple[StoryDraft, Sequence[str]]],
    *,
    announce: bool,
    now: datetime = NOW,
    max_age: timedelta = timedelta(hours=6),
) -> IngestOutcome:
    baseline = Baseline(taken=announce)
    news = frozenset(
        d.identity
        for d, _ in items
        if is_news(d.published_at, baseline=baseline, now=now, push_max_age=max_age)
    )
    policy = story_store.IngestPolicy(now=now, news=news)
    async with writing(sessions) as session:
        return await story_store.store_feed_items(session, feed_id, items, policy)
