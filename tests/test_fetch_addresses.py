"""A public feed's redirects never lead the bot to an internal address (loopback, private,
link-local, the metadata service), whether by an address or by a name that resolves to one;
a feed the operator configured on an internal address may redirect inside.

Tests may only use loopback, so 127.0.0.1 stands for the public internet here (the guard's
``internal`` rule is injected), 127.0.0.2 is the internal host, and made-up names resolve
through a test resolver. Everything else is the real guard, the real session and real sockets.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from ipaddress import IPv4Address, ip_address

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from jobs.clients.address_guard import AddressGuard, IPAddress, is_internal
from jobs.clients.feeds import FetchError, FetchResult, create_feed_session, fetch_feed
from tests.auxil.feed_server import FeedServer, Reply
from tests.auxil.feeds import ONE_STORY_RSS

PUBLIC_STAND_IN = IPv4Address("127.0.0.1")


def internal_except_stand_in(address: IPAddress) -> bool:
    """The real rule, but with 127.0.0.1 playing a public address."""
    return address != PUBLIC_STAND_IN and is_internal(address)


class MadeUpNames(AbstractResolver):
    """Resolves made-up names as a hostile DNS server would; never asks the real one."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.names:
            raise OSError(f"unknown test name {host}")
        address = self.names[host]
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None


NAMES = {"feeds.example": "127.0.0.1", "metadata.example": "127.0.0.2"}


# Overrides tests/conftest.py's plain http session for this module only: these tests fetch
# through the bot's own guarded feed session, with this module's stand-in public address and
# made-up names.
@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """The bot's feed session, its guard taking 127.0.0.1 for public and resolving NAMES."""
    guard = AddressGuard(internal=internal_except_stand_in, resolver=MadeUpNames(NAMES))
    session = create_feed_session("newsbot-tests/1.0", concurrency=4, guard=guard)
    yield session
    await session.close()


async def fetch(http: aiohttp.ClientSession, url: str) -> FetchResult:
    return await fetch_feed(
        http,
        url,
        etag=None,
        last_modified=None,
        timeout=10,
        max_bytes=1_000_000,
        now=datetime(2026, 11, 25, tzinfo=UTC),
    )


def redirect(to: str, status: int = 302) -> Reply:
    return Reply(status=status, headers={"Location": to})


@pytest.mark.parametrize(
    ("feed_host", "target"),
    [
        ("127.0.0.1", "http://127.0.0.2:{port}/secret"),
        ("127.0.0.1", "http://metadata.example:{port}/secret"),  # a name resolving inside
        ("feeds.example", "http://127.0.0.2:{port}/secret"),
        ("feeds.example", "http://[::ffff:127.0.0.2]:{port}/secret"),  # IPv4 inside IPv6
        ("127.0.0.1", "http://169.254.169.254/latest/meta-data/"),  # the metadata service
        ("127.0.0.1", "http://[::1]:{port}/secret"),
        ("127.0.0.1", "http://10.1.2.3/admin"),
    ],
)
async def test_a_public_feed_cannot_redirect_inside(
    http: aiohttp.ClientSession,
    feed_server: FeedServer,
    inside: FeedServer,
    feed_host: str,
    target: str,
) -> None:
    feed_server.serve("/rss", ONE_STORY_RSS)
    feed_server.script("/rss", redirect("/moved", 301))
    feed_server.serve("/moved", ONE_STORY_RSS)
    feed_server.script("/moved", redirect(target.format(port=inside.port), 307))
    url = f"http://{feed_host}:{feed_server.port}/rss"
    with pytest.raises(FetchError, match=r"refused to connect to .*: an internal address"):
        await fetch(http, url)
    assert inside.requests == []  # refused before connecting: not one byte was sent
    assert feed_server.hits("/rss") == feed_server.hits("/moved") == 1


