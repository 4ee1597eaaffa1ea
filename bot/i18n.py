"""The bot's languages: gettext catalogues per locale, which locale a chat gets, and Babel
formatting of times and numbers in that locale.

English is the source language (the msgids); ``bot/locale/<locale>/LC_MESSAGES/newsbot.po``
holds each translation, compiled to ``.mo`` when the package is built or installed
(``setup.py``). A catalogue whose ``.mo`` is missing or older than its ``.po`` (a translator
editing in a checkout) is compiled in memory from the ``.po`` instead, so what runs is always
what the ``.po`` says.

Code marks texts with the method names Babel extracts by default::

    t = texts("ckb")
    t._("Subscribed to {section}.").format(section=...)
    t.ngettext("{num} story", "{num} stories", n).format(num=t.number(n))
    t.pgettext("button", "Read")

and module-level constants with ``N_("...")``, translated where they are shown (``t._(CONST)``).
Placeholders are ``str.format`` names, never positional, so a translation may reorder them.
"""

from __future__ import annotations

import gettext
import io
import logging
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

log = logging.getLogger(__name__)

DOMAIN = "newsbot"
LOCALE_DIR = Path(__file__).parent / "locale"
SOURCE_LOCALE = "en"

# The outlet's languages, in the order the /language keyboard shows them.
LOCALES: tuple[str, ...] = ("en", "ckb", "kmr", "ar", "tr")

# Each language in its own name and script, as a reader looks for it.
NATIVE_NAMES: dict[str, str] = {
    "en": "English",
    "ckb": "کوردی (سۆرانی)",
    "kmr": "Kurdî (Kurmancî)",
    "ar": "العربية",
    "tr": "Türkçe",
}

# CLDR has no "kmr"; its "ku" is Northern Kurdish in Latin script, i.e. Kurmanji.
BABEL_CODES = {"kmr": "ku"}

# Telegram's setMyCommands takes two-letter ISO 639-1 codes only, so Sorani ("ckb") has no
# code of its own there; "ku" is Kurdish as Telegram's Latin-script clients report it.
TELEGRAM_COMMAND_CODES: dict[str, str] = {"kmr": "ku", "ar": "ar", "tr": "tr"}


def N_(message: str) -> str:
    """Mark a constant for extraction; translate it where it is shown."""
    return message


def marked(*messages: str) -> tuple[str, ...]:
    """Mark several constants at once (each argument must be a literal ``N_`` call)."""
    return messages


# --- catalogues -------------------------------------------------------------------------------


def po_path(locale: str) -> Path:
    """Where the catalogue of ``locale`` lives."""
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_catalogue(po_path: Path) -> bytes:
    """A ``.po`` file compiled to ``.mo`` bytes (fuzzy entries left out, as msgfmt does)."""
    with po_path.open("rb") as handle:
        catalog = read_po(handle)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


@cache
def _translations(locale: str) -> gettext.NullTranslations:
    if locale == SOURCE_LOCALE:
        return gettext.NullTranslations()
    po = po_path(locale)
    mo = po.with_suffix(".mo")
    try:
        if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
            with mo.open("rb") as handle:
                return gettext.GNUTranslations(handle)
        if po.exists():
            return gettext.GNUTranslations(io.BytesIO(compile_catalogue(po)))
    except (OSError, ValueError) as exc:  # a broken catalogue must not take the bot down
        log.error("event=catalogue_unreadable locale=%s error=%s", locale, exc)
    else:
        log.warning("event=catalogue_missing locale=%s path=%s", locale, po)
    return gettext.NullTranslations()


# --- direction --------------------------------------------------------------------------------

FSI, PDI = "\u2068", "\u2069"


def _has_strong(text: str, kinds: tuple[str, ...]) -> bool:
    return any(unicodedata.bidirectional(ch) in kinds for ch in text)


# --- one language -----------------------------------------------------------------------------

