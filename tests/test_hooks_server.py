"""The outlet's events endpoint over real HTTP, fed by the README's example sender: valid,
wrong and stale signatures, replays, malformed and oversized bodies, unknown types."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.hooks_server import PATH, HooksServer
from jobs.outlet_inbox import InboxSettings, OutletInbox
from news.standard_webhooks import secret_key, sign
from storage import inbox
from storage.engine import SessionFactory
from tests.auxil.readme import README

SECRET = "whsec_" + base64.b64encode(b"the outlet signs its events 2026").decode()
KEY = secret_key(SECRET)
EVENT = {
    "id": "c1",
    "story": {"link": "https://example.org/news/a"},
    "author": "Shilan",
    "text": "Hello",
    "published_at": "2026-11-25T11:00:00Z",
}

Sender = Callable[..., Awaitable[int]]


def sender_source() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- sender-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README.md lost its sender example"
    return match.group(1)


@pytest.fixture
async def endpoint(sessions: SessionFactory) -> AsyncIterator[tuple[str, OutletInbox]]:
    box = OutletInbox(sessions, InboxSettings())
    server = HooksServer(box, KEY, listen="127.0.0.1", port=0, max_body=64 * 1024)
    await server.start()
    try:
        yield f"http://127.0.0.1:{server.port}{PATH}", box
    finally:
        await server.stop()


@pytest.fixture
def send_event(monkeypatch: pytest.MonkeyPatch) -> Sender:
    """The README's sender, run as printed."""
    monkeypatch.setenv("OUTLET_HOOKS_SECRET", SECRET)
    namespace: dict[str, Any] = {"__name__": "readme_sender"}
    exec(compile(sender_source(), "README.md", "exec"), namespace)
    return namespace["send_event"]  # type: ignore[no-any-return]


async def post(
    url: str,
    body: bytes,
    *,
    message_id: str = "msg_x",
    key: bytes = KEY,
    when: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    when = when or datetime.now(UTC)
    sent = {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": sign(key, message_id, when, body),
        **(headers or {}),
    }
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=sent) as r:
        return r.status, await r.json(content_type=None)


async def counts(sessions: SessionFactory) -> dict[str, int]:
    async with sessions() as session:
        return await inbox.inbox_counts(session)


async def test_a_signed_event_is_kept_and_a_replay_changes_nothing(
    endpoint: tuple[str, OutletInbox], send_event: Sender, sessions: SessionFactory
) -> None:
    url, _ = endpoint
    assert await send_event(url, "comment.published", EVENT, "msg_1") == 200
    assert await send_event(url, "comment.published", {**EVENT, "text": "Changed"}, "msg_1") == 200
    assert await counts(sessions) == {"pending": 1}
    status, answer = await post(
        url, json.dumps({"type": "comment.published", "data": EVENT}).encode(), message_id="msg_1"
    )
    assert (status, answer) == (200, {"ok": True, "result": "repeat"})
    # A type nobody handles yet (issue 18's story.published, say): acknowledged, ignored.
    assert await send_event(url, "story.published", {"id": "s1"}) == 202
    assert await counts(sessions) == {"pending": 1}


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong key", "wrong signature"),
        ("stale", "more than five minutes away"),
        ("future", "more than five minutes away"),
        ("unsigned", "missing"),
    ],
)
async def test_bad_signatures_get_401_and_change_nothing(
    endpoint: tuple[str, OutletInbox], sessions: SessionFactory, case: str, reason: str
) -> None:
    url, _ = endpoint
    body = json.dumps({"type": "comment.published", "data": EVENT}).encode()
    now = datetime.now(UTC)
    kwargs: dict[str, Any] = {
        "wrong key": {"key": b"not the outlet's key"},
        "stale": {"when": now - timedelta(minutes=6)},
        "future": {"when": now + timedelta(minutes=6)},
        "unsigned": {"headers": {"webhook-signature": ""}},
    }[case]
    status, answer = await post(url, body, **kwargs)
    assert status == 401 and reason in answer["error"]
    assert await counts(sessions) == {}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "the body is not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"data": {}}', "'type' must be a short string"),
        (
            json.dumps({"type": "comment.published", "data": {**EVENT, "story": {}}}).encode(),
            "needs 'link' or 'guid'",
        ),
        (
            json.dumps({"type": "comment.published", "data": {**EVENT, "author": ""}}).encode(),
            "'data.author' is missing",
        ),
        (json.dumps({"type": "comment.deleted", "data": {}}).encode(), "'data.id' is missing"),
    ],
)
async def test_malformed_bodies_get_400_with_a_one_line_reason(
    endpoint: tuple[str, OutletInbox], sessions: SessionFactory, body: bytes, reason: str
) -> None:
    url, _ = endpoint
    status, answer = await post(url, body)
    assert status == 400 and reason in answer["error"] and "\n" not in answer["error"]
    assert await counts(sessions) == {}


async def test_oversized_and_misdirected_requests_are_refused_before_reading(
    endpoint: tuple[str, OutletInbox], sessions: SessionFactory
) -> None:
    url, _ = endpoint
    huge = json.dumps({"type": "comment.published", "data": {**EVENT, "text": "x" * 200_000}})
    status, _ = await post(url, huge.encode())
    assert status == 413
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as r:
            assert r.status == 405
        async with http.post(url.replace(PATH, "/other"), data=b"{}") as r:
            assert r.status == 404
        # Unsigned and huge: refused on its headers, 401, whatever follows.
        async with http.post(
            url, data=b"x" * 1_000_000, headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == 401
    assert await counts(sessions) == {}
