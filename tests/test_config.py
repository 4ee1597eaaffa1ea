"""Settings: defaults, parsing of every composite variable, and one-sentence errors."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from bot.config import (
    DEFAULT_FEED,
    ConfigError,
    FeedSpec,
    Settings,
    comments_secret_key,
    load_settings,
    parse_duration,
    parse_feeds,
)


def assert_one_sentence_naming(error: ConfigError, variable: str) -> None:
    """The message starts with the variable's name and is one plain sentence, no pydantic noise."""
    message = str(error)
    assert message.startswith(f"{variable} is not valid: "), message
    assert message.endswith("."), message
    assert "\n" not in message
    assert "pydantic" not in message.lower()
    assert "validation error" not in message.lower()
    assert "value error," not in message.lower()
    # One sentence: nothing but the final full stop ends a sentence.
    assert not re.search(r"[.!?]\s+[A-Z]", message), message


def settings_from(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def config_error_from(monkeypatch: pytest.MonkeyPatch, **env: str) -> ConfigError:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    return caught.value


# --- defaults ---------------------------------------------------------------------------------


def test_defaults_without_any_environment() -> None:
    settings = load_settings()
    assert settings.telegram_bot_token is None
    assert settings.token is None
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.feeds == (FeedSpec(DEFAULT_FEED, None, "en"),)
    assert settings.default_edition == "en"
    assert settings.database_url == "sqlite+aiosqlite:///newsbot.db"
    assert settings.poll_interval == 60.0
    assert settings.poll_max_backoff == 3600.0
    assert settings.push_max_age == 6 * 3600.0
    assert settings.fetch_timeout == 30.0
    assert settings.fetch_max_bytes == 10 * 1024 * 1024
    assert settings.fetch_concurrency == 8
    assert settings.feed_max_items == 1000
    assert settings.log_level == "INFO"
    assert settings.log_format == "text"
    assert settings.default_timezone == "Asia/Baghdad"
    assert settings.admin_ids == ()
    assert settings.webhook_url is None
    assert settings.webhook_secret is None
    # Both servers stay on this host unless the operator says otherwise (README, security).
    assert settings.webhook_listen == "127.0.0.1"
    assert settings.metrics_listen == "127.0.0.1"


def test_token_is_secret_and_blank_token_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ"
    settings = settings_from(monkeypatch, TELEGRAM_BOT_TOKEN=f"  {token} ")
    assert settings.token == token
    assert token not in repr(settings)
    assert token not in str(settings.model_dump())

    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "   ")
    assert load_settings().token is None


# --- FEEDS ------------------------------------------------------------------------------------


def test_feeds_section_pairs_and_bare_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        monkeypatch,
        FEEDS=" World=https://example.org/world.rss , https://example.org/all.rss,"
        "kurdistan=http://example.org/ku.rss ,",
    )
    assert settings.feeds == (
        FeedSpec("https://example.org/world.rss", "world", "en"),
        FeedSpec("https://example.org/all.rss", None, "en"),
        FeedSpec("http://example.org/ku.rss", "kurdistan", "en"),
    )


def test_feeds_url_with_equals_in_query_string_is_a_bare_url() -> None:
    assert parse_feeds("https://example.org/rss?cat=world&lang=en") == (
        FeedSpec("https://example.org/rss?cat=world&lang=en", None),
    )
    assert parse_feeds("world=https://example.org/rss?cat=world") == (
        FeedSpec("https://example.org/rss?cat=world", "world"),
    )


def test_feeds_one_value_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch, FEEDS="https://example.org/only.rss")
    assert settings.feeds == (FeedSpec("https://example.org/only.rss", None, "en"),)


def test_feeds_sorani_section_name() -> None:
    assert parse_feeds("هەواڵ=https://example.org/ckb.rss") == (
        FeedSpec("https://example.org/ckb.rss", "هەواڵ"),
    )


