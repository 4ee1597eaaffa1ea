"""Which sections a story is listed under: pure functions of the operator's configuration and
the item.

Sections come from the operator only: a ``section=url`` feed files every item in its section,
and ``SECTIONS`` maps category names to sections. Any other category is kept with the story
(and searchable) but is never a section, so a feed rich in categories cannot flood the list
readers choose from.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence

from news.search_words import normalize
from news.story_draft import StoryDraft

_NOT_SLUG = re.compile(r"[^\w-]+", re.UNICODE)
_DASHES = re.compile(r"-{2,}")
MAX_SLUG_BYTES = 40


def _dashed(text: str) -> str:
    return _DASHES.sub("-", _NOT_SLUG.sub("-", text.replace("_", "-"))).strip("-")


def section_slug(name: str) -> str:
    """A short, typeable key for a section name: ``Middle East`` → ``middle-east``.

    Letters of every script are kept, so a Sorani section stays readable as a slug.
    """
    slug = _dashed(unicodedata.normalize("NFKC", name).strip().lower())
    # Slugs travel in callback data (64 bytes in all): keep them to 40 bytes of UTF-8, and
    # give a shortened one a digest of the full name so that two long names never merge.
    if len(slug.encode()) <= MAX_SLUG_BYTES:
        return slug
    digest = hashlib.sha1(slug.encode()).hexdigest()[:6]
    head = slug.encode()[: MAX_SLUG_BYTES - 7].decode(errors="ignore").strip("-")
    return f"{head}-{digest}"


def fold_name(name: str) -> str:
    """A category or section name as names are compared: case, accents, Arabic-script
    variants and punctuation folded (``Middle-East``, ``middle east`` and ``MIDDLE EAST`` are
    one name; so are كردستان typed with Arabic letters and کوردستان's folded form)."""
    return _dashed(normalize(name))


def category_sections(sections: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """``SECTIONS`` turned around: each folded category name → the sections it files into."""
    found: dict[str, list[str]] = {}
    for slug, categories in sections.items():
        for category in categories:
            slugs = found.setdefault(fold_name(category), [])
            if slug not in slugs:
                slugs.append(slug)
    return {name: tuple(slugs) for name, slugs in found.items() if name}


def sections_for_item(
    draft: StoryDraft,
    configured: str | None,
    categories: Mapping[str, tuple[str, ...]],
) -> dict[str, str]:
    """``{slug: name}`` for one item: the feed's own section (``section=url``), and the
    sections ``categories`` (from category_sections) maps the item's categories to.

    An item of a bare-URL feed whose categories are not mapped is under no section: it is
    still in all news, /latest and search, and pushed to readers of all news.
    """
    result: dict[str, str] = {}
    if configured:
        result[section_slug(configured)] = configured
    for category in draft.categories:
        for slug in categories.get(fold_name(category), ()):
            result.setdefault(slug, category.strip())
    return result
