"""Every command answers the longest argument a reader can send with a helpful message that
Telegram accepts: nothing a reader typed is echoed back untrimmed."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from telegram.ext import CommandHandler

from bot.handlers.errors import APOLOGY
from tests.auxil.conversation import ask
from tests.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.e2e

# Telegram delivers at most 4,096 characters in one message (longer text arrives split), so
# this is the longest argument there is: markup-like characters, letters of three scripts,
# and emoji (two UTF-16 units each, as Telegram counts).
PATTERN = 'Kirkuk <b>&amp; هەولێر 🛢️ "x" \' '


def longest_arguments(command: str) -> list[str]:
    """Many words, and one word without a space."""
    room = 4096 - len(f"/{command} ")
    words = (PATTERN * (room // len(PATTERN) + 1))[:room]
    return [words, words.replace(" ", "_")]


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def registered_commands(application: Any) -> list[str]:
    return sorted(
        {
            command
            for handlers in application.handlers.values()
            for handler in handlers
            if isinstance(handler, CommandHandler)
            for command in handler.commands
        }
    )


async def test_every_command_answers_the_longest_argument_helpfully(
    start_bot: Callable[..., AbstractAsyncContextManager[Any]], fake_api: FakeBotApi
) -> None:
    mods = fake_api.add_group("Moderators")
    user = fake_api.add_user("Shilan")
    # An admin, with comments on, so that every command does its real work.
    async with start_bot(admin_ids=str(user.id), moderation_chat_id=mods.id) as app:
        commands = registered_commands(app)
        assert {"timezone", "subscribe", "follow", "name", "ban", "breaking"} <= set(commands)
        answers: dict[str, str] = {}
        problems: list[str] = []
        for command in commands:
            for argument in longest_arguments(command):
                reply = await ask(fake_api, user, f"/{command} {argument}")
                text = answers[command] = reply.text or reply.caption or ""
                if text.startswith(APOLOGY.split(".")[0]) or not text.strip():
                    problems.append(f"/{command} failed: {text[:80]!r}")
                elif argument[:100] in text:  # an echo is short: its start and an ellipsis
                    problems.append(f"/{command} echoed the argument untrimmed")
                assert utf16_len(text) <= 4096
        assert problems == [], "\n".join(problems)
        # The echoes that remain are trimmed, and marked so.
        assert "…" in answers["timezone"]


async def test_the_longest_inline_query_is_answered(app: Any, fake_api: FakeBotApi) -> None:
    user = fake_api.add_user()
    answered = len(fake_api.calls("answerInlineQuery"))
    fake_api.inline_query(user, (PATTERN * 10)[:256])  # Telegram's limit for inline queries
    calls = await fake_api.wait_for_calls("answerInlineQuery", answered + 1)
    assert "results" in calls[answered]
