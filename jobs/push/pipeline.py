"""What flows between the parts of the fan-out: a unit per message, and the signals by which
each part tells the others there is work or room."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from storage.deliveries import PUSH, DeliveryJob

MAX_GROUP = 8  # stories in one grouped message


@dataclass(slots=True)
class Unit:
    """What one message carries: one delivery, or several of one chat grouped together."""

    jobs: list[DeliveryJob]
    chat_id: int = 0
    attempts: int = 0

    def __post_init__(self) -> None:
        self.chat_id = self.jobs[0].chat_id
        self.attempts = max(j.attempts for j in self.jobs)


@dataclass(slots=True)
class Signals:
    """The events the parts wake each other with."""

    work: asyncio.Event = field(default_factory=asyncio.Event)  # new broadcasts to enumerate
    due: asyncio.Event = field(default_factory=asyncio.Event)  # new deliveries to send
    drained: asyncio.Event = field(default_factory=asyncio.Event)  # the sender made room
    taken: asyncio.Event = field(default_factory=asyncio.Event)  # a worker took a unit
    # The fan-out is stopping: loops end after the step they are in (never mid-transaction).
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def stop(self) -> None:
        """Ask every loop to end, waking those that wait."""
        self.stopping.set()
        for event in (self.work, self.due, self.drained, self.taken):
            event.set()


def group_units(jobs: Sequence[DeliveryJob]) -> list[Unit]:
    """One unit per delivery, except several new pushes to one chat (topic) become one."""
    units: list[Unit] = []
    pushes: dict[tuple[int, int, int], list[DeliveryJob]] = {}
    for job in jobs:
        if job.kind == PUSH:
            # Breaking news is never folded into a list of ordinary stories.
            pushes.setdefault((job.chat_id, job.thread_id, job.priority), []).append(job)
        else:
            units.append(Unit([job]))
    for group in pushes.values():
        for start in range(0, len(group), MAX_GROUP):
            units.append(Unit(group[start : start + MAX_GROUP]))
    units.sort(key=lambda u: (min(j.priority for j in u.jobs), min(j.id for j in u.jobs)))
    return units