async def test_redirects_between_public_addresses_are_followed(
    http: aiohttp.ClientSession, feed_server: FeedServer
) -> None:
    feed_server.serve("/rss", ONE_STORY_RSS)
    feed_server.script("/rss", redirect(f"http://feeds.example:{feed_server.port}/new", 308))
    feed_server.serve("/new", ONE_STORY_RSS)
    result = await fetch(http, feed_server.url("/rss"))
    assert result.body == ONE_STORY_RSS.encode()
    assert result.url == f"http://feeds.example:{feed_server.port}/new"


async def test_a_feed_configured_inside_may_redirect_inside(
    http: aiohttp.ClientSession, feed_server: FeedServer, inside: FeedServer
) -> None:
    # The operator runs this feed on the internal network: its redirects are the operator's.
    inside.script("/rss", redirect(f"http://metadata.example:{inside.port}/secret"))
    result = await fetch(http, inside.url("/rss"))
    assert result.body == ONE_STORY_RSS.encode()
    assert inside.hits("/secret") == 1
    # And outwards too.
    feed_server.serve("/rss", ONE_STORY_RSS)
    inside.script("/rss", redirect(feed_server.url("/rss")))
    assert (await fetch(http, inside.url("/rss"))).body == ONE_STORY_RSS.encode()


async def test_a_pooled_internal_connection_is_never_reused_by_a_public_feed(
    http: aiohttp.ClientSession, feed_server: FeedServer, inside: FeedServer
) -> None:
    # A permissive fetch inside first: its keep-alive connection must not be pooled...
    await fetch(http, inside.url("/rss"))
    hits = len(inside.requests)
    # ...or a public feed's redirect to the same host and port would ride on it.
    feed_server.serve("/rss", ONE_STORY_RSS)
    feed_server.script("/rss", redirect(inside.url("/secret")))
    with pytest.raises(FetchError, match="internal address"):
        await fetch(http, feed_server.url("/rss"))
    assert len(inside.requests) == hits


async def test_too_many_redirects_and_odd_locations_fail_plainly(
    http: aiohttp.ClientSession, feed_server: FeedServer
) -> None:
    feed_server.serve("/loop", ONE_STORY_RSS)
    feed_server.script("/loop", *[redirect("/loop")] * 20)
    with pytest.raises(FetchError, match="too many redirects"):
        await fetch(http, feed_server.url("/loop"))
    feed_server.serve("/ftp", ONE_STORY_RSS)
    feed_server.script("/ftp", redirect("ftp://feeds.example/rss"))
    with pytest.raises(FetchError, match="not http"):
        await fetch(http, feed_server.url("/ftp"))


async def test_the_default_rule_lets_an_operator_poll_a_feed_on_this_host(
    feed_server: FeedServer,
) -> None:
    # Without injection, 127.0.0.1 is internal: a feed configured there is the operator's
    # own, and it may redirect on this host.
    feed_server.serve("/rss", ONE_STORY_RSS)
    feed_server.script("/rss", redirect("/new"))
    feed_server.serve("/new", ONE_STORY_RSS)
    async with create_feed_session("newsbot-tests/1.0", concurrency=2) as http:
        assert (await fetch(http, feed_server.url("/rss"))).body == ONE_STORY_RSS.encode()


@pytest.mark.parametrize(
    ("address", "internal"),
    [
        ("127.0.0.1", True),
        ("10.0.0.5", True),
        ("172.16.3.4", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # cloud metadata
        ("100.64.0.1", True),  # carrier-grade NAT
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("::1", True),
        ("fe80::1", True),
        ("fd00::1", True),
        ("::ffff:10.0.0.1", True),
        ("64:ff9b::a9fe:a9fe", True),  # 169.254.169.254 through NAT64
        ("93.184.216.34", False),
        ("2606:4700::1111", False),
        ("::ffff:93.184.216.34", False),
    ],
)
def test_which_addresses_are_internal(address: str, internal: bool) -> None:
    assert is_internal(ip_address(address)) is internal