def test_feeds_with_editions_and_the_default_edition(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        monkeypatch,
        FEEDS="ckb:kurdistan=https://example.org/ckb.rss, KMR:https://example.org/kmr.rss,"
        "ar:عربي=https://example.org/ar.rss, world=https://example.org/world.rss,"
        "https://example.org/all.rss",
        DEFAULT_EDITION="tr",
    )
    assert settings.feeds == (
        FeedSpec("https://example.org/ckb.rss", "kurdistan", "ckb"),
        FeedSpec("https://example.org/kmr.rss", None, "kmr"),
        FeedSpec("https://example.org/ar.rss", "عربي", "ar"),
        FeedSpec("https://example.org/world.rss", "world", "tr"),
        FeedSpec("https://example.org/all.rss", None, "tr"),
    )
    # The default edition comes first: it is what readers who never chose read.
    assert settings.editions == ("tr", "ckb", "kmr", "ar")


def test_default_edition_must_have_a_feed(monkeypatch: pytest.MonkeyPatch) -> None:
    error = config_error_from(
        monkeypatch, FEEDS="ckb:https://example.org/ckb.rss,ar:https://example.org/ar.rss"
    )
    assert str(error).startswith("DEFAULT_EDITION is not valid: no feed in FEEDS belongs to 'en'")
    assert "ckb, ar" in str(error)


def test_feeds_edition_prefix_never_swallows_a_url_scheme() -> None:
    assert parse_feeds("https://example.org/a.rss") == (FeedSpec("https://example.org/a.rss"),)
    assert parse_feeds("en:https://example.org/a.rss") == (
        FeedSpec("https://example.org/a.rss", None, "en"),
    )


@pytest.mark.parametrize("value", ["english", "e", "c k b", "12"])
def test_default_edition_must_be_a_language_code(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    error = config_error_from(monkeypatch, DEFAULT_EDITION=value)
    assert "DEFAULT_EDITION" in str(error)


def test_feeds_listed_twice_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    error = config_error_from(
        monkeypatch, FEEDS="world=https://example.org/a.rss,https://example.org/a.rss"
    )
    assert_one_sentence_naming(error, "FEEDS")
    assert "https://example.org/a.rss" in str(error)
    assert "twice" in str(error)


@pytest.mark.parametrize(
    "raw",
    [
        "garbage",
        "ftp://example.org/feed",
        "world=",
        "world = https://example.org/rss",
        '["https://example.org/rss"]',
        ",,",
        "",
    ],
)
def test_feeds_garbage_is_a_config_error_naming_feeds(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    assert_one_sentence_naming(config_error_from(monkeypatch, FEEDS=raw), "FEEDS")


# --- SECTIONS and SECTION_NAMES ---------------------------------------------------------------


def test_sections_map_categories_and_come_after_the_feeds_sections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_from(
        monkeypatch,
        FEEDS="ckb:Kurdistan=https://example.org/ku.rss,Sci_Tech=https://example.org/st.rss,"
        "https://example.org/all.rss",
        DEFAULT_EDITION="ckb",
        SECTIONS=" world = World | International ,Middle East, kurdistan=Kurdistan Region,"
        "ئابووری=ئابووری|Economy",
    )
    assert settings.sections == {
        "world": ("World", "International"),
        "middle-east": ("Middle East",),
        "kurdistan": ("Kurdistan Region",),
        "ئابووری": ("ئابووری", "Economy"),
    }
    # FEEDS's sections first, in their order, then SECTIONS's; each slug once.
    assert settings.offered_sections == (
        "kurdistan",
        "sci-tech",
        "world",
        "middle-east",
        "ئابووری",
    )


def test_sections_default_to_none_beyond_the_feeds() -> None:
    assert load_settings().sections == {}
    assert load_settings().offered_sections == ()
    assert load_settings().section_names == {}


def test_section_names_per_language(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        monkeypatch,
        FEEDS="kurdistan=https://example.org/ku.rss",
        SECTIONS="world=World",
        SECTION_NAMES="kurdistan=Kurdistan|ckb:کوردستان|AR: كردستان |kmr:Kurdistan|tr:Kürdistan,"
        "world=ckb:جیهان",
    )
    assert settings.section_names == {
        "kurdistan": {
            "": "Kurdistan",
            "ckb": "کوردستان",
            "ar": "كردستان",
            "kmr": "Kurdistan",
            "tr": "Kürdistan",
        },
        "world": {"ckb": "جیهان"},
    }


@pytest.mark.parametrize(
    ("variable", "raw", "says"),
    [
        ("SECTIONS", "Middle East=Middle East", "'Middle East' is not a section slug"),
        ("SECTIONS", "world=World||Global", "lists an empty category"),
        ("SECTIONS", "world=World,world=Global", "listed twice"),
        ("SECTIONS", "=World", "no section before"),
        ("SECTIONS", "!!!", "no letter or digit"),
        ("SECTIONS", "a" * 41 + "=A", "longer than 40 bytes"),
        ("SECTION_NAMES", "world", "is not a slug=Name"),
        ("SECTION_NAMES", "world=World|de:Welt", "the language 'de'"),
        ("SECTION_NAMES", "world=World|ckb:", "empty name"),
        ("SECTION_NAMES", "world=World|Global", "two names for no language"),
        ("SECTION_NAMES", "world=" + "W" * 61, "longer than 60 characters"),
        ("SECTION_NAMES", "kurdistn=Kurdistan", "neither FEEDS (section=url) nor SECTIONS"),
    ],
)
def test_bad_sections_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str, says: str
) -> None:
    monkeypatch.setenv("SECTIONS", "world=World")
    error = config_error_from(monkeypatch, **{variable: raw})
    assert_one_sentence_naming(error, variable)
    assert says in str(error)


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("2", 2.0),
        ("0.5", 0.5),
        ("30m", 1800.0),
        (" 6h ", 21600.0),
        ("2d", 172800.0),
        ("90s", 90.0),
    ],
)
def test_poll_interval_accepts_seconds_fractions_and_units(
    monkeypatch: pytest.MonkeyPatch, raw: str, seconds: float
) -> None:
    assert settings_from(monkeypatch, POLL_INTERVAL=raw).poll_interval == seconds


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "0m", "1e3", "nan", "5 minutes"])
def test_bad_poll_interval_names_the_variable_in_one_sentence(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    error = config_error_from(monkeypatch, POLL_INTERVAL=raw)
    assert_one_sentence_naming(error, "POLL_INTERVAL")
    assert repr(raw) in str(error)


def test_parse_duration_accepts_numbers_and_rejects_zero() -> None:
    assert parse_duration(3) == 3.0
    assert parse_duration(0.25) == 0.25
    with pytest.raises(ValueError, match="more than zero"):
        parse_duration(0)


def test_every_duration_variable_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        monkeypatch, POLL_MAX_BACKOFF="2h", PUSH_MAX_AGE="1d", FETCH_TIMEOUT="1.5"
    )
    assert settings.poll_max_backoff == 7200.0
    assert settings.push_max_age == 86400.0
    assert settings.fetch_timeout == 1.5
    assert_one_sentence_naming(
        config_error_from(monkeypatch, FETCH_TIMEOUT="soon"), "FETCH_TIMEOUT"
    )


