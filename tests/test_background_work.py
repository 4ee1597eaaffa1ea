"""One registry lists every piece of background work, and only its runner starts any.

The first test reads bot/ and jobs/ with ``ast``: a call that schedules a job or starts a
loop outside ``jobs/registry.py`` fails it (a component may still spawn its own internal
tasks once the registry starts it: those are ``asyncio.create_task``, not listed here).
"""

from __future__ import annotations

import ast
import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from jobs.feed_polling import FeedPolling
from jobs.leadership import Leadership
from jobs.registry import (
    BackgroundParts,
    BackgroundRunner,
    LongRunning,
    ScheduledJob,
    background_work,
)
from storage.leader_lock import LeaderLock

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "jobs" / "registry.py"
# Scheduling calls (APScheduler's and PTB's JobQueue's) and the start of an election or of a
# Telegram update source.
SCHEDULING = {"add_job", "run_repeating", "run_once", "run_daily", "run_monthly", "run_custom"}
STARTING = {"start", "start_polling", "start_webhook"}
# ``x.start()`` that starts no background work: the starts inside the loops themselves (a
# server starting its own socket, a loop starting its own thread) and PTB's Application
# (its update processing and job queue, which the registry's jobs run in).
OWN_STARTS = {
    # The three endpoints' own sockets, opened by the listener they share.
    ("bot/listener.py", "TCPSite"),
    ("bot/ops_server.py", "_listener"),
    ("bot/webhook_server.py", "_listener"),
    ("bot/hooks_server.py", "_listener"),
    ("bot/app.py", "application"),
    ("bot/app.py", "runner"),  # the registry's runner itself
    ("bot/app.py", "updater"),  # in TelegramPolling, which the registry starts
    ("bot/app.py", "server"),  # in TelegramWebhook, which the registry starts
    ("jobs/ingestion.py", "Thread"),  # the parse thread of one poll
}


def _receiver(node: ast.Call) -> str:
    """The name a method is called on: ``server`` in ``server.start()``, ``Thread`` in
    ``threading.Thread(...).start()``."""
    assert isinstance(node.func, ast.Attribute)
    value = node.func.value
    while isinstance(value, ast.Call):
        value = value.func
    if isinstance(value, ast.Attribute):
        return value.attr
    return value.id if isinstance(value, ast.Name) else type(value).__name__


def background_starts(path: Path, relative: str | None = None) -> list[str]:
    relative = relative or path.relative_to(ROOT).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name, receiver = node.func.attr, _receiver(node)
        if name in SCHEDULING or (name in STARTING and (relative, receiver) not in OWN_STARTS):
            found.append(f"{relative}:{node.lineno} {receiver}.{name}()")
    return found


def test_background_work_is_started_only_by_the_registry() -> None:
    sources = sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "jobs").rglob("*.py")])
    assert REGISTRY in sources and len(sources) > 40
    outside = [hit for path in sources if path != REGISTRY for hit in background_starts(path)]
    assert outside == []
    # The guard sees what it guards: the registry itself schedules and starts.
    inside = background_starts(REGISTRY)
    assert any("add_job" in hit for hit in inside)
    assert any(".start()" in hit for hit in inside)


def test_the_guard_catches_a_job_scheduled_or_a_loop_started_elsewhere(tmp_path: Path) -> None:
    stray = tmp_path / "stray.py"
    stray.write_text(
        "async def f(app, relay):\n"
        "    app.job_queue.run_repeating(f, interval=60)\n"
        "    await relay.start()\n",
        encoding="utf-8",
    )
    assert background_starts(stray, "jobs/stray.py") == [
        "jobs/stray.py:2 job_queue.run_repeating()",
        "jobs/stray.py:3 relay.start()",
    ]


