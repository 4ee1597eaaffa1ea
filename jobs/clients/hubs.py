"""Asking a WebSub hub to subscribe or unsubscribe: one form POST through the feeds' session.

A hub is named by a feed's document, so it is reached like the feed itself: through the
session's AddressGuard, where only a feed the operator configured on an internal address
may lead to an internal hub (a public feed naming ``http://169.254.169.254/`` gets nothing).
Redirects are not followed: a hub that moved is for its feed to advertise anew.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp
from yarl import URL

from jobs.clients.address_guard import guard_of

# What the spec says a hub answers a request it accepted (202), and what some answer.
ACCEPTED = frozenset({200, 202, 204})


class HubError(Exception):
    """The hub refused the request or could not be reached; ``reason`` is one phrase."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def hub_is_internal(http: aiohttp.ClientSession, hub: str) -> bool:
    """Whether the hub is on an internal address (the operator's own network)."""
    return await guard_of(http).points_inside(URL(hub))


async def ask_hub(
    http: aiohttp.ClientSession,
    hub: str,
    form: Mapping[str, str],
    *,
    feed_url: str,
    timeout: float,  # noqa: ASYNC109 - the request owns its deadline
) -> None:
    """POST ``form`` to ``hub``; HubError unless the hub accepts it."""
    guard = guard_of(http)
    allow_internal = await guard.points_inside(URL(feed_url))
    try:
        async with asyncio.timeout(timeout):
            with guard.fetching(allow_internal=allow_internal) as scope:
                try:
                    async with http.post(
                        URL(hub),
                        data=dict(form),
                        allow_redirects=False,
                        server_hostname=URL(hub).raw_host if allow_internal else None,
                    ) as response:
                        if response.status in ACCEPTED:
                            return
                        detail = (await response.content.read(200)).decode("utf-8", "replace")
                        raise HubError(f"HTTP {response.status} {detail.strip()[:120]}".strip())
                except aiohttp.ClientConnectorError:
                    if scope.refused:
                        raise HubError(
                            f"refused to connect to {scope.refused[0]}: an internal address, "
                            "and the feed's own URL is public"
                        ) from None
                    raise
    except TimeoutError:
        raise HubError(f"timed out after {timeout:g} s") from None
    except aiohttp.ClientError as exc:
        raise HubError(f"connection failed: {type(exc).__name__}") from None
