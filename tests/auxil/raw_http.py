"""A raw HTTP/1.1 client that streams a large body while it waits for the answer, to see
whether a server answers before reading the body (tests and benchmarks/webhook_memory.py)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

CHUNK = b"x" * (256 * 1024)


@dataclass(frozen=True, slots=True)
class Answer:
    """What the client saw: the status (0: none before the connection ended), and how much
    of its body it had sent by then."""

    status: int
    sent: int
    total: int


async def raw_post(
    port: int,
    path: str,
    *,
    total: int,
    headers: dict[str, str],
    method: str = "POST",
    declare: bool = True,
    timeout: float = 120.0,  # noqa: ASYNC109 - a bound for a test client, never reached
) -> Answer:
    """Send the headers, then stream ``total`` bytes of body (with a Content-Length, or
    chunked when ``declare`` is false) until the server's status line arrives."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {total}" if declare else "Transfer-Encoding: chunked")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    sent = 0

    async def stream() -> None:
        nonlocal sent
        while sent < total:
            piece = CHUNK[: min(len(CHUNK), total - sent)]
            writer.write(piece if declare else b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            sent += len(piece)
        if not declare:
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    sender = asyncio.create_task(stream())
    try:
        async with asyncio.timeout(timeout):
            status_line = await reader.readline()
        sent_then = sent
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sender
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    parts = status_line.split()
    return Answer(int(parts[1]) if len(parts) > 1 else 0, sent_then, total)
