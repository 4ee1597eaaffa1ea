"""Fetching a feed over HTTP: conditional GET, timeouts, a size cap, redirects that never lead
a public feed inside the network, plain errors."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from yarl import URL

from jobs.clients.address_guard import AddressGuard, GuardedConnector, guard_of
from news.retry_timing import parse_retry_after

# As many as browsers and aiohttp allow; a feed that needs more is broken.
MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


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
    fresh: bool = False,
) -> FetchResult:
    """GET ``url`` with the stored validators; raise FetchError for anything but a feed body.

    Redirects are followed here, hop by hop, under the session's AddressGuard: a feed whose
    configured URL is public is never led to an internal address (jobs/clients/address_guard.py).
    ``fresh`` asks caches on the way (a CDN) to check with the origin first: the outlet just
    said the feed changed.
    """
    headers = {
        "Accept": (
            "application/rss+xml, application/atom+xml, application/feed+json, "
            "application/xml;q=0.9, */*;q=0.5"
        )
    }
    if fresh:
        headers["Cache-Control"] = "no-cache"
        headers["Pragma"] = "no-cache"
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    guard = guard_of(http)
    try:
        async with asyncio.timeout(timeout):
            origin = URL(url)
            allow_internal = await guard.points_inside(origin)
            with guard.fetching(allow_internal=allow_internal) as scope:
                try:
                    return await _follow(
                        http,
                        origin,
                        headers,
                        allow_internal=allow_internal,
                        max_bytes=max_bytes,
                        now=now,
                        validators=(etag, last_modified),
                    )
                except aiohttp.ClientConnectorError:
                    if scope.refused:
                        raise FetchError(
                            f"refused to connect to {scope.refused[0]}: an internal address, "
                            "and the feed's own URL is public"
                        ) from None
                    raise
    except TimeoutError:
        raise FetchError(f"timed out after {timeout:g} s") from None
    except aiohttp.ClientResponseError as exc:
        raise FetchError(f"bad response: {exc.message}") from None
    except aiohttp.ClientError as exc:
        raise FetchError(f"connection failed: {type(exc).__name__}: {exc}") from None


async def _follow(
    http: aiohttp.ClientSession,
    url: URL,
    headers: dict[str, str],
    *,
    allow_internal: bool,
    max_bytes: int,
    now: datetime,
    validators: tuple[str | None, str | None],
) -> FetchResult:
    """GET ``url``, following up to MAX_REDIRECTS redirects, each hop checked by the guard."""
    for _hop in range(MAX_REDIRECTS + 1):
        # A fetch that may reach internal addresses keeps its connections in a pool of
        # their own (the pool is keyed on server_hostname, which changes nothing else): a
        # public feed's redirect can never ride on a connection that one opened inside.
        pool_apart = url.raw_host if allow_internal else None
        async with http.get(
            url, headers=headers, allow_redirects=False, server_hostname=pool_apart
        ) as response:
            location = response.headers.get("Location")
            if response.status in REDIRECT_STATUSES and location:
                try:
                    target = url.join(URL(location))
                except ValueError:
                    raise FetchError(f"redirect to an invalid URL: {location!r}") from None
                if target.scheme not in ("http", "https") or not target.host:
                    raise FetchError(f"redirect to a URL that is not http(s): {target}")
                url = target
                continue
            return await _answer(response, max_bytes, now, validators)
    raise FetchError("too many redirects")


async def _answer(
    response: aiohttp.ClientResponse,
    max_bytes: int,
    now: datetime,
    validators: tuple[str | None, str | None],
) -> FetchResult:
    """The final answer of a fetch: a body, a 304, or a FetchError."""
    if response.status == 304:
        return FetchResult(None, *validators, None, str(response.url))
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


def create_feed_session(
    user_agent: str, *, concurrency: int, guard: AddressGuard | None = None
) -> aiohttp.ClientSession:
    """The one HTTP session used for every feed (keep-alive, gzip, a User-Agent naming us),
    every connection of it checked by ``guard`` (by default: internal means not global)."""
    connector = GuardedConnector(guard or AddressGuard(), limit=concurrency, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
        auto_decompress=True,
        max_line_size=16 * 1024,
        max_field_size=16 * 1024,
    )
