"""The webhook endpoint judges a request by its headers before reading its body: forged or
oversized POSTs are answered at once, over real sockets, and never buffered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Update

from bot.webhook_server import MAX_UPDATE_BYTES, WebhookServer
from tests.auxil.raw_http import Answer, raw_post
from tests.auxil.webhook import PATH, SECRET

BIG = 40 * 1024 * 1024


async def post(
    port: int,
    *,
    secret: str | None = SECRET,
    path: str = PATH,
    method: str = "POST",
    total: int = BIG,
    declare: bool = True,
    content_type: str = "application/json",
) -> Answer:
    """A raw POST streaming ``total`` bytes, as a forger would send it."""
    headers = {"Content-Type": content_type}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return await raw_post(port, path, total=total, headers=headers, method=method, declare=declare)


@pytest.mark.parametrize(
    ("secret", "declare", "status"),
    [
        (None, True, 403),  # no secret: refused before the body
        ("wrong", True, 403),
        ("wrong", False, 403),
        (SECRET, True, 413),  # the secret, but a Content-Length past the cap
        (SECRET, False, 413),  # the secret, and a chunked body that grows past the cap
    ],
)
async def test_forged_and_oversized_posts_are_answered_before_their_body(
    webhook_server: tuple[WebhookServer, asyncio.Queue[object]],
    secret: str | None,
    declare: bool,
    status: int,
) -> None:
    hook, queue = webhook_server
    answer = await post(hook.port, secret=secret, declare=declare)
    assert answer.status == status
    # The answer came while most of the 40 MB was still unsent: the server stopped reading
    # (a server that reads the body first cannot answer before all of it has arrived).
    assert answer.sent < answer.total // 2
    assert queue.empty()


@pytest.mark.parametrize(
    ("method", "path", "content_type", "status"),
    [
        ("GET", PATH, "application/json", 405),
        ("POST", "/elsewhere", "application/json", 404),
        ("POST", PATH, "text/plain", 415),
    ],
)
async def test_anything_else_is_refused_quickly(
    webhook_server: tuple[WebhookServer, asyncio.Queue[object]],
    method: str,
    path: str,
    content_type: str,
    status: int,
) -> None:
    hook, _queue = webhook_server
    answer = await post(hook.port, method=method, path=path, content_type=content_type)
    assert answer.status == status
    assert answer.sent < answer.total // 2


async def test_a_genuine_update_is_queued_for_the_bot(
    webhook_server: tuple[WebhookServer, asyncio.Queue[object]],
) -> None:
    import aiohttp

    hook, queue = webhook_server
    update = {
        "update_id": 42,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": 7, "type": "private", "first_name": "Shilan"},
            "from": {"id": 7, "is_bot": False, "first_name": "Shilan"},
            "text": "/latest " + "k" * 4000,
        },
    }
    url = f"http://127.0.0.1:{hook.port}{PATH}"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=update, headers=headers) as response:
            assert response.status == 200
        # A body just under the cap, sent chunked (no Content-Length), is read in full.
        padded = json.dumps({**update, "pad": "p" * (MAX_UPDATE_BYTES - 5000)}).encode()
        assert len(padded) < MAX_UPDATE_BYTES

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(padded), 65536):
                yield padded[start : start + 65536]

        headers["Content-Type"] = "application/json"
        async with http.post(url, data=chunks(), headers=headers) as response:
            assert response.status == 200
        async with http.post(url, data=b"{not json", headers=headers) as response:
            assert response.status == 400
    first, second = queue.get_nowait(), queue.get_nowait()
    assert isinstance(first, Update) and isinstance(second, Update)
    assert first.update_id == second.update_id == 42
    assert first.message is not None and first.message.text == update["message"]["text"]
    assert queue.empty()


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def test_four_concurrent_40_mb_bodies_barely_move_memory(
    webhook_server: tuple[WebhookServer, asyncio.Queue[object]],
) -> None:
    hook, _queue = webhook_server
    await post(hook.port, secret=None, total=1024)  # warm up the code paths
    baseline = peak = _rss()
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss())
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    answers = await asyncio.gather(
        post(hook.port, secret=None),
        post(hook.port, secret="wrong", declare=False),
        post(hook.port, secret=SECRET),
        post(hook.port, secret=SECRET, declare=False),
    )
    done.set()
    await sampler
    growth = (peak - baseline) / 2**20
    print(f"webhook: RSS growth under four concurrent 40 MB bodies: {growth:.1f} MB")
    assert [a.status for a in answers] == [403, 403, 413, 413]
    # Buffering them would take 160 MB; the goal is under 20 MB (benchmarks/webhook_memory.py
    # measures the server alone). This process also runs the clients, hence the margin.
    assert growth < 32
