"""The Telegram seam: a PTB Bot or Application pointed at TELEGRAM_API_URL."""

from __future__ import annotations

from telegram.ext import ApplicationBuilder, ExtBot
from telegram.request import HTTPXRequest

from bot.flood import ChatPace, FloodGate
from bot.pacing import ChatRateLimiter, GatedUpdates


def api_base_urls(api_url: str) -> tuple[str, str]:
    """PTB appends the token to these: ``{api}/bot{token}/{method}`` and the file URL."""
    api_url = api_url.rstrip("/")
    return f"{api_url}/bot", f"{api_url}/file/bot"


def build_bot(token: str, api_url: str) -> ExtBot[None]:
    """A standalone Bot for one-off calls (``newsbot check``)."""
    base_url, base_file_url = api_base_urls(api_url)
    return ExtBot(
        token,
        base_url=base_url,
        base_file_url=base_file_url,
        request=HTTPXRequest(connect_timeout=10, read_timeout=10),
    )


def application_builder(
    token: str,
    api_url: str,
    *,
    private_rate: tuple[int, float] = (1, 1.0),
    group_rate: tuple[int, float] = (20, 60.0),
) -> ApplicationBuilder:
    """An ApplicationBuilder with the token, the API server, sensible HTTP pools, and flood
    control: each chat's commands gated, and every message paced per chat (bot.pacing)."""
    base_url, base_file_url = api_base_urls(api_url)
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(base_file_url)
        # Replies to readers run concurrently with long polling; give them room.
        .connection_pool_size(64)
        .pool_timeout(10)
        .connect_timeout(10)
        .read_timeout(15)
        .write_timeout(15)
        .get_updates_read_timeout(40)
        .concurrent_updates(GatedUpdates(64, FloodGate(private_rate, group_rate)))
        .rate_limiter(ChatRateLimiter(ChatPace(private_rate, group_rate)))
    )
