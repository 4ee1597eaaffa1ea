"""Where a feed fetch may connect: a public feed's redirect, or a DNS answer, must not point the
bot at this host, its private network or the cloud metadata service (169.254.169.254).

The rule: a fetch whose configured feed URL points at an internal address (an operator's own
feed on 127.0.0.1 or the office network) may go anywhere; any other fetch may reach only
globally routable addresses, at every hop of its redirects.

The check sits where it cannot be talked round: aiohttp creates every socket of the feed
session through :meth:`AddressGuard.socket_factory`, which sees the address it is about to
connect to (after DNS, so a hostname that resolves to 10.0.0.5 is refused like 10.0.0.5
itself, and a DNS answer that changes between a check and the connection changes nothing).
Nothing is sent to a refused address. Fetches that may reach internal addresses keep their
connections apart (jobs/clients/feeds.py), so a strict fetch never reuses one of theirs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_internal(address: IPAddress) -> bool:
    """True for any address that is not globally routable: loopback, private ranges,
    link-local (the metadata service), shared (CGNAT), unspecified, reserved, multicast —
    also when written as IPv4 inside IPv6 (``::ffff:127.0.0.1``, ``64:ff9b::a00:1``)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in _NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return not address.is_global or address.is_multicast


def parse_address(text: str) -> IPAddress | None:
    """The address in ``text`` (an IPv6 zone such as ``%eth0`` dropped), or None."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


class AddressRefused(OSError):
    """A connection to an internal address that this fetch may not reach."""


@dataclass(slots=True)
class FetchScope:
    """What one fetch (all its redirects) may reach, and what it was refused."""

    allow_internal: bool
    refused: list[str] = field(default_factory=list)


# The scope of the fetch running in this task; aiohttp connects from the same task (or from
# tasks it starts, which copy the context), so the socket factory sees it.
_SCOPE: ContextVar[FetchScope | None] = ContextVar("newsbot_fetch_scope", default=None)


class AddressGuard:
    """The feed session's policy: which addresses count as internal, and how names resolve.

    ``internal`` and ``resolver`` are injectable so that tests, which may only use loopback,
    can let one loopback address stand for the public internet and resolve made-up names.
    """

    def __init__(
        self,
        *,
        internal: Callable[[IPAddress], bool] = is_internal,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.internal = internal
        self.resolver = resolver if resolver is not None else DefaultResolver()

    async def points_inside(self, url: URL) -> bool:
        """True when ``url``'s host is, or resolves to, an internal address (an operator's
        own feed); False when it cannot be resolved (the fetch then fails on its own)."""
        host = url.host or ""
        literal = parse_address(host)
        if literal is not None:
            return self.internal(literal)
        try:
            answers = await self.resolver.resolve(host, url.port or 0, family=socket.AF_UNSPEC)
        except OSError:
            return False
        return any(
            (address := parse_address(a["host"])) is not None and self.internal(address)
            for a in answers
        )

    @contextlib.contextmanager
    def fetching(self, *, allow_internal: bool) -> Iterator[FetchScope]:
        """The scope of one fetch: every connection opened inside it obeys ``allow_internal``."""
        scope = FetchScope(allow_internal)
        token = _SCOPE.set(scope)
        try:
            yield scope
        finally:
            _SCOPE.reset(token)

    def socket_factory(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """aiohttp's hook for every new connection: refuse an internal address unless the
        running fetch may reach one (outside any fetch, nothing internal is reached)."""
        family, type_, proto, _, sockaddr = addr_info
        address = parse_address(str(sockaddr[0]))
        scope = _SCOPE.get()
        allowed = scope is not None and scope.allow_internal
        if not allowed and (address is None or self.internal(address)):
            if scope is not None:
                scope.refused.append(str(sockaddr[0]))
            raise AddressRefused(f"{sockaddr[0]} is an internal address")
        return socket.socket(family=family, type=type_, proto=proto)


class GuardedConnector(aiohttp.TCPConnector):
    """The feed session's connector: every socket through the guard, which it carries so
    that :func:`guard_of` finds the policy of a session."""

    def __init__(self, guard: AddressGuard, **kwargs: Any) -> None:
        super().__init__(resolver=guard.resolver, socket_factory=guard.socket_factory, **kwargs)
        self.guard = guard


def guard_of(http: aiohttp.ClientSession) -> AddressGuard:
    """The guard of a feed session; a session without one is a programming error."""
    connector = http.connector
    if not isinstance(connector, GuardedConnector):
        raise TypeError("feed fetches need a session from jobs.clients.feeds.create_feed_session")
    return connector.guard
