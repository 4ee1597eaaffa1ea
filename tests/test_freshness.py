"""The baseline rule (news/freshness.py): which items seen for the first time are news."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from news.freshness import BASELINE_GRACE, Baseline, is_news

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SIX_HOURS = timedelta(hours=6)


def news(published: datetime | None, baseline: Baseline, now: datetime = NOW) -> bool:
    return is_news(published, baseline=baseline, now=now, push_max_age=SIX_HOURS)


@pytest.mark.parametrize("published", [None, NOW, NOW - timedelta(minutes=1)])
def test_nothing_is_news_before_the_baseline(published: datetime | None) -> None:
    assert not news(published, Baseline(taken=False))
    assert not news(published, Baseline(taken=False, empty_at=NOW - timedelta(hours=1)))


def test_after_a_baseline_with_items_only_push_max_age_holds_news_back() -> None:
    baseline = Baseline(taken=True)
    assert news(None, baseline)
    assert news(NOW, baseline)
    # A story dated long before it reached the feed is still news within PUSH_MAX_AGE.
    assert news(NOW - SIX_HOURS, baseline)
    assert not news(NOW - SIX_HOURS - timedelta(seconds=1), baseline)


def test_after_an_empty_baseline_items_from_well_before_it_are_backlog() -> None:
    empty_at = NOW - timedelta(minutes=2)
    baseline = Baseline(taken=True, empty_at=empty_at)
    edge = empty_at - BASELINE_GRACE
    # Published after the baseline, or within the grace before it: the new section's
    # first stories.
    assert news(NOW - timedelta(minutes=1), baseline)
    assert news(edge, baseline)
    # Published well before it: the old stories of a CMS that served nothing for a moment.
    assert not news(edge - timedelta(seconds=1), baseline)
    assert not news(NOW - timedelta(hours=3), baseline)
    # Undated: nothing says it is old, and it was not in the feed before.
    assert news(None, baseline)


def test_an_item_dated_in_the_future_is_news() -> None:
    for baseline in (Baseline(taken=True), Baseline(taken=True, empty_at=NOW)):
        assert news(NOW + timedelta(minutes=5), baseline)


def test_an_old_empty_baseline_leaves_push_max_age_in_charge() -> None:
    # Empty for a week, then launched: its stories of the last hours are news, older ones not.
    baseline = Baseline(taken=True, empty_at=NOW - timedelta(days=7))
    assert news(NOW - timedelta(hours=5), baseline)
    assert not news(NOW - timedelta(hours=7), baseline)


def test_the_grace_is_a_parameter() -> None:
    baseline = Baseline(taken=True, empty_at=NOW)
    one_hour = timedelta(hours=1)
    published = NOW - timedelta(minutes=30)
    assert not news(published, baseline)
    assert is_news(published, baseline=baseline, now=NOW, push_max_age=SIX_HOURS, grace=one_hour)