# --- DATABASE_URL -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sqlite:///data/newsbot.db", "sqlite+aiosqlite:///data/newsbot.db"),
        ("sqlite+aiosqlite:////var/lib/newsbot.db", "sqlite+aiosqlite:////var/lib/newsbot.db"),
        (
            "postgresql://news:s3cret@db.internal:5432/newsbot",
            "postgresql+asyncpg://news:s3cret@db.internal:5432/newsbot",
        ),
        ("postgres://news@db/newsbot", "postgresql+asyncpg://news@db/newsbot"),
        ("postgresql+psycopg2://news@db/newsbot", "postgresql+asyncpg://news@db/newsbot"),
        ("postgresql+asyncpg://news@db/newsbot", "postgresql+asyncpg://news@db/newsbot"),
    ],
)
def test_database_url_gets_an_async_driver(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: str
) -> None:
    assert settings_from(monkeypatch, DATABASE_URL=raw).database_url == expected


@pytest.mark.parametrize(
    "raw", ["mysql://user@host/db", "oracle://x/y", "sqlite+pysqlite:///x.db", "not a url"]
)
def test_other_database_urls_are_rejected(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    assert_one_sentence_naming(config_error_from(monkeypatch, DATABASE_URL=raw), "DATABASE_URL")


# --- ADMIN_IDS, DEFAULT_TIMEZONE, others ------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("42", (42,)), ("1, 2,-1001234567890", (1, 2, -1001234567890)), ("", ()), (" , ", ())],
)
def test_admin_ids(monkeypatch: pytest.MonkeyPatch, raw: str, expected: tuple[int, ...]) -> None:
    assert settings_from(monkeypatch, ADMIN_IDS=raw).admin_ids == expected