class Recorder:
    """A loop, a job or a poller that records what was done to it."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log
        self.limiter = self  # as a broadcaster: PushFanout pauses its limiter first
        self.window = 1.0

    def pause(self, seconds: float) -> None:
        self.log.append(f"{self.name}.pause")

    async def start(self) -> None:
        self.log.append(f"{self.name}.start")

    async def stop(self) -> None:
        self.log.append(f"{self.name}.stop")

    async def poll_due(self, feed_id: int) -> None:
        return None

    async def send_due(self) -> int:
        return 0

    async def check(self) -> list[Any]:
        self.log.append(f"{self.name}.check")
        return []

    async def warn_operator(self) -> None:
        self.log.append(f"{self.name}.warn")


def _parts(log: list[str], **overrides: Any) -> BackgroundParts:
    values: dict[str, Any] = {
        "sessions": None,
        "feed_polling": FeedPolling(Recorder("poller", log), [], 30.0),  # type: ignore[arg-type]
        "comment_window": timedelta(days=14),
        "retention": timedelta(days=365),
        "broadcaster": Recorder("fanout", log),
        "digests": Recorder("digests", log),
        "alerts": Recorder("alerts", log),
        "notices": Recorder("notices", log),
        "relay": Recorder("relay", log),
        "moderation_cards": Recorder("cards", log).send_due,
        "ops_server": Recorder("ops", log),
        "channel_check": Recorder("channels", log).check,
        "telegram_webhook": None,
        "telegram_polling": Recorder("updates", log),
    }
    values.update(overrides)
    return BackgroundParts(**values)


def test_the_registry_lists_every_piece_with_its_schedule_and_leader_flag() -> None:
    work = background_work(_parts([]))
    listed = {item.id: item for item in work}
    assert [(item.id, item.leader_only) for item in work] == [
        ("ops-server", False),
        ("check-channels-at-start", False),
        ("check-channels", False),
        ("comment-relay", False),
        ("push-fanout", True),
        ("poll-feeds", True),
        ("retired-section-notices", True),
        ("send-digests", True),
        ("housekeeping", True),
        ("compact-deliveries", True),
        ("admin-alerts", True),
        ("resend-moderation-cards", True),
        ("warn-retired-sections", True),
        ("telegram-polling", True),
    ]
    schedules = {
        item.id: (item.trigger, item.first_run_in)
        for item in work
        if isinstance(item, ScheduledJob)
    }
    assert {k: (str(t), f) for k, (t, f) in schedules.items()} == {
        "retired-section-notices": (
            str(IntervalTrigger(hours=1)),
            timedelta(minutes=5),
        ),
        "send-digests": (str(IntervalTrigger(minutes=5)), timedelta(seconds=30)),
        "housekeeping": (str(CronTrigger(hour=3, minute=30, timezone="UTC")), None),
        "compact-deliveries": (str(IntervalTrigger(minutes=5)), timedelta(minutes=1)),
        "admin-alerts": (str(IntervalTrigger(minutes=1)), timedelta(seconds=20)),
        "resend-moderation-cards": (str(IntervalTrigger(seconds=60)), timedelta(seconds=60)),
        "check-channels": (str(IntervalTrigger(seconds=300)), timedelta(seconds=300)),
    }
    assert isinstance(listed["poll-feeds"], LongRunning)
    assert isinstance(listed["check-channels-at-start"], LongRunning)

    # In webhook mode every instance takes updates and nobody long-polls; without pushes,
    # comments or METRICS_PORT, what is left is feed polling.
    webhook = background_work(
        _parts([], telegram_webhook=Recorder("webhook", []), telegram_polling=None)
    )
    assert ("telegram-webhook", False) in [(w.id, w.leader_only) for w in webhook]
    assert "telegram-polling" not in [w.id for w in webhook]
    # The outlet's events: every instance processes, polls its turn and listens, in that order.
    outlet = background_work(
        _parts(
            [],
            outlet_inbox=Recorder("inbox", []),
            comments_feed=Recorder("feed", []),
            hooks_server=Recorder("hooks", []),
        )
    )
    assert [(w.id, w.leader_only) for w in outlet][4:7] == [
        ("outlet-inbox", False),
        ("comments-feed", False),
        ("outlet-hooks", False),
    ]
    bare = background_work(
        _parts(
            [],
            broadcaster=None,
            digests=None,
            alerts=None,
            notices=None,
            relay=None,
            moderation_cards=None,
            ops_server=None,
            channel_check=None,
            telegram_polling=None,
        )
    )
    assert [w.id for w in bare] == ["poll-feeds"]


EVERYWHERE = ["ops-server", "check-channels-at-start", "check-channels", "comment-relay"]


class SwitchLock(LeaderLock):
    """A lock the test hands out and takes back."""

    def __init__(self) -> None:
        self.free = True
        self.held = False

    async def try_acquire(self) -> bool:
        if self.free and not self.held:
            self.held = True
        return self.held

    async def still_held(self) -> bool:
        return self.held

    async def release(self) -> None:
        self.held = False


async def test_the_runner_starts_the_leaders_work_on_election_and_stops_it_in_reverse() -> None:
    log: list[str] = []
    scheduler = AsyncIOScheduler()
    scheduler.start(paused=True)
    lock = SwitchLock()
    lock.free = False  # a standby first
    leadership = Leadership(lock, retry_interval=0.02)
    runner = BackgroundRunner(background_work(_parts(log)), scheduler, leadership)
    try:
        await runner.start()
        await asyncio.sleep(0.1)
        # Every instance checks the channels before the leader's fan-out may post.
        assert log == ["ops.start", "channels.check", "relay.start"]
        assert [job.id for job in scheduler.get_jobs()] == ["check-channels"]
        assert runner.running_ids() == EVERYWHERE

        lock.free = True  # the leader went away
        await asyncio.wait_for(leadership.elected.wait(), 2)
        assert log[3:] == ["fanout.pause", "fanout.start", "notices.warn", "updates.start"]
        assert sorted(job.id for job in scheduler.get_jobs()) == [
            "admin-alerts",
            "check-channels",
            "compact-deliveries",
            "housekeeping",
            "resend-moderation-cards",
            "retired-section-notices",
            "send-digests",
        ]
        assert all(job.max_instances == 1 and job.coalesce for job in scheduler.get_jobs())

        del log[:]
        lock.free = False
        lock.held = False  # the lock is lost (another instance took it): step down
        await asyncio.sleep(0.1)
        assert log == ["updates.stop", "poller.stop", "fanout.stop"]
        assert [job.id for job in scheduler.get_jobs()] == ["check-channels"]
        assert runner.running_ids() == EVERYWHERE
    finally:
        del log[:]
        await runner.stop()
        scheduler.shutdown(wait=False)
    assert log == ["relay.stop", "ops.stop"]
    assert runner.running_ids() == []
