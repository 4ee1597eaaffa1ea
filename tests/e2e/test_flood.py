"""One reader must not burn the bot's budget: floods of commands against a fake Bot API that
meters each chat the way Telegram does (1 message a second in a private chat, 20 a minute in
a group), with the bot at Telegram's real pace."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from bot.handlers.errors import APOLOGY
from bot.handlers.flood import SLOW_DOWN
from tests.auxil.app_storage import follows_of
from tests.auxil.conversation import ask
from tests.fake_bot_api import FakeBotApi, FakeUser, StoredMessage

pytestmark = pytest.mark.e2e

StartBot = Callable[..., AbstractAsyncContextManager[Any]]
# Telegram's own pace, not the e2e default.
REAL_PACE = {"private_chat_rate": "1/s", "group_chat_rate": "20/min"}


# Overrides tests/conftest.py's fake_api for this module only: these tests need a fake that
# meters each chat as Telegram does, which would slow every other end-to-end test.
@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    """The fake Bot API, metering every chat as Telegram does."""
    async with FakeBotApi(per_chat_limits=True) as api:
        yield api
    assert api.internal_errors == [], "the fake Bot API itself failed"


def texts_to(api: FakeBotApi, user: FakeUser) -> list[str]:
    return [m.text or "" for m in api.sent(user)]


async def settled(api: FakeBotApi, user: FakeUser, quiet: float = 2.5) -> list[StoredMessage]:
    """The messages a chat got, once nothing more has arrived for ``quiet`` seconds."""
    count, since = -1, time.monotonic()
    while time.monotonic() - since < quiet:
        now = len(api.sent(user))
        if now != count:
            count, since = now, time.monotonic()
        await asyncio.sleep(0.05)
    return api.sent(user)


async def test_two_hundred_latest_cost_one_answer_and_one_warning_and_others_stay_fast(
    start_bot: StartBot, fake_api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    flooder, calm = fake_api.add_user("Flood"), fake_api.add_user("Calm")
    async with start_bot(**REAL_PACE):
        caplog.set_level(logging.WARNING)
        for _ in range(200):
            fake_api.send_message(flooder, None, "/latest")
        # Another reader asks in the middle of the flood and is answered at once.
        started = time.monotonic()
        fake_api.send_message(calm, None, "/latest")
        [answer] = await fake_api.wait_for_messages(calm, 1, timeout=3)
        calm_wait = time.monotonic() - started
        assert (answer.text or "").startswith("Latest stories")
        got = await settled(fake_api, flooder)
    texts = [m.text or "" for m in got]
    assert sum(t.startswith("Latest stories") for t in texts) == 1
    assert texts.count(SLOW_DOWN) == 1
    assert len(texts) == 2, texts
    assert fake_api.stats.rate_limited == 0  # nothing was refused: no 429 at all
    assert all(APOLOGY not in t for t in texts + texts_to(fake_api, calm))
    assert calm_wait < 3  # generous: the point is it did not queue behind 200 commands
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_thousand_follows_never_surface_database_is_locked(
    start_bot: StartBot, fake_api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    flooder = fake_api.add_user("Flood")
    readers = [fake_api.add_user(f"Reader{i}") for i in range(60)]
    async with start_bot(**REAL_PACE) as app:
        caplog.set_level(logging.WARNING)
        for i in range(1000):
            fake_api.send_message(flooder, None, f"/follow word{i}")
        # At the same moment, sixty readers each follow a word: sixty writes at once.
        for i, reader in enumerate(readers):
            fake_api.send_message(reader, None, f"/follow town{i}")
        for i, reader in enumerate(readers):
            [answer] = await fake_api.wait_for_messages(reader, 1, timeout=10)
            assert f"Now following town{i}" in (answer.text or "")
        got = [m.text or "" for m in await settled(fake_api, flooder)]
        followed = await follows_of(app, flooder.id)
        for reader in readers[:5]:
            assert len(await follows_of(app, reader.id)) == 1
    answered = [t for t in got if "Now following word" in t]
    assert len(answered) == len(followed)
    assert 1 <= len(followed) <= 10  # at most what 1 message a second answers in 10 s
    assert got.count(SLOW_DOWN) == 1
    assert fake_api.stats.rate_limited == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors
    assert "database is locked" not in caplog.text
    assert all(APOLOGY not in t for t in got)


async def test_nothing_is_sent_to_a_chat_before_telegrams_retry_after_and_no_apology(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    reader = fake_api.add_user("Waiting")
    async with start_bot(**REAL_PACE):
        await ask(fake_api, reader, "/help")
        await asyncio.sleep(1.1)  # the chat's one message a second is free again
        fake_api.fail_next("sendMessage", status=429, retry_after=3)
        refused_at = time.monotonic()
        before = len(fake_api.sent(reader))
        fake_api.send_message(reader, None, "/latest")
        await asyncio.sleep(0.5)
        fake_api.send_message(reader, None, "/privacy")  # asked while the chat must wait
        answers = await fake_api.wait_for_messages(reader, before + 2, timeout=10)
        arrived = time.monotonic() - refused_at
        later = await settled(fake_api, reader, quiet=1.5)
    new = [m.text or "" for m in answers[before:]]
    assert new[0].startswith("Latest stories")  # retried after the wait, in order
    assert arrived >= 3.0  # neither answer went out before the wait Telegram named
    assert all(APOLOGY not in (m.text or "") for m in later)
    assert len(later) == before + 2


async def test_a_long_retry_after_drops_the_answer_and_sends_no_apology(
    start_bot: StartBot, fake_api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    reader = fake_api.add_user("Blocked")
    async with start_bot(**REAL_PACE):
        await ask(fake_api, reader, "/help")
        await asyncio.sleep(1.1)
        fake_api.fail_next("sendMessage", status=429, retry_after=120)
        before = len(fake_api.requests)
        fake_api.send_message(reader, None, "/latest")
        await asyncio.sleep(1.0)
        fake_api.send_message(reader, None, "/privacy")  # inside the 120 s: not sent at all
        await asyncio.sleep(1.5)
        calls = [
            (method, params)
            for method, params in fake_api.requests[before:]
            if method == "sendMessage" and params.get("chat_id") == reader.id
        ]
    assert len(calls) == 1  # the refused one only: no retry, no apology, no /privacy answer
    assert "not answered: Telegram asked to wait" in caplog.text
