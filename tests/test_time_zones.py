"""Time zones by the names readers type: IANA names, and cities and countries in the bot's
five languages (CLDR through Babel), and each zone's city as a reader's language writes it."""

from __future__ import annotations

import pytest

from bot.callbacks import fits
from bot.i18n import LOCALES, texts
from bot.time_zones import COMMON_ZONES, find_zones, zone_city, zone_index


@pytest.mark.parametrize(
    ("typed", "zones"),
    [
        ("Europe/Berlin", ["Europe/Berlin"]),
        ("europe/berlin", ["Europe/Berlin"]),
        ("Berlin", ["Europe/Berlin"]),  # English (and CLDR's root)
        ("berlîn", ["Europe/Berlin"]),  # Kurmanji, its accent or not
        ("برلين", ["Europe/Berlin"]),  # Arabic
        ("Bağdat", ["Asia/Baghdad"]),  # Turkish
        ("bagdat", ["Asia/Baghdad"]),
        ("Bexda", ["Asia/Baghdad"]),  # Kurmanji
        ("بەغدا", ["Asia/Baghdad"]),  # Sorani (the catalogue's: CLDR has no Sorani cities)
        ("عێراق", ["Asia/Baghdad"]),  # Sorani country name (CLDR has those)
        ("Irak", ["Asia/Baghdad"]),
        ("new york", ["America/New_York"]),
        ("New_York", ["America/New_York"]),
        ("Calcutta", ["Asia/Kolkata"]),  # an old name
        ("Buenos", ["America/Argentina/Buenos_Aires"]),  # the start of a name
        ("utc", ["UTC"]),
        ("Germany", ["Europe/Berlin", "Europe/Busingen"]),  # a country with two zones
        ("ئەڵمانیا", ["Europe/Berlin", "Europe/Busingen"]),
        ("Atlantis", []),
        ("Mars/Olympus", []),
        ("Ba", []),  # too short to be the start of a name
        ("", []),
        ("../etc/passwd", []),
    ],
)
def test_a_zone_is_found_by_any_name_a_reader_types(typed: str, zones: list[str]) -> None:
    assert find_zones(typed) == zones


def test_several_matches_list_the_common_zones_first() -> None:
    found = find_zones("lon")  # London and Longyearbyen
    assert found[0] == "Europe/London" and len(found) > 1


def test_every_indexed_zone_fits_in_callback_data_and_loads() -> None:
    zones = {zone for found in zone_index().values() for zone in found}
    assert len(zones) > 400
    assert all(fits(f"tz:{zone}") for zone in zones)


def test_cities_are_named_in_the_readers_language() -> None:
    names = {locale: [zone_city(texts(locale), z) for z in COMMON_ZONES] for locale in LOCALES}
    assert names["en"][:4] == ["Baghdad", "Tehran", "Istanbul", "Berlin"]
    assert names["tr"][:4] == ["Bağdat", "Tahran", "İstanbul", "Berlin"]
    assert names["kmr"][:4] == ["Bexda", "Tehran", "Stenbol", "Berlîn"]
    assert names["ar"][:4] == ["بغداد", "طهران", "إسطنبول", "برلين"]
    assert names["ckb"][:4] == ["بەغدا", "تاران", "ئەستەنبوڵ", "بەرلین"]
    # Any other zone, for a Sorani reader: its country in Sorani (and the city when the
    # country has several zones), never a bare Latin name.
    sorani = texts("ckb")
    assert zone_city(sorani, "Asia/Tokyo") == "ژاپۆن"
    assert zone_city(sorani, "America/Chicago").startswith("ویلایەتە یەکگرتووەکان")
    assert zone_city(sorani, "UTC") == "UTC"
