"""Every scheduled job, added in one place with an explicit id, one instance at a time."""

from __future__ import annotations

import random
from datetime import timedelta

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from jobs.admin_alerts import AlertMonitor
from jobs.digests import DigestSender
from jobs.ingestion import FeedPoller
from jobs.maintenance import housekeeping
from jobs.retired_sections import RetiredSectionNotices
from news.clock import utcnow
from storage.engine import SessionFactory
from storage.feeds import FeedView


def poll_job_id(feed: FeedView) -> str:
    """The scheduler id of a feed's poll job."""
    return f"poll-feed-{feed.id}"


def register_poll_jobs(
    scheduler: BaseScheduler, poller: FeedPoller, feeds: list[FeedView], interval: float
) -> list[str]:
    """One job per feed, so a slow feed never delays another; first runs spread out a little."""
    ids = []
    now = utcnow()
    for index, feed in enumerate(feeds):
        # Spread first polls over a second or two so a restart does not hit every feed at once.
        first = now + timedelta(seconds=min(index * 0.2, 2.0) + random.uniform(0, 0.2))
        job = scheduler.add_job(
            poller.poll_due,
            trigger=IntervalTrigger(seconds=interval),
            args=[feed.id],
            id=poll_job_id(feed),
            name=f"poll {feed.url}",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(interval)),
            next_run_time=first,
        )
        ids.append(job.id)
    return ids


def register_push_jobs(
    scheduler: BaseScheduler,
    digests: DigestSender,
    sessions: SessionFactory,
    comment_window: timedelta,
    retention: timedelta,
    alerts: AlertMonitor,
    notices: RetiredSectionNotices | None = None,
) -> list[str]:
    """Digests every five minutes (each reader's own hour decides), admin alerts every
    minute, housekeeping every night, and hourly the notices about sections no longer
    offered."""
    ids = ["send-digests", "housekeeping", "admin-alerts"]
    if notices is not None:
        scheduler.add_job(
            notices.send_due,
            trigger=IntervalTrigger(hours=1),
            id="retired-section-notices",
            name="tell chats once that sections they follow are no longer offered",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            # Not at once: an operator who upgraded without SECTIONS has a few minutes to
            # notice the warning and restart with it before any reader is told.
            next_run_time=utcnow() + timedelta(minutes=5),
        )
        ids.append("retired-section-notices")
    scheduler.add_job(
        digests.send_due,
        trigger=IntervalTrigger(minutes=5),
        id="send-digests",
        name="send due digests",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        next_run_time=utcnow() + timedelta(seconds=30),
    )
    scheduler.add_job(
        housekeeping,
        trigger=CronTrigger(hour=3, minute=30, timezone="UTC"),
        args=[sessions],
        kwargs={"comment_window": comment_window, "retention_period": retention},
        id="housekeeping",
        name="prune delivery records past the comment window and data past retention",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        alerts.check,
        trigger=IntervalTrigger(minutes=1),
        id="admin-alerts",
        name="tell the admins about trouble, once per change",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        next_run_time=utcnow() + timedelta(seconds=20),
    )
    return ids


def remove_jobs(scheduler: BaseScheduler, job_ids: list[str]) -> None:
    """Unschedule jobs (an instance that stops leading stops polling and pushing)."""
    for job_id in job_ids:
        if scheduler.get_job(job_id) is not None:
            scheduler.remove_job(job_id)
