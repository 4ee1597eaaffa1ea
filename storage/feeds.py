"""Feed rows and their polling state: registering configured feeds, recording poll outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Feed, Story


@dataclass(frozen=True, slots=True)
class FeedView:
    """A feed's configuration and polling state, detached from the session."""

    id: int
    url: str
    section: str | None
    title: str | None
    etag: str | None
    last_modified: str | None
    initialized: bool
    consecutive_failures: int
    last_error: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime | None
    edition: str = "en"
    empty_baseline_at: datetime | None = None  # the baseline was taken then, and was empty


def _view(feed: Feed) -> FeedView:
    assert feed.id is not None
    return FeedView(
        id=feed.id,
        url=feed.url,
        section=feed.section,
        title=feed.title,
        etag=feed.etag,
        last_modified=feed.last_modified,
        initialized=feed.initialized,
        consecutive_failures=feed.consecutive_failures,
        last_error=feed.last_error,
        last_attempt_at=feed.last_attempt_at,
        last_success_at=feed.last_success_at,
        next_poll_at=feed.next_poll_at,
        edition=feed.edition,
        empty_baseline_at=feed.empty_baseline_at,
    )


async def register_feeds(
    session: AsyncSession, specs: list[tuple[str, str | None, str]], now: datetime
) -> list[FeedView]:
    """Make sure every configured ``(url, section, edition)`` has a row; return them in
    config order. A feed moved to another edition takes its stories along."""
    rows = {f.url: f for f in (await session.exec(select(Feed))).all()}
    result = []
    moved: list[Feed] = []
    for url, section, edition in specs:
        feed = rows.get(url)
        if feed is None:
            feed = Feed(url=url, section=section, edition=edition, created_at=now)
            session.add(feed)
        else:
            if feed.section != section:
                feed.section = section
            if feed.edition != edition:
                feed.edition = edition
                moved.append(feed)
        result.append(feed)
    await session.flush()
    for feed in moved:
        await session.exec(
            update(Story)
            .where(col(Story.feed_id) == feed.id, col(Story.edition) != feed.edition)
            .values(edition=feed.edition)
        )
    return [_view(f) for f in result]


async def get_feed(session: AsyncSession, feed_id: int) -> FeedView | None:
    """One feed's current state."""
    feed = await session.get(Feed, feed_id)
    return _view(feed) if feed else None


async def list_feeds(session: AsyncSession) -> list[FeedView]:
    """Every known feed, oldest first."""
    return [_view(f) for f in (await session.exec(select(Feed).order_by(Feed.id))).all()]  # type: ignore[arg-type]


async def record_poll_success(
    session: AsyncSession,
    feed_id: int,
    *,
    now: datetime,
    etag: str | None,
    last_modified: str | None,
    title: str | None,
    has_items: bool = True,
) -> None:
    """A fetch whose items are all stored: keep its validators, clear the error state, and
    make the first one the feed's baseline (noting when, if it held no items)."""
    feed = await session.get(Feed, feed_id)
    if feed is None:
        return
    feed.etag = etag
    feed.last_modified = last_modified
    if title:
        feed.title = title
    # An empty first answer is a baseline too (a newly launched section): what appears after
    # it is news, except what was published well before it (news.freshness).
    if not feed.initialized:
        feed.initialized = True
        feed.empty_baseline_at = None if has_items else now
    feed.consecutive_failures = 0
    feed.last_error = None
    feed.last_attempt_at = now
    feed.last_success_at = now
    feed.next_poll_at = None


async def record_not_modified(session: AsyncSession, feed_id: int, *, now: datetime) -> None:
    """A 304 Not Modified of a healthy feed: a success, recorded as its last one.

    One UPDATE by primary key, without loading the row: validators, title and the error
    state are unchanged by a 304 (a failing feed's recovery goes through
    ``record_poll_success``)."""
    await session.exec(
        update(Feed)
        .where(col(Feed.id) == feed_id)
        .values(last_success_at=now, last_attempt_at=now)
    )


async def record_poll_failure(
    session: AsyncSession, feed_id: int, *, now: datetime, error: str, next_poll_at: datetime
) -> int:
    """A failed fetch or parse; returns the new count of consecutive failures."""
    feed = await session.get(Feed, feed_id)
    if feed is None:
        return 0
    feed.consecutive_failures += 1
    feed.last_error = error[:500]
    feed.last_attempt_at = now
    feed.next_poll_at = next_poll_at
    return feed.consecutive_failures
