"""WebSub's pure rules: signatures, the hub's verification of intent, lease renewal, which hubs
get a secret, and the hub and topic a feed document advertises."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from news.feed_parsing import parse_feed
from news.websub import (
    VerificationRefused,
    hub_allowed,
    read_verification,
    renew_at,
    sign,
    signature_matches,
)

BODY = b"<rss><channel><item><title>x</title></item></channel></rss>"


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_a_signature_matches_only_its_secret_and_body(method: str) -> None:
    header = sign(b"secret", BODY, method)
    assert signature_matches(b"secret", header, BODY)
    assert signature_matches(b"secret", header.upper().replace(method.upper(), method), BODY)
    assert not signature_matches(b"other", header, BODY)
    assert not signature_matches(b"secret", header, BODY + b" ")


@pytest.mark.parametrize("header", [None, "", "sha256", "md5=abc", "sha256=", "=abc"])
def test_missing_or_unknown_signatures_never_match(header: str | None) -> None:
    assert not signature_matches(b"secret", header, BODY)


def test_a_verification_is_read_or_refused() -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.topic": "https://x.example/rss",
        "hub.challenge": "abc",
        "hub.lease_seconds": "864000",
    }
    verification = read_verification(query)
    assert (verification.mode, verification.challenge, verification.lease_seconds) == (
        "subscribe",
        "abc",
        864000,
    )
    unsubscribe = read_verification({**query, "hub.mode": "unsubscribe", "hub.lease_seconds": ""})
    assert unsubscribe.lease_seconds is None
    denied = read_verification({"hub.mode": "denied", "hub.topic": "t", "hub.reason": "no"})
    assert (denied.mode, denied.reason, denied.challenge) == ("denied", "no", None)
    for broken in (
        {**query, "hub.mode": "publish"},
        {**query, "hub.topic": ""},
        {**query, "hub.challenge": ""},
        {**query, "hub.challenge": "x" * 513},
        {**query, "hub.lease_seconds": "-5"},
        {**query, "hub.lease_seconds": ""},
    ):
        with pytest.raises(VerificationRefused):
            read_verification(broken)


def test_leases_are_renewed_before_they_end() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    assert renew_at(start, 10 * 86400) == start + timedelta(days=9)  # a tenth before
    assert renew_at(start, 300) == start + timedelta(seconds=240)  # at least a minute
    assert renew_at(start, 30 * 86400) == start + timedelta(days=29)  # at most a day
    assert renew_at(start, 4) == start + timedelta(seconds=2)  # a tiny lease: half-time


def test_only_https_hubs_or_the_operators_own_get_a_secret() -> None:
    assert hub_allowed("https://pubsubhubbub.appspot.com/", internal=False) is None
    assert hub_allowed("http://127.0.0.1:8080/hub", internal=True) is None
    assert "https" in (hub_allowed("http://hub.example/", internal=False) or "")
    assert hub_allowed("ftp://hub.example/", internal=False) is not None


def test_the_hub_and_topic_a_document_advertises() -> None:
    rss = (
        b'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title>'
        b'<atom:link rel="self" href="/rss"/><atom:link rel="hub" href="https://hub.example/"/>'
        b"<item><title>a</title><link>https://x.example/a</link></item></channel></rss>"
    )
    parsed = parse_feed(rss, url="https://x.example/rss")
    assert (parsed.hub, parsed.topic) == ("https://hub.example/", "https://x.example/rss")
    atom = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b'<link rel="hub" href="https://hub.example/h"/><entry><title>a</title><id>1</id>'
        b'<link href="https://x.example/a"/></entry></feed>'
    )
    assert parse_feed(atom, url="https://x.example/atom").hub == "https://hub.example/h"
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "t",
        "feed_url": "https://x.example/feed.json",
        "hubs": [{"type": "WebSub", "url": "https://hub.example/j"}],
        "items": [{"id": "1", "url": "https://x.example/a", "title": "a"}],
    }
    parsed = parse_feed(json.dumps(document).encode(), url="https://x.example/feed.json")
    assert (parsed.hub, parsed.topic) == ("https://hub.example/j", "https://x.example/feed.json")
    plain = parse_feed(rss.replace(b'rel="hub"', b'rel="next"'), url="https://x.example/rss")
    assert plain.hub is None
