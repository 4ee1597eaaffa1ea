"""Which items, stored for the first time, are news (pushed) and which are backlog (kept only).

A feed's **baseline** is its first successful poll, whether or not it held items: what it
held is backlog, and what appears after it may be news. A newly launched section or
edition answers with an empty feed at first; its first stories, breaking ones included, are
news like any other.

The pure rule is ``is_news``; ``jobs.ingestion`` applies it to every item of a poll, and
storage marks the unseen ones it names as waiting for fan-out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# How long before an empty baseline an item may say it was published and still be news.
# Publication dates lag behind reality (a story dated when its draft was started, a CDN
# serving the feed a few minutes stale), so a strict "after the baseline" would hold back a
# new section's first story; hours of old stories, as a CMS that served an empty feed for a
# moment and then the full one would show, lie well outside it.
BASELINE_GRACE = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Baseline:
    """A feed's baseline as storage knows it when a poll starts."""

    taken: bool  # a successful poll has been stored
    empty_at: datetime | None = None  # when it was taken, if the feed held no items then


def is_news(
    published_at: datetime | None,
    *,
    baseline: Baseline,
    now: datetime,
    push_max_age: timedelta,
    grace: timedelta = BASELINE_GRACE,
) -> bool:
    """Whether an item seen for the first time at ``now`` is news (else it is backlog).

    - Before the baseline (the poll that takes it), nothing is news.
    - An undated item is news: nothing says it is old, and it was not there before.
    - An item published more than ``push_max_age`` ago is backlog (PUSH_MAX_AGE).
    - After an empty baseline, an item published before ``baseline.empty_at - grace`` is
      backlog: it would have been in the feed when it was seen empty, unless the outlet
      published it late or the CMS served nothing for a while, and neither is news.
    - Anything else is news, an item dated in the future included (parsing has already
      turned a date more than a few minutes ahead into ``now``).
    """
    if not baseline.taken:
        return False
    if published_at is None:
        return True
    if published_at < now - push_max_age:
        return False
    return baseline.empty_at is None or published_at >= baseline.empty_at - grace
