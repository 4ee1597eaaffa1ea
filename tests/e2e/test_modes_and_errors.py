"""Webhook mode (with its secret and without), error handling, and secrets kept out of the
logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
import pytest

from tests.auxil.conversation import ask
from tests.auxil.ports import free_port
from tests.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.e2e


async def test_webhook_mode_serves_updates_and_rejects_forged_requests(
    start_bot: Callable[..., AbstractAsyncContextManager[Any]], fake_api: FakeBotApi
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    async with start_bot(
        webhook_url=url,
        webhook_listen="127.0.0.1",
        webhook_port=port,
        webhook_secret="s3cret-Token",
    ):
        (set_webhook,) = fake_api.calls("setWebhook")
        assert set_webhook["url"] == url
        assert set_webhook["secret_token"] == "s3cret-Token"

        user = fake_api.add_user()
        reply = await ask(fake_api, user, "/latest")
        assert (reply.text or "").startswith("Latest stories")

        forged = {
            "update_id": 999_999,
            "message": {
                "message_id": 77,
                "date": 1_700_000_000,
                "chat": {"id": user.id, "type": "private", "first_name": "X"},
                "from": {"id": user.id, "is_bot": False, "first_name": "X"},
                "text": "/subscribe",
                "entities": [{"type": "bot_command", "offset": 0, "length": 10}],
            },
        }
        sent_before = len(fake_api.sent(user.id))
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(url, json=forged, headers=headers) as response:
                    assert response.status == 403
        # A genuine update afterwards is answered, and the forged ones never were.
        reply = await ask(fake_api, user, "/help")
        assert "What I can do" in (reply.text or "")
        assert len(fake_api.sent(user.id)) == sent_before + 1
        assert fake_api.calls("getUpdates") == []


async def test_webhook_without_secret_rejects_forged_requests(
    start_bot: Callable[..., AbstractAsyncContextManager[Any]], fake_api: FakeBotApi
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    async with start_bot(webhook_url=url, webhook_listen="127.0.0.1", webhook_port=port):
        user = fake_api.add_user()
        forged = {
            "update_id": 999_999,
            "message": {
                "message_id": 77,
                "date": 1_700_000_000,
                "chat": {"id": user.id, "type": "private", "first_name": "X"},
                "from": {"id": user.id, "is_bot": False, "first_name": "X"},
                "text": "/help",
                "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            },
        }
        async with aiohttp.ClientSession() as http, http.post(url, json=forged) as response:
            assert response.status == 403


async def test_a_failing_update_is_logged_and_answered_politely(
    app: Any, fake_api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    user = fake_api.add_user()
    fake_api.fail_next("sendMessage", status=400, description="Bad Request: something odd")
    with caplog.at_level(logging.ERROR, logger="bot.handlers.errors"):
        apology = await ask(fake_api, user, "/latest")
    assert "something went wrong" in (apology.text or "")
    assert any("update=" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)
    # The bot keeps serving.
    reply = await ask(fake_api, user, "/latest")
    assert (reply.text or "").startswith("Latest stories")


async def test_bot_token_never_reaches_the_logs(
    start_bot: Callable[..., AbstractAsyncContextManager[Any]],
    fake_api: FakeBotApi,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from bot.logs import configure_logging

    configure_logging("DEBUG", "text", secrets=[fake_api.token])
    try:
        async with start_bot(log_level="DEBUG"):
            user = fake_api.add_user()
            await ask(fake_api, user, "/start")
            logging.getLogger("test").debug("url https://x/bot%s/getMe", fake_api.token)
        out, err = capfd.readouterr()
    finally:
        logging.getLogger().handlers.clear()
    assert "getUpdates" in err or "getMe" in err  # DEBUG logging really was on
    assert fake_api.token not in out + err
    assert "[REDACTED]" in err


async def test_check_reaches_feeds_and_the_bot_api(
    bot_settings: Callable[..., Any], fake_api: FakeBotApi, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.checks import run_checks

    assert await run_checks(bot_settings()) == 0
    out = capsys.readouterr().out
    assert "Feed http://127.0.0.1" in out and "OK — 'Rudaw English': 12 items" in out
    assert "Telegram Bot API: OK — @newsbot_test_bot" in out

    assert await run_checks(bot_settings(telegram_bot_token="999:WRONG")) == 1
    assert "Telegram Bot API: FAILED" in capsys.readouterr().out
