"""Story identity: which items of one feed document are distinct stories, and by which keys a
stored story is found again. This docstring is the rule; the README's architecture bullet
points here.

An item's **canonical link** is its link made absolute http(s), scheme and host lower-cased,
tracking parameters (``utm_*``, ``fbclid``, ``gclid``) removed — with its ``#fragment`` kept
only when the fragment tells items of the document apart: when another item of the same
document has the same link with another fragment, or with none. Live blogs and day pages
address each post by fragment (``/2017/06/26.html#a080605``); a fragment on a link no other
item shares is an in-page anchor or a tracker (``#publisher=newsstand``) and is dropped.

A guid is **real** when it is not empty and the document does not give it to items on
different pages (links that differ beyond the fragment): a broken feed that repeats one guid
on every item has no usable guid, and its items fall back to their links. Items that share a
real guid are one item listed several times; the first copy wins.

**Identity** (unique among stored stories): ``guid:<real guid>``, else
``link:<canonical link>``, else ``hash:<sha1 of the title>`` (nothing else to go by). Items
with distinct real guids are distinct stories, whatever their links say; guid-less items
with the same canonical link are one item repeated.

**Link key** (also unique among stored stories): the canonical link, unless several stories
of the document have that same canonical link (a homepage, a live page without anchors) —
then it identifies none of them, and is kept only to be shown.

**Storage** (``storage.stories.store_feed_items``): an item is the stored story with its
identity, else the one with its link key, else a new story. So one article in several feeds
(the same guid, or the same link) is one story listed under each feed's sections, and a
story whose guid the outlet renumbers but whose link stays is not news again.

Known limit: a guid-less post whose fragment stops being significant (its live blog's other
posts left the feed) gets a new canonical link, and is stored as a new story.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["StoryKey", "hashed_identity", "story_keys"]


@dataclass(frozen=True, slots=True)
class StoryKey:
    """The keys of one distinct item of a document.

    ``identity`` is None for an item with neither a real guid nor a link: its caller hashes
    its title (``hashed_identity``) once it has one.
    """

    identity: str | None
    guid: str | None  # the real guid, else None
    link: str | None  # the canonical link (fragment only when significant)
    link_is_key: bool


def story_keys(items: Sequence[tuple[str | None, str | None]]) -> list[StoryKey | None]:
    """Each item's keys, in document order; None for a repeat of an earlier item.

    ``items`` holds each entry's ``(guid, link)``: the guid cleaned of whitespace (None when
    empty), the link absolute and without tracking parameters but with its fragment.
    """
    pages = [_split(link) for _, link in items]
    real = _real_guids(items, pages)

    kept: list[int] = []
    seen_guids: set[str] = set()
    for index, (guid, _) in enumerate(items):
        if guid is not None and guid in real:
            if guid in seen_guids:
                continue  # the same item listed again
            seen_guids.add(guid)
        kept.append(index)

    # A fragment matters when another kept item is on the same page with another fragment.
    fragments: dict[str, set[str]] = {}
    for index in kept:
        page = pages[index]
        if page is not None:
            fragments.setdefault(page[0], set()).add(page[1])
    canonical: dict[int, str | None] = {}
    for index in kept:
        page = pages[index]
        if page is None:
            canonical[index] = None
        elif page[1] and len(fragments[page[0]]) > 1:
            canonical[index] = f"{page[0]}#{page[1]}"
        else:
            canonical[index] = page[0]

    keys: list[StoryKey | None] = [None] * len(items)
    identities: set[str] = set()
    holders: dict[str, int] = {}  # canonical link → how many distinct stories carry it
    for index in kept:
        guid, link = items[index][0], canonical[index]
        guid = guid if guid is not None and guid in real else None
        identity = f"guid:{guid}" if guid else (f"link:{link}" if link else None)
        if identity is not None:
            if identity in identities:
                continue  # a guid-less item whose canonical link an earlier one has
            identities.add(identity)
        if link is not None:
            holders[link] = holders.get(link, 0) + 1
        keys[index] = StoryKey(identity, guid, link, link_is_key=link is not None)
    for index, key in enumerate(keys):
        if key is not None and key.link is not None and holders[key.link] > 1:
            keys[index] = StoryKey(key.identity, key.guid, key.link, link_is_key=False)
    return keys


def hashed_identity(title: str) -> str:
    """The identity of an item with neither a real guid nor a link: a digest of its title."""
    # The "\n" and empty link keep the digests of stories stored by earlier versions.
    digest = hashlib.sha1(f"{title}\n".encode(), usedforsecurity=False)
    return f"hash:{digest.hexdigest()}"


def _split(link: str | None) -> tuple[str, str] | None:
    """``(page, fragment)`` of a link; the fragment is "" when there is none."""
    if not link:
        return None
    page, _, fragment = link.partition("#")
    return page, fragment


def _real_guids(
    items: Sequence[tuple[str | None, str | None]], pages: Sequence[tuple[str, str] | None]
) -> frozenset[str]:
    """Guids that the document gives only to items on one page (or without a link)."""
    pages_by_guid: dict[str, set[str | None]] = {}
    for (guid, _), page in zip(items, pages, strict=True):
        if guid:
            pages_by_guid.setdefault(guid, set()).add(page[0] if page else None)
    return frozenset(guid for guid, found in pages_by_guid.items() if len(found) == 1)
