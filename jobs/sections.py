"""Which sections a story is listed under: pure functions of the feed's config and the item."""

from __future__ import annotations

import hashlib
import re
import unicodedata

from storage.records import StoryDraft

_NOT_SLUG = re.compile(r"[^\w-]+", re.UNICODE)
_DASHES = re.compile(r"-{2,}")
MAX_SLUG_BYTES = 40


def section_slug(name: str) -> str:
    """A short, typeable key for a section name: ``Middle East`` → ``middle-east``.

    Letters of every script are kept, so a Sorani section stays readable as a slug.
    """
    folded = unicodedata.normalize("NFKC", name).strip().lower()
    slug = _DASHES.sub("-", _NOT_SLUG.sub("-", folded.replace("_", "-"))).strip("-")
    # Slugs travel in callback data (64 bytes in all): keep them to 40 bytes of UTF-8, and
    # give a shortened one a digest of the full name so that two long names never merge.
    if len(slug.encode()) <= MAX_SLUG_BYTES:
        return slug
    digest = hashlib.sha1(slug.encode()).hexdigest()[:6]
    head = slug.encode()[: MAX_SLUG_BYTES - 7].decode(errors="ignore").strip("-")
    return f"{head}-{digest}"


def sections_for_item(
    draft: StoryDraft, configured: str | None, feed_title: str | None
) -> dict[str, str]:
    """``{slug: display name}`` for one item.

    A feed configured as ``section=url`` puts all its items there. A bare URL lists each
    item under its own categories, or under the feed's title when an item has none.
    """
    if configured:
        return {section_slug(configured): configured}
    names = list(draft.categories) or ([feed_title] if feed_title else [])
    result: dict[str, str] = {}
    for name in names:
        slug = section_slug(name)
        if slug and slug not in result:
            result[slug] = name.strip()
    return result or {"news": "News"}
