"""PTB's own client pointed at the fake Bot API."""

from __future__ import annotations

from telegram import Bot

from tests.fake_bot_api import FakeBotApi


def make_bot(api: FakeBotApi) -> Bot:
    """A PTB ``Bot`` talking to ``api`` (use it as ``async with make_bot(api) as bot:``)."""
    return Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url)