@pytest.mark.parametrize("raw", ["1,bob", "[1,2]", "1.5"])
def test_bad_admin_ids(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    assert_one_sentence_naming(config_error_from(monkeypatch, ADMIN_IDS=raw), "ADMIN_IDS")


def test_default_timezone_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings_from(monkeypatch, DEFAULT_TIMEZONE=" Europe/Berlin ").default_timezone == (
        "Europe/Berlin"
    )


@pytest.mark.parametrize("raw", ["Mars/Olympus", "Asia", "../etc/passwd", "/etc/localtime", ""])
def test_default_timezone_invalid(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    error = config_error_from(monkeypatch, DEFAULT_TIMEZONE=raw)
    assert_one_sentence_naming(error, "DEFAULT_TIMEZONE")


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("LOG_LEVEL", "verbose"),
        ("LOG_FORMAT", "xml"),
        ("FETCH_CONCURRENCY", "0"),
        ("FETCH_MAX_BYTES", "10MB"),
        ("FEED_MAX_ITEMS", "0"),
        ("FEED_MAX_ITEMS", "all"),
        ("WEBHOOK_PORT", "70000"),
        ("WEBHOOK_URL", "bot.example.org/hook"),
        ("TELEGRAM_API_URL", "localhost:8081"),
    ],
)
def test_other_bad_values_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str
) -> None:
    assert_one_sentence_naming(config_error_from(monkeypatch, **{variable: raw}), variable)


def test_log_level_and_api_url_are_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        monkeypatch, LOG_LEVEL="debug", LOG_FORMAT=" JSON", TELEGRAM_API_URL="http://127.0.0.1:81/"
    )
    assert settings.log_level == "DEBUG"
    assert settings.log_format == "json"
    assert settings.telegram_api_url == "http://127.0.0.1:81"


# --- .env -------------------------------------------------------------------------------------


def test_reads_dot_env_in_the_working_directory(tmp_path: Path) -> None:
    assert Path.cwd() == tmp_path
    (tmp_path / ".env").write_text(
        "# comment lines and unknown keys are fine\n"
        "TELEGRAM_BOT_TOKEN=123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ\n"
        "FEEDS=world=https://example.org/world.rss,https://example.org/all.rss\n"
        "POLL_INTERVAL=30m\n"
        "ADMIN_IDS=7,8\n"
        "DATABASE_URL=sqlite:///from-dotenv.db\n"
        "SOMETHING_ELSE=ignored\n",
        encoding="utf-8",
    )
    settings = load_settings()
    assert settings.token == "123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ"
    assert settings.feeds == (
        FeedSpec("https://example.org/world.rss", "world", "en"),
        FeedSpec("https://example.org/all.rss", None, "en"),
    )
    assert settings.poll_interval == 1800.0
    assert settings.admin_ids == (7, 8)
    assert settings.database_url == "sqlite+aiosqlite:///from-dotenv.db"


def test_environment_wins_over_dot_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("POLL_INTERVAL=30m\nDEFAULT_TIMEZONE=UTC\n", encoding="utf-8")
    monkeypatch.setenv("POLL_INTERVAL", "5")
    settings = load_settings()
    assert settings.poll_interval == 5.0
    assert settings.default_timezone == "UTC"


