"""Waiting in tests for state that nobody announces (a database row, a recorded call)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], Awaitable[bool]],
    timeout: float = 10.0,  # noqa: ASYNC109 - a deadline per check is the point of this helper
) -> None:
    """Wait until an asynchronous check (a database read) holds; raise AssertionError when it
    does not in time. Outcomes, for one, are written in small batches a moment after the
    messages arrive."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def wait_until(check: Callable[[], Awaitable[bool] | bool], timeout: float) -> bool:  # noqa: ASYNC109
    """Whether ``check`` (plain or asynchronous) held within ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return True
        await asyncio.sleep(0.02)
    return False
