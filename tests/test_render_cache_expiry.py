"""The push render cache forgets renders whose minute is over (found by benchmarks/soak.py:
they stayed until 10,000 of them had piled up, a month of stories in memory for nothing)."""

from __future__ import annotations

import asyncio

import pytest

from bot.push_render import PushRenderer
from jobs.push import render_cache
from jobs.push.channels import Channels
from jobs.push.render_cache import RenderCache
from jobs.push.settings import FanoutSettings
from storage.deliveries import PUSH, DeliveryJob
from storage.engine import SessionFactory
from storage.models import PRIORITY_NEW
from tests.auxil.fanout import add_story


def job(story_id: int) -> DeliveryJob:
    return DeliveryJob(
        id=story_id,
        story_id=story_id,
        chat_id=42,
        thread_id=0,
        kind=PUSH,
        priority=PRIORITY_NEW,
        attempts=0,
        timezone=None,
        target_message_id=None,
    )


async def test_expired_renders_are_forgotten_and_live_ones_reused(
    sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render_cache, "RENDER_TTL", 0.2)
    cache = RenderCache(
        sessions, PushRenderer("UTC"), FanoutSettings(default_timezone="UTC"), Channels(None)
    )
    ids = [await add_story(sessions, f"Soak story {n}") for n in range(3)]

    first = await cache.message(job(ids[0]), [ids[0]])
    await cache.message(job(ids[1]), [ids[1]])
    assert await cache.message(job(ids[0]), [ids[0]]) is first  # reused within its minute
    assert len(cache._rendered) == 2

    await asyncio.sleep(0.25)
    await cache.message(job(ids[2]), [ids[2]])
    assert list(cache._rendered) == [((ids[2],), "UTC", "en", ())]

    again = await cache.message(job(ids[0]), [ids[0]])
    assert again is not None and again is not first  # rendered afresh after its minute
    assert len(cache._rendered) == 2
