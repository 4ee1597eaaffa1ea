"""Readers' command arguments: quiet hours and followed keywords as typed."""

from __future__ import annotations

from datetime import time

import pytest

from bot.arguments import parse_follow_args, parse_quiet_hours

# --- quiet hours: parsing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("23:00-07:00", (time(23), time(7))),
        ("23-7", (time(23), time(7))),
        ("22:30–06:15", (time(22, 30), time(6, 15))),
        ("22:30 — 06:15", (time(22, 30), time(6, 15))),
        (" 1:05 - 6 ", (time(1, 5), time(6))),
        ("23.30-6", (time(23, 30), time(6))),
        ("13-15", (time(13), time(15))),
        ("22-24", (time(22), time(0))),
        ("23 to 7", (time(23), time(7))),
        ("٢٣-٧", (time(23), time(7))),  # Eastern Arabic digits
        ("۲۲:۳۰-۰۶:۰۰", (time(22, 30), time(6))),  # Persian digits
    ],
)
def test_parse_quiet_hours(text: str, expected: tuple[time, time]) -> None:
    assert parse_quiet_hours(text) == expected


@pytest.mark.parametrize("text", ["off", "OFF", " none ", "None"])
def test_quiet_hours_off(text: str) -> None:
    assert parse_quiet_hours(text) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "look like"),
        ("23", "look like"),
        ("night", "look like"),
        ("23:00-07:00-09:00", "look like"),
        ("23:5-7", "look like"),
        ("1.5-2", "look like"),
        ("25-7", "Hours"),
        ("23-24:30", "Hours"),
        ("23:60-07:00", "Minutes"),
        ("7-7", "different"),
        ("07:00-7", "different"),
        ("0-24", "different"),
    ],
)
def test_parse_quiet_hours_rejects_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_quiet_hours(text)


# --- keyword alerts: /follow arguments -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kirkuk", ["kirkuk"]),
        ('kirkuk "oil exports"', ["kirkuk", "oil exports"]),
        ("“Oil   Exports” «Hewlêr» „Kürt“", ["oil exports", "hewler", "kurt"]),
        ("kirkuk, erbil;duhok", ["kirkuk", "erbil", "duhok"]),
        ("KIRKUK Kirkûk kirkuk", ["kirkuk"]),
        ('"oil exports" "OIL  exports"', ["oil exports"]),
        ("Al-Sudani", ["al sudani"]),
        ('"unclosed phrase here', ["unclosed phrase here"]),
        ('"" " " ... 🔴', []),
        ("", []),
        ("كركوك کەرکووک", ["کرکوک", "کهرکووک"]),
        ('"نەوتی کوردستان" SON DAKİKA', ["نهوتی کوردستان", "son", "dakika"]),
        # No regular-expression syntax survives to be interpreted by anyone.
        ("(a+)+$ .* [x]", ["a", "x"]),
    ],
)
def test_parse_follow_args(text: str, expected: list[str]) -> None:
    assert parse_follow_args(text) == expected


def test_follow_args_drop_long_keywords_and_keep_ten() -> None:
    long_phrase = " ".join(["word"] * 13)  # 64 characters
    assert parse_follow_args(f'"{long_phrase}" kirkuk') == ["kirkuk"]
    exactly_sixty = "a" * 60
    assert parse_follow_args(exactly_sixty) == [exactly_sixty]
    many = " ".join(f"w{n}" for n in range(15))
    assert parse_follow_args(many) == [f"w{n}" for n in range(10)]
