"""Delivery policy: breaking detection, quiet hours, digests, retry back-off and keyword alerts."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from jobs.delivery_policy import (
    DEFAULT_BREAKING_MARKERS,
    MAX_SEND_ATTEMPTS,
    KeywordMatcher,
    digest_due,
    is_breaking,
    next_digest_at,
    parse_follow_args,
    parse_quiet_hours,
    pick_digest_stories,
    quiet_until,
    send_retry_delay,
)
from storage.search_text import normalize, search_document

BAGHDAD = ZoneInfo("Asia/Baghdad")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")

# Europe/Berlin 2024: clocks jump 02:00 CET → 03:00 CEST at 01:00 UTC on 31 March, and fall
# back 03:00 CEST → 02:00 CET at 01:00 UTC on 27 October (02:00–03:00 happens twice).
BERLIN_SPRING = datetime(2024, 3, 31, 1, 0, tzinfo=UTC)
BERLIN_FALL = datetime(2024, 10, 27, 1, 0, tzinfo=UTC)

SORANI = "هەواڵی گرنگ"
ARABIC = "عاجل"
TURKISH = "son dakika"
WORLD_MARKERS = (SORANI, ARABIC, TURKISH)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(
    zone: ZoneInfo,
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    *,
    fold: int = 0,
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=zone, fold=fold)


# --- breaking news ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "category",
    ["Breaking", "BREAKING", "  urgent ", "Ürgent", "breaking!", "URGENT\u00a0"],
)
def test_category_equal_to_a_marker_is_breaking(category: str) -> None:
    assert is_breaking("Talks continue", ["Politics", category], DEFAULT_BREAKING_MARKERS)


@pytest.mark.parametrize("category", ["Breaking News", "Urgent care", "record-breaking", ""])
def test_category_must_equal_a_marker(category: str) -> None:
    assert not is_breaking("Talks continue", [category], DEFAULT_BREAKING_MARKERS)


@pytest.mark.parametrize(
    "title",
    [
        "BREAKING: Kirkuk oil exports resume",
        "Breaking - Erbil airport reopens",
        "Urgent – ceasefire announced",
        "URGENT—ceasefire announced",
        "Breaking news: parliament votes",
        "Rudaw | BREAKING: parliament votes",
        "Parliament votes | Breaking",
        "🔴 Parliament votes",
        "  🚨 Parliament votes",
        "[Breaking] Parliament votes",
        "Parliament votes (URGENT)",
        "#Breaking parliament votes",
        "BREAKING Kirkuk oil exports resume",
        "Breaking",
        "Breaking：parliament votes",  # fullwidth colon
    ],
)
def test_title_labels_are_breaking(title: str) -> None:
    assert is_breaking(title, [], DEFAULT_BREAKING_MARKERS)


@pytest.mark.parametrize(
    "title",
    [
        "Record-breaking heat in Baghdad",
        "Record-breaking heat: Baghdad hits 52C",
        "UN calls for urgent aid to Gaza",
        "Breaking Bad star visits Erbil",
        "Breaking point: Iraq's budget talks",
        "Urgent appeal: donors meet in Erbil",
        "Oil talks - breaking ground in Kirkuk",
        "URGENT AID NEEDED IN DUHOK",  # a title all in capitals shouts every word
        "Netflix renews #BreakingBad",
        "Parliament votes on budget",
        "",
    ],
)
def test_headlines_that_merely_use_the_word_are_not_breaking(title: str) -> None:
    assert not is_breaking(title, ["Politics"], DEFAULT_BREAKING_MARKERS)


@pytest.mark.parametrize(
    "title",
    [
        "هەواڵی گرنگ: تەقینەوە لە هەولێر",
        "ههوالی گرنگ: تهقینهوه",  # typed on an Arabic keyboard
        "عاجل | انفجار في أربيل",
        "عاجل: انفجار في أربيل",
        "خبر عاجل: انفجار في أربيل",
        "#عاجل انفجار في أربيل",
        "SON DAKİKA: Erbil'de patlama",
        "Son dakika haberi: Erbil'de patlama",
        "Son Dakika - Erbil'de patlama",
        "#son_dakika Erbil'de patlama",
        "#SonDakika Erbil'de patlama",
    ],
)
def test_non_latin_and_multi_word_markers_in_titles(title: str) -> None:
    assert is_breaking(title, [], WORLD_MARKERS)


@pytest.mark.parametrize(
    ("title", "categories"),
    [
        ("هەولێر", ["هەواڵی گرنگ"]),
        ("هەولێر", ["هه\u200cوالی گرنگ"]),  # Arabic heh, zero-width non-joiner: the same words
        ("أربيل", ["عاجل"]),
        ("Erbil", ["Son Dakika"]),
        ("Erbil", ["SON  DAKİKA"]),
    ],
)
def test_non_latin_markers_in_categories(title: str, categories: list[str]) -> None:
    assert is_breaking(title, categories, WORLD_MARKERS)


@pytest.mark.parametrize(
    "title",
    [
        "الحكومة تدعو إلى اجتماع عاجل",  # "an urgent meeting", inside the sentence
        "Son dakikada gol geldi",  # "in the last minute": another word
        "هەواڵی گرنگی ئەمڕۆ لە هەولێر",
    ],
)
def test_non_latin_markers_inside_a_sentence_are_not_breaking(title: str) -> None:
    assert not is_breaking(title, [], WORLD_MARKERS)


def test_no_markers_turns_detection_off() -> None:
    assert not is_breaking("🔴 BREAKING: x", ["Breaking"], [])
    assert not is_breaking("🔴 BREAKING: x", ["Breaking"], ["", "  "])


def test_a_symbol_marker_matches_a_leading_symbol_or_a_category() -> None:
    assert is_breaking("⚡ Erbil airport reopens", [], ["⚡"])
    assert is_breaking("Erbil airport reopens", ["⚡"], ["⚡"])
    assert not is_breaking("Erbil airport reopens ⚡", [], ["⚡"])


def test_markers_are_not_patterns() -> None:
    assert not is_breaking("Anything at all", [], [".*", "(a|b)+"])
    assert is_breaking("[.*] headline", [], ["*"]) is False


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


# --- quiet hours: when they end --------------------------------------------------------------


def test_quiet_hours_across_midnight_in_baghdad() -> None:
    start, end = time(23), time(7)
    # Baghdad is UTC+3 all year.
    assert quiet_until(local(BAGHDAD, 2026, 1, 10, 23, 0), start, end, BAGHDAD) == utc(
        2026, 1, 11, 4, 0
    )
    assert quiet_until(local(BAGHDAD, 2026, 1, 11, 3, 0), start, end, BAGHDAD) == utc(
        2026, 1, 11, 4, 0
    )
    assert quiet_until(local(BAGHDAD, 2026, 1, 11, 7, 0), start, end, BAGHDAD) is None
    assert quiet_until(local(BAGHDAD, 2026, 1, 11, 22, 59), start, end, BAGHDAD) is None
    assert quiet_until(local(BAGHDAD, 2026, 1, 11, 12, 0), start, end, BAGHDAD) is None


def test_quiet_hours_within_one_day() -> None:
    start, end = time(13), time(15, 30)
    assert quiet_until(local(BAGHDAD, 2026, 6, 1, 14, 0), start, end, BAGHDAD) == utc(
        2026, 6, 1, 12, 30
    )
    assert quiet_until(local(BAGHDAD, 2026, 6, 1, 12, 59), start, end, BAGHDAD) is None
    assert quiet_until(local(BAGHDAD, 2026, 6, 1, 15, 30), start, end, BAGHDAD) is None


def test_quiet_until_is_utc_whatever_zone_now_is_in() -> None:
    now = local(ZoneInfo("Asia/Tokyo"), 2026, 1, 11, 9, 0)  # 03:00 in Baghdad
    until = quiet_until(now, time(23), time(7), BAGHDAD)
    assert until == utc(2026, 1, 11, 4, 0)
    assert until is not None and until.tzinfo is UTC


def test_quiet_hours_in_new_york_winter_and_summer() -> None:
    start, end = time(22), time(6)
    assert quiet_until(utc(2026, 1, 15, 4, 0), start, end, NEW_YORK) == utc(2026, 1, 15, 11, 0)
    assert quiet_until(utc(2026, 7, 15, 4, 0), start, end, NEW_YORK) == utc(2026, 7, 15, 10, 0)
    # 2026-03-08: 02:00 EST → 03:00 EDT; a night that starts in EST ends at 06:00 EDT.
    assert quiet_until(utc(2026, 3, 8, 3, 30), start, end, NEW_YORK) == utc(2026, 3, 8, 10, 0)


def test_berlin_spring_forward_night_is_an_hour_shorter() -> None:
    now = local(BERLIN, 2024, 3, 30, 23, 0)  # 22:00 UTC, CET
    until = quiet_until(now, time(23), time(7), BERLIN)
    assert until == utc(2024, 3, 31, 5, 0)  # 07:00 CEST
    assert until - now == timedelta(hours=7)


def test_berlin_fall_back_night_is_an_hour_longer() -> None:
    now = local(BERLIN, 2024, 10, 26, 23, 0)  # 21:00 UTC, CEST
    until = quiet_until(now, time(23), time(7), BERLIN)
    assert until == utc(2024, 10, 27, 6, 0)  # 07:00 CET
    assert until - now == timedelta(hours=9)


def test_an_end_the_clock_skips_is_reached_at_the_jump() -> None:
    # 01:30 CET; the clock never reads 02:30 that night, it reads 03:00 at 01:00 UTC.
    now = utc(2024, 3, 31, 0, 30)
    assert quiet_until(now, time(1), time(2, 30), BERLIN) == BERLIN_SPRING


def test_a_repeated_hour_is_quiet_again_on_its_second_pass() -> None:
    start, end = time(1), time(2, 30)
    first_pass = local(BERLIN, 2024, 10, 27, 2, 15, fold=0)  # 00:15 UTC, CEST
    assert quiet_until(first_pass, start, end, BERLIN) == utc(2024, 10, 27, 0, 30)
    after_end = local(BERLIN, 2024, 10, 27, 2, 45, fold=0)
    assert quiet_until(after_end, start, end, BERLIN) is None
    second_pass = local(BERLIN, 2024, 10, 27, 2, 15, fold=1)  # 01:15 UTC, CET
    assert quiet_until(second_pass, start, end, BERLIN) == utc(2024, 10, 27, 1, 30)


def test_quiet_until_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        quiet_until(datetime(2026, 1, 1, 3, 0), time(23), time(7), BAGHDAD)
    with pytest.raises(ValueError, match="different"):
        quiet_until(utc(2026, 1, 1), time(7), time(7), BAGHDAD)


def _naive_quiet_until(now: datetime, start: time, end: time, zone: ZoneInfo) -> datetime | None:
    """Reference: walk minute by minute until the local clock shows a time outside the range."""

    def quiet(moment: datetime) -> bool:
        wall = moment.astimezone(zone).time()
        return start <= wall < end if start < end else wall >= start or wall < end

    if not quiet(now):
        return None
    moment = now
    while quiet(moment):
        moment += timedelta(minutes=1)
    return moment


def test_quiet_until_agrees_with_a_minute_by_minute_walk() -> None:
    rng = random.Random(20240331)
    zones = [BERLIN, NEW_YORK, BAGHDAD, KOLKATA, ZoneInfo("Australia/Lord_Howe")]
    # Around DST changes (where mistakes hide) and at random moments of the year.
    anchors = [BERLIN_SPRING, BERLIN_FALL, utc(2024, 3, 10, 7), utc(2024, 11, 3, 6)]
    anchors += [utc(2024, 4, 7, 15), utc(2024, 10, 6, 16)]  # Lord Howe's half-hour changes
    for _ in range(120):
        zone = rng.choice(zones)
        base = rng.choice(anchors) if rng.random() < 0.7 else utc(2024, 1, 1)
        now = base + timedelta(minutes=rng.randrange(-36 * 60, 36 * 60))
        start = time(rng.randrange(24), rng.choice([0, 15, 30, 45]))
        end = time(rng.randrange(24), rng.choice([0, 15, 30, 45]))
        if start == end:
            continue
        expected = _naive_quiet_until(now, start, end, zone)
        assert quiet_until(now, start, end, zone) == expected, (zone, now, start, end)


# --- digests ---------------------------------------------------------------------------------


def test_hourly_digest_never_sent_is_due_at_the_current_hour() -> None:
    now = local(BAGHDAD, 2026, 5, 1, 10, 17)
    assert next_digest_at("hourly", None, now, BAGHDAD) == local(BAGHDAD, 2026, 5, 1, 10, 0)
    assert digest_due("hourly", None, now, BAGHDAD)


def test_hourly_digest_follows_the_local_hour() -> None:
    sent = local(BAGHDAD, 2026, 5, 1, 10, 0)
    now = local(BAGHDAD, 2026, 5, 1, 10, 30)
    assert next_digest_at("hourly", sent, now, BAGHDAD) == local(BAGHDAD, 2026, 5, 1, 11, 0)
    assert not digest_due("hourly", sent, now, BAGHDAD)
    assert digest_due("hourly", sent, local(BAGHDAD, 2026, 5, 1, 11, 0), BAGHDAD)
    late = local(BAGHDAD, 2026, 5, 1, 10, 59, 59)
    assert next_digest_at("hourly", late, now, BAGHDAD) == local(BAGHDAD, 2026, 5, 1, 11, 0)


def test_hourly_digest_in_a_half_hour_zone() -> None:
    sent = utc(2026, 5, 1, 4, 40)  # 10:10 in Kolkata (+05:30)
    due = next_digest_at("hourly", sent, sent, KOLKATA)
    assert due == utc(2026, 5, 1, 5, 30)
    assert due.astimezone(KOLKATA).hour == 11


def test_hourly_digest_across_berlin_spring_forward() -> None:
    sent = local(BERLIN, 2024, 3, 31, 1, 0)  # 00:00 UTC
    # The clock goes from 01:59 CET to 03:00 CEST: the next hour starts at the jump.
    assert next_digest_at("hourly", sent, sent, BERLIN) == BERLIN_SPRING
    assert BERLIN_SPRING.astimezone(BERLIN).hour == 3


def test_hourly_digest_across_berlin_fall_back() -> None:
    sent = local(BERLIN, 2024, 10, 27, 2, 0, fold=0)  # 00:00 UTC, CEST
    # 02:00 CET is another top of the hour, one real hour later.
    assert next_digest_at("hourly", sent, sent, BERLIN) == BERLIN_FALL


def test_daily_digest_never_sent() -> None:
    before = local(BAGHDAD, 2026, 5, 1, 7, 30)
    assert next_digest_at("daily", None, before, BAGHDAD) == local(BAGHDAD, 2026, 5, 1, 8, 0)
    assert not digest_due("daily", None, before, BAGHDAD)
    exactly = local(BAGHDAD, 2026, 5, 1, 8, 0)
    assert next_digest_at("daily", None, exactly, BAGHDAD) == exactly
    assert digest_due("daily", None, exactly, BAGHDAD)
    after = local(BAGHDAD, 2026, 5, 1, 8, 1)
    assert next_digest_at("daily", None, after, BAGHDAD) == local(BAGHDAD, 2026, 5, 2, 8, 0)
    assert not digest_due("daily", None, after, BAGHDAD)


def test_daily_digest_after_the_last_one() -> None:
    sent = local(BAGHDAD, 2026, 5, 1, 8, 0, 3)
    now = local(BAGHDAD, 2026, 5, 1, 20, 0)
    assert next_digest_at("daily", sent, now, BAGHDAD) == local(BAGHDAD, 2026, 5, 2, 8, 0)
    early = local(BAGHDAD, 2026, 5, 1, 6, 0)  # e.g. the chat was on hourly until then
    assert next_digest_at("daily", early, now, BAGHDAD) == local(BAGHDAD, 2026, 5, 1, 8, 0)
    assert digest_due("daily", early, now, BAGHDAD)
    evening = local(BAGHDAD, 2026, 5, 1, 21, 0)
    assert next_digest_at("daily", evening, now, BAGHDAD, daily_hour=20) == local(
        BAGHDAD, 2026, 5, 2, 20, 0
    )


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (utc(2024, 3, 30, 7, 0), utc(2024, 3, 31, 6, 0)),  # 08:00 CET → 08:00 CEST
        (utc(2024, 10, 26, 6, 0), utc(2024, 10, 27, 7, 0)),  # 08:00 CEST → 08:00 CET
    ],
)
def test_daily_digest_stays_at_eight_local_across_berlin_dst(
    sent: datetime, expected: datetime
) -> None:
    due = next_digest_at("daily", sent, sent, BERLIN)
    assert due == expected
    assert due.astimezone(BERLIN).time() == time(8)


def test_daily_digest_stays_at_eight_local_across_new_york_dst() -> None:
    sent = local(NEW_YORK, 2026, 3, 7, 8, 0)
    assert next_digest_at("daily", sent, sent, NEW_YORK) == local(NEW_YORK, 2026, 3, 8, 8, 0)
    assert next_digest_at("daily", sent, sent, NEW_YORK) - sent == timedelta(hours=23)


def test_daily_digest_at_an_hour_the_clock_skips_or_repeats() -> None:
    sent = utc(2024, 3, 30, 1, 0)  # 02:00 CET on the Saturday
    assert next_digest_at("daily", sent, sent, BERLIN, daily_hour=2) == BERLIN_SPRING
    # On the fall-back night only the first 02:00 brings a digest. (Compare in UTC: Python
    # never finds an ambiguous local time equal to a time in another zone.)
    first = local(BERLIN, 2024, 10, 27, 2, 0, fold=0).astimezone(UTC)
    assert next_digest_at("daily", None, utc(2024, 10, 26, 20), BERLIN, daily_hour=2) == first
    assert next_digest_at("daily", first, first, BERLIN, daily_hour=2) == local(
        BERLIN, 2024, 10, 28, 2, 0
    )


def test_digest_arguments_are_checked() -> None:
    now = utc(2026, 1, 1)
    with pytest.raises(ValueError, match="hourly, daily"):
        next_digest_at("weekly", None, now, BAGHDAD)
    with pytest.raises(ValueError, match="daily_hour"):
        next_digest_at("daily", None, now, BAGHDAD, daily_hour=24)
    with pytest.raises(ValueError, match="last_sent"):
        next_digest_at("hourly", datetime(2026, 1, 1), now, BAGHDAD)
    with pytest.raises(ValueError, match="now"):
        digest_due("daily", None, datetime(2026, 1, 1), BAGHDAD)


# --- choosing a digest's stories -------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    name: str
    breaking: bool
    at: datetime


def pick(items: list[Item], limit: int = 10) -> list[str]:
    chosen = pick_digest_stories(
        items, limit=limit, key_breaking=lambda item: item.breaking, key_time=lambda item: item.at
    )
    return [item.name for item in chosen]


def test_digest_stories_breaking_first_then_newest() -> None:
    base = utc(2026, 5, 1, 8)
    items = [
        Item("old", False, base),
        Item("old-breaking", True, base),
        Item("new", False, base + timedelta(hours=2)),
        Item("new-breaking", True, base + timedelta(hours=1)),
        Item("mid", False, base + timedelta(hours=1)),
    ]
    assert pick(items) == ["new-breaking", "old-breaking", "new", "mid", "old"]
    assert pick(items, limit=3) == ["new-breaking", "old-breaking", "new"]
    assert pick(items, limit=0) == []
    assert pick([]) == []


def test_digest_stories_compare_instants_and_keep_input_order_on_ties() -> None:
    same = utc(2026, 5, 1, 8)
    items = [
        Item("a", False, same),
        Item("b", False, same.astimezone(BAGHDAD)),
        Item("c", False, local(BAGHDAD, 2026, 5, 1, 12)),  # 09:00 UTC: newest
    ]
    assert pick(items) == ["c", "a", "b"]


def test_digest_stories_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="negative"):
        pick([], limit=-1)
    with pytest.raises(ValueError, match="aware"):
        pick([Item("naive", False, datetime(2026, 5, 1))])


# --- send retries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 1.0), (2, 2.0), (3, 4.0), (8, 128.0), (9, 256.0), (10, 300.0), (10_000, 300.0)],
)
def test_send_retry_delay_doubles_up_to_the_cap(attempt: int, expected: float) -> None:
    assert send_retry_delay(attempt) == expected


def test_send_retry_delay_jitter_shortens_by_up_to_half() -> None:
    assert send_retry_delay(3, jitter=1.0) == 2.0
    assert send_retry_delay(3, jitter=0.5) == 3.0
    assert send_retry_delay(20, base=0.5, cap=10.0, jitter=1.0) == 5.0
    rng = random.Random(7)
    for attempt in range(1, MAX_SEND_ATTEMPTS):
        full = send_retry_delay(attempt)
        assert full / 2 <= send_retry_delay(attempt, jitter=rng.random()) <= full


def test_send_retry_delay_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="attempt"):
        send_retry_delay(0)
    with pytest.raises(ValueError, match="jitter"):
        send_retry_delay(1, jitter=1.5)
    with pytest.raises(ValueError, match="jitter"):
        send_retry_delay(1, jitter=-0.1)


def test_max_send_attempts() -> None:
    assert MAX_SEND_ATTEMPTS == 8


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


# --- keyword alerts: matching ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("phrase", "text", "expected"),
    [
        ("oil exports", "Kurdistan's OIL   exports resume", True),
        ("oil exports", "Oil-exports resume", True),
        ("oil exports", "oilexports resume", False),
        ("oil exports", "exports of oil", False),
        ("oil exports", "oil", False),
        ("kirkuk", "Kirkûk governor resigns", True),
        ("kirkuk", "kirkuki", False),
        ("kurdistan", "Kurdistan's parliament", True),
        ("hewler", "HEWLÊR airport", True),
        ("istanbul", "İSTANBUL'da toplantı", True),
        # Arabic script folds letter variants, but nothing is transliterated.
        ("كركوك", "محافظ کرکوک", True),  # Arabic kaf vs keheh
        ("kirkuk", "محافظ كركوك", False),
        ("كركوك", "پارێزگای کەرکووک", False),  # Sorani spelling has more letters
        ("کەرکووک", "پارێزگاى كەركووك", True),
        ("هەولێر", "ههولیر", True),
        ("٢٠٢٦", "budget 2026", True),
    ],
)
def test_keyword_matching(phrase: str, text: str, expected: bool) -> None:
    assert (phrase in KeywordMatcher([phrase]).matches(text)) is expected


def test_matches_returns_the_phrases_as_given() -> None:
    matcher = KeywordMatcher(["Oil Exports", "oil exports", "kirkuk", "erbil", "!!!"])
    assert len(matcher) == 4
    assert matcher.matches("Kirkuk oil exports") == {"Oil Exports", "oil exports", "kirkuk"}
    assert matcher.matches("") == set()
    assert KeywordMatcher([]).matches("kirkuk") == set()


def test_overlapping_and_nested_phrases_all_match() -> None:
    matcher = KeywordMatcher(["oil", "oil exports", "exports", "oil exports resume", "oil oil"])
    assert matcher.matches("oil oil exports resume") == {
        "oil",
        "oil exports",
        "exports",
        "oil exports resume",
        "oil oil",
    }


def test_a_phrase_never_spans_two_texts() -> None:
    matcher = KeywordMatcher(["oil exports"])
    assert matcher.matches("Kirkuk oil", "Exports resume") == set()
    assert matcher.matches("Kirkuk", "Oil exports resume") == {"oil exports"}


def test_a_stored_search_document_matches_like_the_raw_text() -> None:
    texts = ["Kurdistan's OIL exports", "پارێزگاى كەركووك", "İSTANBUL'da Hewlêr ٢٠٢٦", "Straße"]
    for text in texts:
        assert normalize(normalize(text)) == normalize(text)
        assert search_document(search_document(text)) == search_document(text)
    matcher = KeywordMatcher(["oil exports", "کەرکووک", "istanbul da", "strasse"])
    for text in texts:
        assert matcher.matches(text) == matcher.matches(search_document(text))


def _naive_matches(phrases: list[str], text: str) -> set[str]:
    """Reference: a phrase matches when its words, space-padded, occur in the padded text."""
    padded = f" {search_document(text)} "
    return {
        phrase
        for phrase in phrases
        if search_document(phrase) and f" {search_document(phrase)} " in padded
    }


def test_matching_agrees_with_a_naive_reference() -> None:
    rng = random.Random(4)
    # Few words, in several spellings, so that random phrases and texts often overlap.
    vocabulary = ["oil", "OIL", "Öil", "exports", "kirkuk", "Kirkûk", "كركوك", "کرکوک", "a"]
    glue = [" ", "  ", ", ", "-", "'", " — ", "\n"]
    for _ in range(400):
        phrases = [
            rng.choice(glue).join(rng.choices(vocabulary, k=rng.randint(1, 3)))
            for _ in range(rng.randint(0, 8))
        ]
        words = rng.choices(vocabulary, k=rng.randint(0, 12))
        text = "".join(word + rng.choice(glue) for word in words)
        assert KeywordMatcher(phrases).matches(text) == _naive_matches(phrases, text)


def test_thousands_of_phrases_match_many_stories_quickly() -> None:
    rng = random.Random(11)
    words = [f"w{n}" for n in range(2_000)]
    phrases = [" ".join(rng.choices(words, k=rng.randint(1, 3))) for _ in range(10_000)]
    phrases.append("w1 w2 w3")
    matcher = KeywordMatcher(phrases)
    story = " ".join(rng.choices(words, k=300)) + " w1 w2 w3"
    for _ in range(200):
        found = matcher.matches(story)
    assert "w1 w2 w3" in found
    assert found == _naive_matches(phrases, story)
