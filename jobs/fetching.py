"""Fetching a feed over HTTP: conditional GET, timeouts, a size cap, plain errors."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import aiohttp

from jobs.poll_schedule import parse_retry_after


class FetchError(Exception):
    """The feed could not be fetched; ``reason`` is one short phrase for logs and /stats."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A successful fetch; ``body`` is None when the server said 304 Not Modified."""

    body: bytes | None
    etag: str | None
    last_modified: str | None
    content_type: str | None
    url: str

    @property
    def not_modified(self) -> bool:
        """True for a 304: nothing changed since the validators we sent."""
        return self.body is None


async def fetch_feed(
    http: aiohttp.ClientSession,
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    timeout: float,  # noqa: ASYNC109 - the fetch owns its deadline; no caller can forget one
    max_bytes: int,
    now: datetime,
) -> FetchResult:
    """GET ``url`` with the stored validators; raise FetchError for anything but a feed body."""
    headers = {
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(timeout):
            async with http.get(url, headers=headers, allow_redirects=True) as response:
                if response.status == 304:
                    return FetchResult(None, etag, last_modified, None, str(response.url))
                if response.status >= 400:
                    raise FetchError(
                        f"HTTP {response.status} {response.reason or ''}".strip(),
                        retry_after=parse_retry_after(response.headers.get("Retry-After"), now),
                    )
                if response.status != 200:
                    raise FetchError(f"unexpected HTTP {response.status}")
                declared = response.content_length
                if declared is not None and declared > max_bytes:
                    raise FetchError(f"feed larger than {max_bytes} bytes ({declared})")
                body = await _read_capped(response, max_bytes)
                return FetchResult(
                    body=body,
                    etag=response.headers.get("ETag"),
                    last_modified=response.headers.get("Last-Modified"),
                    content_type=response.headers.get("Content-Type"),
                    url=str(response.url),
                )
    except TimeoutError:
        raise FetchError(f"timed out after {timeout:g} s") from None
    except aiohttp.TooManyRedirects:
        raise FetchError("too many redirects") from None
    except aiohttp.ClientResponseError as exc:
        raise FetchError(f"bad response: {exc.message}") from None
    except aiohttp.ClientError as exc:
        raise FetchError(f"connection failed: {type(exc).__name__}: {exc}") from None


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    # The cap applies after decompression, so a gzip bomb cannot fill memory either.
    chunks = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"feed larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_feed_session(user_agent: str, *, concurrency: int) -> aiohttp.ClientSession:
    """The one HTTP session used for every feed (keep-alive, gzip, a User-Agent naming us)."""
    connector = aiohttp.TCPConnector(limit=concurrency, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
        auto_decompress=True,
        max_line_size=16 * 1024,
        max_field_size=16 * 1024,
    )