def test_bad_value_in_dot_env_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("POLL_INTERVAL=-1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert_one_sentence_naming(caught.value, "POLL_INTERVAL")


# --- COMMENTS_SECRET --------------------------------------------------------------------------


def test_comments_secret_whsec_form_is_decoded_like_the_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = bytes(range(24))
    encoded = base64.b64encode(key).decode()
    settings = settings_from(monkeypatch, COMMENTS_SECRET=f"whsec_{encoded}")
    assert settings.comments_key == key
    assert encoded not in repr(settings)
    # Unpadded base64, which the standardwebhooks library also accepts, gives the same key.
    assert comments_secret_key("whsec_" + base64.b64encode(b"12345").decode().rstrip("=")) == (
        b"12345"
    )
    signed = Webhook(settings.comments_key).sign("msg_1", datetime(2026, 1, 1, tzinfo=UTC), "{}")
    assert signed == Webhook(f"whsec_{encoded}").sign(
        "msg_1", datetime(2026, 1, 1, tzinfo=UTC), "{}"
    )


def test_comments_secret_other_strings_are_the_raw_key(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch, COMMENTS_SECRET="  correct horse battery  ")
    assert settings.comments_key == b"correct horse battery"
    monkeypatch.setenv("COMMENTS_SECRET", " ")
    assert load_settings().comments_key is None


@pytest.mark.parametrize("value", ["whsec_not base64!", "whsec_", "whsec_QUJD*"])
def test_comments_secret_with_broken_base64_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    error = config_error_from(monkeypatch, COMMENTS_SECRET=value)
    assert_one_sentence_naming(error, "COMMENTS_SECRET")
    assert "base64" in str(error) or "no key" in str(error)
    if value != "whsec_":  # a secret is never echoed back
        assert value not in str(error)


def test_every_setting_is_explained_in_env_example_and_the_readme() -> None:
    root = Path(__file__).resolve().parents[1]
    example = (root / ".env.example").read_text(encoding="utf-8")
    readme = (root / "README.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        variable = name.upper()
        assert re.search(rf"^{variable}=", example, re.M), f"{variable} missing in .env.example"
        assert f"| `{variable}` |" in readme, f"{variable} missing in the README's table"


def test_the_outlet_events_endpoint_needs_its_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    error = config_error_from(monkeypatch, HOOKS_PORT="8090")
    assert_one_sentence_naming(error, "OUTLET_HOOKS_SECRET")
    assert "HOOKS_PORT" in str(error)
    secret = "whsec_" + base64.b64encode(b"outlet events key").decode()
    settings = settings_from(monkeypatch, HOOKS_PORT="8090", OUTLET_HOOKS_SECRET=secret)
    assert settings.outlet_hooks_key == b"outlet events key"
    assert secret in settings.secret_values() and secret.removeprefix("whsec_") in (
        settings.secret_values()
    )
    assert settings_from(monkeypatch, HOOKS_PORT="").hooks_port is None


def test_public_url_is_https_unless_local_and_needs_the_listener(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "whsec_" + base64.b64encode(b"outlet events key").decode()
    hooks = {"HOOKS_PORT": "8090", "OUTLET_HOOKS_SECRET": secret}
    settings = settings_from(monkeypatch, PUBLIC_URL="https://bot.example.org/", **hooks)
    assert settings.public_url == "https://bot.example.org"
    assert settings.websub_poll_interval == 900 and settings.websub_lease == 10 * 86400
    local = settings_from(monkeypatch, PUBLIC_URL="http://127.0.0.1:8090", **hooks)
    assert local.public_url == "http://127.0.0.1:8090"
    for wrong in ("http://bot.example.org", "ftp://bot.example.org", "bot.example.org"):
        assert_one_sentence_naming(
            config_error_from(monkeypatch, PUBLIC_URL=wrong, **hooks), "PUBLIC_URL"
        )
    monkeypatch.delenv("HOOKS_PORT")
    error = config_error_from(monkeypatch, PUBLIC_URL="https://bot.example.org")
    assert_one_sentence_naming(error, "PUBLIC_URL")
    assert "HOOKS_PORT" in str(error)
    monkeypatch.delenv("PUBLIC_URL")
    slow = settings_from(monkeypatch, WEBSUB_POLL_INTERVAL="30m", WEBSUB_LEASE="2d")
    assert (slow.websub_poll_interval, slow.websub_lease) == (1800, 2 * 86400)


def test_every_switch_reads_on_off_words_and_empty_is_its_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_from(
        monkeypatch, PAID_BROADCAST="yes", PUSH_IMAGES="off", CHANNEL_COMMENTS="0"
    )
    assert (settings.paid_broadcast, settings.push_images, settings.channel_comments) == (
        True,
        False,
        False,
    )
    empty = settings_from(monkeypatch, PAID_BROADCAST="", PUSH_IMAGES=" ", CHANNEL_COMMENTS="")
    assert (empty.paid_broadcast, empty.push_images, empty.channel_comments) == (
        False,
        True,
        True,
    )
    assert_one_sentence_naming(config_error_from(monkeypatch, PUSH_IMAGES="maybe"), "PUSH_IMAGES")
