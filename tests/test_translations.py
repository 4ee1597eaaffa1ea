"""The catalogues: the template matches the code, every language is complete and keeps each
text's placeholders, HTML tags and plural forms; and the formatting that comes from CLDR."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import catalogues
from bot.i18n import (
    FSI,
    LOCALES,
    NATIVE_NAMES,
    PDI,
    TELEGRAM_COMMAND_CODES,
    chat_locale,
    compile_catalogue,
    locale_from_telegram,
    texts,
)
from tests.fake_bot_api import EntityParseError, parse_html

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ERBIL = ZoneInfo("Asia/Baghdad")


def _keys(catalog: object) -> set[tuple[object, object]]:
    return {(m.id if isinstance(m.id, str) else tuple(m.id), m.context) for m in catalog if m.id}  # type: ignore[attr-defined]


def test_template_lists_exactly_the_texts_in_the_code() -> None:
    in_code = _keys(catalogues.extract())
    in_template = _keys(catalogues.read(catalogues.TEMPLATE))
    missing, stale = in_code - in_template, in_template - in_code
    assert not missing and not stale, (
        f"bot/locale/newsbot.pot is out of date (missing {sorted(map(str, missing))[:5]}, "
        f"stale {sorted(map(str, stale))[:5]}): run python -m bot.catalogues extract && "
        "python -m bot.catalogues update, then translate the new texts"
    )
    assert len(in_code) > 200  # the whole interface, not a sample


@pytest.mark.parametrize("locale", catalogues.TRANSLATED)
def test_catalogue_is_complete_and_keeps_placeholders_tags_and_plurals(locale: str) -> None:
    found = list(catalogues.problems(locale))
    assert not found, "\n".join(found[:30])


@pytest.mark.parametrize("locale", catalogues.TRANSLATED)
def test_catalogue_compiles_and_translates(locale: str) -> None:
    po = catalogues.po_path(locale)
    assert compile_catalogue(po)
    t = texts(locale)
    # Every language really answers in itself, not in English.
    assert t._("just now") != "just now"
    assert t.pgettext("button", "Read") != "Read"


def test_checker_catches_what_a_careless_translation_does(tmp_path: Path) -> None:
    po = tmp_path / "bad.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n'
        '"Plural-Forms: nplurals=7; plural=(n != 1);\\n"\n\n'
        'msgid "Subscribed to <b>{section}</b>."\nmsgstr "Abone: {bölüm}"\n\n'
        'msgid "{num} story"\nmsgid_plural "{num} stories"\nmsgstr[0] "{num} haber"\n'
        'msgstr[1] ""\n\n'
        'msgid "Read"\nmsgstr "Oku {"\n',
        encoding="utf-8",
    )
    template = catalogues.read(po)
    for message in template:
        message.string = "" if not message.id else message.string
    found = "\n".join(catalogues.problems("tr", template, po))
    assert "unknown placeholders ['bölüm']" in found
    assert "drops placeholders ['section']" in found
    assert "changes the HTML tags" in found
    assert "not translated" in found  # the empty second plural form
    # No language has seven forms, so this holds whatever CLDR release Babel carries.
    assert "Plural-Forms says 7 forms, CLDR says" in found
    assert "does not format" in found


def test_checker_catches_a_plural_rule_that_orders_the_forms_unlike_cldr(tmp_path: Path) -> None:
    # Arabic's six forms, but "many" (11-99) and "other" (100-102) swapped: the count is
    # right, yet a translator's tool would show every translation under the wrong number.
    po = tmp_path / "ar.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n'
        '"Plural-Forms: nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : '
        'n%100>=3 && n%100<=10 ? 3 : n%100>=0 && n%100<=2 ? 4 : 5);\\n"\n\n'
        'msgid "Read"\nmsgstr "اقرأ"\n',
        encoding="utf-8",
    )
    template = catalogues.read(po)
    found = "\n".join(catalogues.problems("ar", template, po))
    assert "ar: Plural-Forms picks form 5 for 11, CLDR picks 4" in found


def test_every_language_has_its_own_name_and_command_menu_codes_are_two_letters() -> None:
    assert set(NATIVE_NAMES) == set(LOCALES)
    assert all(len(code) == 2 and code.isalpha() for code in TELEGRAM_COMMAND_CODES.values())


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ckb", "ckb"),
        ("ckb-IQ", "ckb"),
        ("ku", None),  # Sorani or Kurmanji: ask
        ("kmr", "kmr"),
        ("ar", "ar"),
        ("ar-SA", "ar"),
        ("tr", "tr"),
        ("en-GB", "en"),
        ("de", None),
        (None, None),
    ],
)
def test_telegram_language_codes(code: str | None, expected: str | None) -> None:
    assert locale_from_telegram(code) == expected


def test_chat_locale_prefers_the_choice_then_telegram_then_the_default_edition() -> None:
    assert chat_locale("kmr", "ar", "en") == "kmr"
    assert chat_locale(None, "ar", "en") == "ar"
    assert chat_locale(None, "de", "ckb") == "ckb"
    assert chat_locale(None, "ku", "fa") == "en"  # no catalogue for the default: English


def test_relative_times_come_from_cldr_or_the_catalogue() -> None:
    two_hours = NOW - timedelta(hours=2)
    assert texts("en").ago(two_hours, NOW) == "2 hours ago"
    assert texts("tr").ago(two_hours, NOW) == "2 saat önce"
    assert texts("ar").ago(two_hours, NOW) == "قبل ساعتين"  # Arabic's dual, from CLDR
    # CLDR has no "ago" for Kurdish: the catalogue's plural forms say it, with the number.
    for locale in ("ckb", "kmr"):
        said = texts(locale).ago(two_hours, NOW)
        assert said != "2 hours ago" and not said.startswith("-")
        assert "2" in said or "٢" in said


def test_numbers_and_dates_follow_the_locale() -> None:
    assert texts("en").number(12345) == "12,345"
    assert texts("tr").number(12345) == "12.345"
    assert texts("ckb").number(12) == "١٢"  # CLDR: Sorani writes Eastern Arabic digits
    older = NOW - timedelta(days=5)
    # CLDR puts a narrow no-break space before "PM".
    assert texts("en").when(older, NOW, ERBIL).replace("\u202f", " ") == "Nov 20, 2026, 3:00 PM"
    assert "Kas" in texts("tr").when(older, NOW, ERBIL)


def test_isolates_wrap_runs_whose_direction_could_differ() -> None:
    en, ckb = texts("en"), texts("ckb")
    assert en.isolate("Erbil") == "Erbil"
    assert en.isolate("هەولێر") == f"{FSI}هەولێر{PDI}"
    assert ckb.isolate("Erbil 2026") == f"{FSI}Erbil 2026{PDI}"
    assert ckb.isolate("هەولێر") == f"{FSI}هەولێر{PDI}"
    assert ckb.rtl and texts("ar").rtl and not texts("kmr").rtl


@pytest.mark.parametrize("locale", ["en", *catalogues.TRANSLATED])
def test_every_text_in_every_language_is_html_telegram_accepts(locale: str) -> None:
    """Each text, its placeholders filled, goes through the fake Bot API's HTML parser (the
    one that answers "can't parse entities" as Telegram does)."""
    template = catalogues.read(catalogues.TEMPLATE)
    catalog = template if locale == "en" else catalogues.read(catalogues.po_path(locale))
    checked = 0
    for message in catalog:
        if not message.id:
            continue
        ids = list(message.id) if isinstance(message.id, tuple | list) else [message.id]
        strings = ids if locale == "en" else catalogues.forms(message)[1]
        names = set().union(*(catalogues.placeholders(i) for i in ids))
        for form in strings:
            # A URL fits both a link's href and running text.
            text = form.format(**dict.fromkeys(names, "https://x.example/12"))
            try:
                parse_html(text)
            except EntityParseError as exc:
                pytest.fail(f"{locale}: {message.id!r} → {text!r}: {exc}")
            checked += 1
    assert checked > 200