_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@dataclass(frozen=True)
class Texts:
    """The texts and formats of one locale; cheap to get (``texts(locale)`` is cached)."""

    locale: str

    @property
    def _catalogue(self) -> gettext.NullTranslations:
        return _translations(self.locale)

    @property
    def babel(self) -> Locale:
        return _babel_locale(self.locale)

    @property
    def rtl(self) -> bool:
        """True for right-to-left languages (Sorani, Arabic)."""
        return self.babel.character_order == "right-to-left"

    # gettext, under the names Babel's extractor knows.
    def _(self, message: str) -> str:
        return self._catalogue.gettext(message)

    def gettext(self, message: str) -> str:
        return self._catalogue.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalogue.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return self._catalogue.pgettext(context, message)

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        return self._catalogue.npgettext(context, singular, plural, n)

    # Direction.
    def isolate(self, text: str) -> str:
        """Wrap an embedded run (a headline, a name, a link, a number) in FSI/PDI when its
        direction could differ from the text around it: right-to-left letters anywhere, or
        left-to-right letters and digits inside a right-to-left interface."""
        if not text:
            return text
        if _has_strong(text, ("R", "AL")) or (self.rtl and _has_strong(text, ("L", "EN", "AN"))):
            return f"{FSI}{text}{PDI}"
        return text

    # Numbers, dates and times from CLDR via Babel. Babel gives a locale's separators but
    # always Latin digits; where CLDR's default numbering is Arabic-Indic (Sorani) the
    # digits are converted too, so "١٢:٣٠" never reads "12:30" with Sorani separators.
    def _digits(self, text: str) -> str:
        if self.babel.default_numbering_system == "arab":
            return text.translate(_ARABIC_INDIC)
        return text

    def number(self, value: float) -> str:
        return self._digits(format_decimal(value, locale=self.babel, numbering_system="default"))

    def date(self, when: datetime, zone: ZoneInfo, width: str = "medium") -> str:
        return self._digits(format_date(when.astimezone(zone).date(), width, locale=self.babel))

    def time(self, when: datetime, zone: ZoneInfo) -> str:
        local = when.astimezone(zone)
        return self._digits(format_time(local, "short", tzinfo=zone, locale=self.babel))

    def date_time(self, when: datetime, zone: ZoneInfo, width: str = "medium") -> str:
        return self._("{date}, {time}").format(
            date=self.date(when, zone, width), time=self.time(when, zone)
        )

    def ago(self, when: datetime, now: datetime) -> str:
        """ "just now", "5 minutes ago", "3 hours ago", "2 days ago" in this locale."""
        seconds = max(0, int((now - when).total_seconds()))
        if seconds < 60:
            return self._("just now")
        delta = timedelta(seconds=seconds)
        if _has_relative_time(self.babel):
            return format_timedelta(
                -delta, granularity="minute", threshold=1, add_direction=True, locale=self.babel
            )
        # CLDR has no "… ago" patterns for Kurdish yet: our catalogue says it.
        if seconds < 3600:
            n = seconds // 60
            text = self.ngettext("{num} minute ago", "{num} minutes ago", n)
        elif seconds < 86400:
            n = seconds // 3600
            text = self.ngettext("{num} hour ago", "{num} hours ago", n)
        else:
            n = seconds // 86400
            text = self.ngettext("{num} day ago", "{num} days ago", n)
        return text.format(num=self.number(n))

    def stamp(self, when: datetime, now: datetime, zone: ZoneInfo) -> str:
        """An absolute local time, for text that stays in a chat (a push, a shared story):
        "14:05" when ``when`` is today in ``zone`` as of ``now``, "24 Nov, 14:05" on another
        day of the same year, the full date and time in another year. Unlike "5 minutes ago"
        it is as true tomorrow as it is now."""
        local, today = when.astimezone(zone), now.astimezone(zone)
        if local.date() == today.date():
            return self.time(when, zone)
        if local.year != today.year:
            return self.date_time(when, zone)
        day = self._digits(format_skeleton("MMMd", local.date(), locale=self.babel))
        return self._("{date}, {time}").format(date=day, time=self.time(when, zone))

    def when(self, when: datetime, now: datetime, zone: ZoneInfo) -> str:
        """Relative time plus the local clock time: "3 hours ago, 14:05"; a date when older.
        Only for text read as it is sent (a /latest list): "ago" goes stale in a chat."""
        if (now - when).total_seconds() < 86400 * 2:
            return self._("{ago}, {time}").format(
                ago=self.ago(when, now), time=self.time(when, zone)
            )
        return self.date_time(when, zone)

    def join(self, items: Iterable[str]) -> str:
        """A short list in this locale ("a, b"), for section names and the like."""
        return self._(", ").join(items)


@cache
def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(BABEL_CODES.get(locale, locale))
    except (ValueError, LookupError):
        return Locale.parse(SOURCE_LOCALE)


@cache
def _has_relative_time(locale: Locale) -> bool:
    # Babel falls back to a bare "-2 h" when CLDR lacks the locale's relative patterns.
    sample = format_timedelta(timedelta(hours=-2), add_direction=True, locale=locale)
    return not sample.startswith("-")


@cache
def texts(locale: str | None) -> Texts:
    """The texts of ``locale``; English for an unknown or missing one."""
    return Texts(locale if locale in LOCALES else SOURCE_LOCALE)


def language_name(code: str) -> str:
    """A language or edition in its own name, for codes beyond the five as CLDR knows them."""
    if code in NATIVE_NAMES:
        return NATIVE_NAMES[code]
    try:
        name = Locale.parse(code).get_display_name()
    except (ValueError, LookupError):
        name = None
    return name or code


def _base_code(code: str | None) -> str:
    """ "ar-IQ", "ku_IQ" → "ar", "ku"; "" for none."""
    return (code or "").lower().replace("_", "-").split("-")[0]


def is_ambiguous_kurdish(code: str | None) -> bool:
    """True for Telegram's "ku": Sorani or Kurmanji, only the reader can say."""
    return _base_code(code) == "ku"


def locale_from_telegram(code: str | None) -> str | None:
    """The interface language that fits a Telegram ``language_code``, if we have one.

    ``ku`` is ambiguous (Sorani and Kurmanji readers both report it); it maps to None so the
    caller asks the reader instead of guessing.
    """
    base = _base_code(code)
    if base in ("ckb", "sdh"):  # Southern Kurdish readers read Sorani far more than Kurmanji
        return "ckb"
    if base == "kmr":
        return "kmr"
    return base if base in LOCALES else None


def chat_locale(chosen: str | None, telegram_code: str | None, default: str) -> str:
    """The interface language of a chat: its own choice, else what its Telegram language
    suggests, else the outlet's default edition's language (English when we have no
    catalogue for it)."""
    if chosen in LOCALES:
        return chosen
    suggested = locale_from_telegram(telegram_code)
    if suggested:
        return suggested
    return default if default in LOCALES else SOURCE_LOCALE
