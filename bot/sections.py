"""Sections as readers see them: which ones are offered, and each one's name in the reader's
language.

The operator decides both: FEEDS (``section=url``) and SECTIONS say which sections exist,
SECTION_NAMES what they are called. A section's name in a language is, in this order:

1. its SECTION_NAMES name in that language (``ckb:کوردستان``);
2. the built-in translation, when the slug is one of the common sections below and the
   language is not English (so a Sorani reader sees کوردستان even if the operator only wrote
   ``kurdistan=Kurdistan Region``);
3. its SECTION_NAMES name without a language;
4. the built-in English name of a common section;
5. the slug made readable: ``middle-east`` → ``Middle East``.

Everything here is pure and computed once per language; the handlers and the push renderer
share one SectionCatalogue built from the settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache

from bot.config import Settings
from bot.i18n import LOCALES, SOURCE_LOCALE, Texts, texts
from news.sections import fold_name


@cache
def built_in_names(locale: str) -> dict[str, str]:
    """Common news sections (the reference outlet's) by slug, named in ``locale``."""
    t = texts(locale)
    return {
        "news": t.pgettext("section", "News"),
        # Translators: the names of common news sections, shown in story headers, /sections
        # and /latest (the outlet may replace them with SECTION_NAMES); keep them as short as
        # a news website's own section names.
        "kurdistan": t.pgettext("section", "Kurdistan"),
        "iraq": t.pgettext("section", "Iraq"),
        "middle-east": t.pgettext("section", "Middle East"),
        "world": t.pgettext("section", "World"),
        "turkey": t.pgettext("section", "Turkey"),
        "iran": t.pgettext("section", "Iran"),
        "syria": t.pgettext("section", "Syria"),
        "europe": t.pgettext("section", "Europe"),
        "economy": t.pgettext("section", "Economy"),
        "sports": t.pgettext("section", "Sports"),
        "health": t.pgettext("section", "Health"),
        "science": t.pgettext("section", "Science"),
        "technology": t.pgettext("section", "Technology"),
        "environment": t.pgettext("section", "Environment"),
        "culture": t.pgettext("section", "Culture"),
        "opinion": t.pgettext("section", "Opinion"),
        "interview": t.pgettext("section", "Interview"),
        "analysis": t.pgettext("section", "Analysis"),
    }


def readable_slug(slug: str) -> str:
    """The last resort for a name: ``middle-east`` → ``Middle East`` (other scripts unchanged)."""
    return " ".join(word[:1].upper() + word[1:] for word in slug.split("-") if word) or slug


class SectionCatalogue:
    """The offered sections (slugs, in the configured order) and their names per language."""

    def __init__(
        self,
        offered: Sequence[str] = (),
        given: Mapping[str, Mapping[str, str]] | None = None,
        categories: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.offered: tuple[str, ...] = tuple(dict.fromkeys(offered))
        self._offered = frozenset(self.offered)
        self._given = {slug: dict(names) for slug, names in (given or {}).items()}
        self._by_locale: dict[str, dict[str, str]] = {}
        # What a reader may type for a section, folded: its slug, any of its names in any
        # language, then the categories SECTIONS files under it. The first section to claim
        # a name keeps it, so the configured order settles a clash.
        self._lookup: dict[str, str] = {}
        for slug in self.offered:
            spellings = [slug, readable_slug(slug), *self._given.get(slug, {}).values()]
            spellings += [built_in_names(locale).get(slug, "") for locale in LOCALES]
            for spelling in spellings:
                self._lookup.setdefault(fold_name(spelling), slug)
        for slug, names in (categories or {}).items():
            for name in names:
                if slug in self._offered:
                    self._lookup.setdefault(fold_name(name), slug)
        self._lookup.pop("", None)

    @classmethod
    def from_settings(cls, settings: Settings) -> SectionCatalogue:
        """The catalogue the settings describe (FEEDS, SECTIONS, SECTION_NAMES)."""
        return cls(settings.offered_sections, settings.section_names, settings.sections)

    def is_offered(self, slug: str) -> bool:
        """True for a section readers are offered now."""
        return slug in self._offered

    def name(self, slug: str, t: Texts) -> str:
        """``slug``'s name in ``t``'s language (plain text: escape it for HTML)."""
        given = self._given.get(slug, {})
        if t.locale in given:
            return given[t.locale]
        built_in = built_in_names(t.locale)
        if t.locale != SOURCE_LOCALE and slug in built_in:
            return built_in[slug]
        if "" in given:
            return given[""]
        return built_in_names(SOURCE_LOCALE).get(slug) or readable_slug(slug)

    def names(self, t: Texts, slugs: Iterable[str] | None = None) -> dict[str, str]:
        """The offered sections (only those among ``slugs``, when given) → their names in
        ``t``'s language, in the configured order; sections no longer offered are left out."""
        every = self._by_locale.get(t.locale)
        if every is None:
            every = self._by_locale[t.locale] = {s: self.name(s, t) for s in self.offered}
        if slugs is None:
            return dict(every)
        wanted = set(slugs)
        return {slug: name for slug, name in every.items() if slug in wanted}

    def find(self, text: str) -> str | None:
        """The offered section a reader's word or phrase names (its slug, or any of its names
        in any language, case and accents aside), or None."""
        return self._lookup.get(fold_name(text))
