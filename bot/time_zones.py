"""Time zones as readers name them: an IANA name (``Europe/Berlin``), or a city or country in
any of the bot's languages (``Berlin``, ``Bağdat``, ``Bexda``, ``برلين``, ``ئەڵمانیا``), and
a zone's city as each reader's language writes it.

Names come from the Unicode CLDR through Babel: each zone's exemplar city and each country's
name in the five locales. CLDR has no Sorani exemplar cities yet (only Sorani country names),
so the common zones' cities are in the catalogue for Sorani (``pgettext("city", …)``), and
any other zone is shown to a right-to-left reader by its country's name.
"""

from __future__ import annotations

import unicodedata
import zoneinfo
from collections import defaultdict
from functools import cache

from babel.core import get_global
from babel.dates import get_timezone_location

from bot.i18n import LOCALES, Texts, texts
from news.sections import fold_name

# Where the outlet's readers mostly live: the region and its diaspora. /settings and a bare
# /timezone offer them as buttons, and several matches list them first.
COMMON_ZONES = (
    "Asia/Baghdad",
    "Asia/Tehran",
    "Europe/Istanbul",
    "Europe/Berlin",
    "Europe/Stockholm",
    "Europe/London",
    "America/New_York",
    "UTC",
)
# Zones offered at once when a name matches several (a keyboard, not a directory).
MAX_CHOICES = 8
# Shorter words match whole names only ("Ba" would match half the world).
_MIN_PREFIX = 3
_UTC = ("UTC", "Etc/UTC")
# Territory codes of CLDR's non-country zones ("001" world, "ZZ" unknown).
_NO_COUNTRY = ("001", "ZZ")


def _catalogue_city(t: Texts, zone: str) -> str | None:
    """The catalogue's name for a common zone's city, for languages CLDR has no city names
    in (Sorani); None for other zones."""
    # Translators: a city's name on a time-zone button. Used only where CLDR has no name for
    # the city in your language (it has none in Sorani); elsewhere, write CLDR's name.
    names = {
        "Asia/Baghdad": t.pgettext("city", "Baghdad"),
        "Asia/Tehran": t.pgettext("city", "Tehran"),
        "Europe/Istanbul": t.pgettext("city", "Istanbul"),
        "Europe/Berlin": t.pgettext("city", "Berlin"),
        "Europe/Stockholm": t.pgettext("city", "Stockholm"),
        "Europe/London": t.pgettext("city", "London"),
        "America/New_York": t.pgettext("city", "New York"),
    }
    return names.get(zone)


def _right_to_left(text: str) -> bool:
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)


def _cldr_city(t: Texts, zone: str) -> str:
    """CLDR's exemplar city in ``t``'s locale (its own, else CLDR's root: the Latin one)."""
    fallback = zone.split("/")[-1].replace("_", " ")
    try:
        return get_timezone_location(zone, locale=t.babel, return_city=True) or fallback
    except (LookupError, ValueError):
        return fallback


@cache
def _territory_zones() -> dict[str, tuple[str, ...]]:
    """Each country's zones (CLDR's, those the system's tz database has)."""
    known = zoneinfo.available_timezones()
    found: dict[str, list[str]] = defaultdict(list)
    for zone, territory in get_global("zone_territories").items():
        if territory not in _NO_COUNTRY and zone in known:
            found[territory].append(zone)
    return {territory: tuple(sorted(zones)) for territory, zones in found.items()}


def _territory(zone: str) -> str | None:
    territory = get_global("zone_territories").get(get_global("zone_aliases").get(zone, zone))
    return None if territory in _NO_COUNTRY else territory


def zone_city(t: Texts, zone: str) -> str:
    """A time zone as its city in the reader's language ("Baghdad", "بغداد", "Bağdat",
    "بەغدا"). A right-to-left reader whose language CLDR gives no name for the city sees the
    catalogue's name (common zones), else the country's ("ژاپۆن"), with the Latin city when
    the country has several zones."""
    if zone in _UTC:
        return "UTC"
    city = _cldr_city(t, zone)
    if not t.rtl or _right_to_left(city):
        return city
    ours = _catalogue_city(t, zone)
    if ours is not None and _right_to_left(ours):
        return ours
    territory = _territory(zone)
    country = str(t.babel.territories.get(territory) or "") if territory else ""
    if not country:
        return city
    if len(_territory_zones().get(territory or "", ())) <= 1:
        return country
    return f"{country} ({t.isolate(city)})"


@cache
def zone_index() -> dict[str, frozenset[str]]:
    """Every name a reader may type for a zone, folded (case, accents, Arabic-script letter
    variants, spaces and punctuation), → the zones it names; built once."""
    index: dict[str, set[str]] = defaultdict(set)

    def add(name: str | None, *zones: str) -> None:
        key = fold_name(name or "")
        if key:
            index[key].update(zones)

    by_territory = _territory_zones()
    zones = sorted({z for found in by_territory.values() for z in found})
    for zone in zones:
        add(zone, zone)
        add(zone.split("/")[-1], zone)
    for old, zone in get_global("zone_aliases").items():  # Asia/Calcutta, Europe/Kiev…
        if zone in zones:
            add(old, zone)
            add(old.split("/")[-1], zone)
    for zone in _UTC:
        add(zone, "UTC")
    for locale in LOCALES:
        t = texts(locale)
        for zone in zones:
            add(_cldr_city(t, zone), zone)
            add(_catalogue_city(t, zone), zone)
        for territory, found in by_territory.items():
            add(t.babel.territories.get(territory), *found)
    return {key: frozenset(found) for key, found in index.items()}


def _rank(zone: str) -> tuple[int, str]:
    common = COMMON_ZONES.index(zone) if zone in COMMON_ZONES else len(COMMON_ZONES)
    return common, zone


def canonical_zone(name: str) -> str | None:
    """``name`` as an IANA time zone the system knows, in its canonical spelling
    ("europe/berlin" → "Europe/Berlin"), or None."""
    name = name.strip()
    if not name or ".." in name or name.startswith("/"):
        return None
    try:
        return zoneinfo.ZoneInfo(name).key
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return _zones_by_lower_name().get(name.lower())


@cache
def _zones_by_lower_name() -> dict[str, str]:
    """Every zone the system knows, by its lower-case name (read from disk once)."""
    return {z.lower(): z for z in zoneinfo.available_timezones()}


def find_zones(text: str) -> list[str]:
    """The zones ``text`` names, the likeliest first: an IANA name; else a city or country
    in any of the bot's languages, whole; else the names it begins ("Buenos" → Buenos
    Aires). Empty when nothing matches."""
    exact = canonical_zone(text)
    if exact is not None:
        return [exact]
    key = fold_name(text)
    if not key:
        return []
    index = zone_index()
    found = set(index.get(key, ()))
    if not found and len(key) >= _MIN_PREFIX:
        for name, zones in index.items():
            if name.startswith(key):
                found.update(zones)
    return sorted(found, key=_rank)
