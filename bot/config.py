"""The one typed Settings object, read from the environment and `.env`, validated at start.

Nothing else in newsbot reads ``os.environ``; the entry point builds ``Settings`` once and
passes plain values down to storage and jobs.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

from bot.i18n import LOCALES
from news.sections import MAX_SLUG_BYTES, fold_name, section_slug
from news.standard_webhooks import secret_key

DEFAULT_FEED = "https://www.rudaw.net/english/rss"

_SECTION_RE = re.compile(r"^(?P<section>[^\s=:/]+)=(?P<url>\S+)$")
# An edition code before the rest: "ckb:kurdistan=https://…", "ar:https://…". Two or three
# letters, so "http:" and "https:" can never be taken for one.
_EDITION_RE = re.compile(r"^(?P<edition>[a-z]{2,3}):(?P<rest>(?!//).+)$", re.IGNORECASE)
EDITION_CODE = re.compile(r"^[a-z]{2,3}$")
_DURATION_RE = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message names the variable."""


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One configured feed: its URL, the section its stories belong to (when given) and its
    edition (None until Settings fills in DEFAULT_EDITION)."""

    url: str
    section: str | None = None
    edition: str | None = None


def parse_feeds(raw: str) -> tuple[FeedSpec, ...]:
    """Parse ``FEEDS``: comma-separated ``[edition:][section=]url`` entries."""
    specs: list[FeedSpec] = []
    seen: set[str] = set()
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        edition: str | None = None
        rest = item
        prefixed = _EDITION_RE.match(item)
        if prefixed:
            edition, rest = prefixed["edition"].lower(), prefixed["rest"]
        match = _SECTION_RE.match(rest)
        section, url = (match["section"], match["url"]) if match else (None, rest)
        if not re.match(r"^https?://[^\s/]+", url, re.IGNORECASE):
            raise ValueError(
                f"{item!r} is not an http(s) URL, a section=url pair or an edition:… entry"
            )
        if url in seen:
            raise ValueError(f"the feed {url} is listed twice")
        seen.add(url)
        specs.append(
            FeedSpec(url=url, section=section.lower() if section else None, edition=edition)
        )
    if not specs:
        raise ValueError("it lists no feed; give at least one URL")
    return tuple(specs)


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One configured channel: ``chat`` is its numeric id (as text, ``-100…``) or its
    ``@username``; ``edition`` is None until Settings fills in DEFAULT_EDITION."""

    chat: str
    edition: str | None = None

    @property
    def chat_id(self) -> int | str:
        """What the Bot API takes as ``chat_id``: the number, or the ``@username``."""
        return int(self.chat) if self.chat.lstrip("-").isdigit() else self.chat


_CHANNEL_USERNAME_RE = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$")


def parse_channels(raw: str) -> tuple[ChannelSpec, ...]:
    """Parse ``CHANNELS``: comma-separated ``[edition:]chat`` entries, where chat is a numeric
    channel id (``-1001234567890``) or an ``@username``."""
    specs: list[ChannelSpec] = []
    seen: set[str] = set()
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        edition: str | None = None
        chat = item
        prefix, sep, rest = item.partition(":")
        if sep:
            if not EDITION_CODE.match(prefix.strip().lower()):
                raise ValueError(
                    f"{item!r} starts with {prefix!r}, which is not an edition such as en or ckb"
                )
            edition, chat = prefix.strip().lower(), rest.strip()
        if re.fullmatch(r"-100\d{5,}", chat):
            key = chat
        elif _CHANNEL_USERNAME_RE.match(chat):
            key = chat.lower()
        elif re.fullmatch(r"-?\d+", chat):
            raise ValueError(
                f"{chat!r} is not a channel id; a channel's id starts with -100, "
                "such as -1001234567890"
            )
        else:
            raise ValueError(
                f"{item!r} is neither a channel id such as -1001234567890 nor an @username"
            )
        if key in seen:
            raise ValueError(f"the channel {chat} is listed twice")
        seen.add(key)
        specs.append(ChannelSpec(chat=chat, edition=edition))
    return tuple(specs)


def _section_key(raw: str) -> str:
    """A section slug as an operator wrote it, checked: what section_slug would give."""
    slug = unicodedata.normalize("NFKC", raw).strip().lower()
    if not slug:
        raise ValueError("an entry has no section before its '='")
    if len(slug.encode()) > MAX_SLUG_BYTES:
        raise ValueError(f"the section {slug!r} is longer than {MAX_SLUG_BYTES} bytes")
    if section_slug(slug) != slug:
        suggestion = section_slug(slug) or "middle-east"
        raise ValueError(
            f"{raw.strip()!r} is not a section slug; use letters, digits and dashes, "
            f"such as {suggestion}"
        )
    return slug


def parse_sections(raw: str) -> dict[str, tuple[str, ...]]:
    """Parse ``SECTIONS``: comma-separated ``slug=Category|Other category`` entries, each
    filing items whose category is one of those names (compared with fold_name) under the
    section ``slug``; a bare ``Category`` files that category under its own slug."""
    sections: dict[str, tuple[str, ...]] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        key, sep, names = item.partition("=")
        if not sep:
            key, names = section_slug(item), item
            if not key:
                raise ValueError(f"{item!r} holds no letter or digit")
        slug = _section_key(key)
        categories = tuple(name.strip() for name in names.split("|"))
        for category in categories:
            if not fold_name(category):
                raise ValueError(
                    f"the section {slug!r} lists an empty category; separate category names "
                    "with | and entries with commas"
                )
        if slug in sections:
            raise ValueError(
                f"the section {slug!r} is listed twice; give all its categories in one entry, "
                "separated by |"
            )
        sections[slug] = categories
    return sections


_NAME_LANGUAGE_RE = re.compile(r"^(?P<language>[a-z]{2,3}):(?P<name>.*)$", re.IGNORECASE)
MAX_SECTION_NAME = 60


def parse_section_names(raw: str) -> dict[str, dict[str, str]]:
    """Parse ``SECTION_NAMES``: comma-separated ``slug=Name|ckb:ناو|ar:اسم`` entries, each
    giving a section's name without a language (for any language not named) and per
    language (en, ckb, kmr, ar, tr)."""
    names: dict[str, dict[str, str]] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        key, sep, rest = item.partition("=")
        if not sep:
            raise ValueError(f"{item!r} is not a slug=Name|ckb:ناو… entry")
        slug = _section_key(key)
        if slug in names:
            raise ValueError(
                f"the section {slug!r} is listed twice; give all its names in one entry"
            )
        given: dict[str, str] = {}
        for part in (p.strip() for p in rest.split("|")):
            prefixed = _NAME_LANGUAGE_RE.match(part)
            language, name = ("", part)
            if prefixed:
                language, name = prefixed["language"].lower(), prefixed["name"].strip()
                if language not in LOCALES:
                    raise ValueError(
                        f"{part!r} names the language {language!r}; the bot speaks "
                        + ", ".join(LOCALES)
                    )
            if not name:
                raise ValueError(f"the section {slug!r} has an empty name")
            if len(name) > MAX_SECTION_NAME:
                raise ValueError(
                    f"the name {name[:20]!r}… is longer than {MAX_SECTION_NAME} characters"
                )
            if language in given:
                which = f"the language {language!r}" if language else "no language"
                raise ValueError(f"the section {slug!r} has two names for {which}")
            given[language] = name
        names[slug] = given
    return names


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``count`` events per ``per`` seconds."""

    count: int
    per: float


_RATE_UNITS = {"s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "hour": 3600.0}
_RATE_UNITS |= {"d": 86400.0, "day": 86400.0}


def parse_rate_limits(raw: str) -> tuple[RateLimit, ...]:
    """``3/min,20/day`` → two limits; units s, min, h, day (or a number of seconds)."""
    limits = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        match = re.fullmatch(r"(\d+)\s*/\s*(\d*\.?\d*)\s*([a-z]*)", part.lower())
        if not match or (not match.group(2) and not match.group(3)):
            raise ValueError(f"{part!r} is not a rate such as 3/min or 20/day")
        count, amount, unit = int(match.group(1)), match.group(2), match.group(3)
        if unit and unit not in _RATE_UNITS:
            raise ValueError(f"{part!r} has an unknown unit (use s, min, h or day)")
        per = (float(amount) if amount else 1.0) * _RATE_UNITS.get(unit, 1.0)
        if count <= 0 or per <= 0:
            raise ValueError(f"{part!r} must allow at least one in some time")
        limits.append(RateLimit(count, per))
    return tuple(limits)


def parse_duration(raw: str | float) -> float:
    """Parse a duration: seconds (``90``, ``0.5``) or with a unit (``30m``, ``6h``, ``2d``)."""
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        match = _DURATION_RE.match(raw)
        if not match:
            raise ValueError(f"{raw!r} is not a duration such as 60, 30m or 6h")
        value = float(match["number"]) * _UNIT_SECONDS[(match["unit"] or "s").lower()]
    if value <= 0:
        raise ValueError(f"it must be more than zero (got {raw!r})")
    return value


def comments_secret_key(raw: str) -> bytes:
    """COMMENTS_SECRET (or OUTLET_HOOKS_SECRET) as the HMAC key: ``whsec_<base64>`` decoded,
    any other string as UTF-8 (``news.standard_webhooks.secret_key``)."""
    return secret_key(raw)


def as_async_database_url(raw: str) -> str:
    """Accept plain ``sqlite://`` / ``postgresql://`` URLs and give them an async driver."""
    try:
        url = make_url(raw)
    except Exception as exc:
        raise ValueError(f"{raw!r} is not a database URL") from exc
    drivers = {
        "sqlite": "sqlite+aiosqlite",
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
        "postgresql+psycopg2": "postgresql+asyncpg",
    }
    if url.drivername in drivers:
        url = url.set(drivername=drivers[url.drivername])
    if url.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ValueError(
            f"the driver {url.drivername!r} is not supported; use sqlite+aiosqlite:/// "
            "or postgresql+asyncpg://"
        )
    return url.render_as_string(hide_password=False)


class Settings(BaseSettings):
    """Every knob of newsbot; see `.env.example` for the meaning of each."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    feeds: Annotated[tuple[FeedSpec, ...], NoDecode] = (FeedSpec(DEFAULT_FEED),)
    sections: Annotated[dict[str, tuple[str, ...]], NoDecode] = Field(default_factory=dict)
    section_names: Annotated[dict[str, dict[str, str]], NoDecode] = Field(default_factory=dict)
    database_url: str = "sqlite+aiosqlite:///newsbot.db"
    poll_interval: float = 60.0
    poll_max_backoff: float = 3600.0
    push_max_age: float = 6 * 3600.0
    fetch_timeout: float = 30.0
    fetch_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    fetch_concurrency: int = Field(default=8, gt=0, le=256)
    feed_max_items: int = Field(default=1000, gt=0, le=1_000_000)
    log_level: str = "INFO"
    log_format: str = "text"
    default_timezone: str = "Asia/Baghdad"
    default_edition: str = "en"
    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, gt=0, lt=65536)
    send_rate: int = Field(default=25, gt=0, le=1000)
    paid_broadcast: bool = False
    push_images: bool = True
    breaking_markers: Annotated[tuple[str, ...], NoDecode] = ("breaking", "urgent")
    comment_window_days: float = Field(default=7.0, gt=0, le=365)
    digest_hour: int = Field(default=8, ge=0, le=23)
    comments_url: str | None = None
    comments_secret: SecretStr | None = None
    pseudonym_key: SecretStr | None = None
    moderation_chat_id: int | None = None
    comment_max_length: int = Field(default=2000, gt=0, le=4096)
    comment_rate: Annotated[tuple[RateLimit, ...], NoDecode] = (
        RateLimit(3, 60.0),
        RateLimit(20, 86400.0),
    )
    comment_retry_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    private_chat_rate: Annotated[RateLimit, NoDecode] = RateLimit(1, 1.0)
    group_chat_rate: Annotated[RateLimit, NoDecode] = RateLimit(20, 60.0)
    retention_days: float = Field(default=90.0, gt=0)
    metrics_port: int | None = Field(default=None, gt=0, lt=65536)
    metrics_listen: str = "127.0.0.1"
    channels: Annotated[tuple[ChannelSpec, ...], NoDecode] = ()
    channel_comments: bool = True
    # The outlet's events (issue 17): a signed endpoint, or a feed of published comments.
    hooks_port: int | None = Field(default=None, gt=0, lt=65536)
    hooks_listen: str = "127.0.0.1"
    outlet_hooks_secret: SecretStr | None = None
    comments_feed_url: str | None = None
    # WebSub (issue 18): where the hooks listener is reached from outside; feeds advertising
    # a hub are subscribed with callbacks under it, and polled every WEBSUB_POLL_INTERVAL
    # while the hub pushes.
    public_url: str | None = None
    websub_poll_interval: float = 900.0
    websub_lease: float = 10 * 86400.0

    @field_validator(
        "telegram_bot_token",
        "webhook_secret",
        "comments_secret",
        "pseudonym_key",
        "outlet_hooks_secret",
        mode="before",
    )
    @classmethod
    def _blank_secret_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator(
        "webhook_url",
        "comments_url",
        "moderation_chat_id",
        "metrics_port",
        "hooks_port",
        "comments_feed_url",
        "public_url",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("breaking_markers", mode="before")
    @classmethod
    def _parse_markers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(m.strip() for m in value.split(",") if m.strip())
        return value

    @field_validator("default_edition")
    @classmethod
    def _check_edition(cls, value: str) -> str:
        code = value.strip().lower()
        if not EDITION_CODE.match(code):
            raise ValueError(f"{value!r} is not a language code such as en, ckb, kmr, ar or tr")
        return code

    @model_validator(mode="after")
    def _default_editions(self) -> Settings:
        # Entries without an edition belong to the default one, so old FEEDS keep working.
        if any(f.edition is None for f in self.feeds):
            self.feeds = tuple(
                FeedSpec(f.url, f.section, f.edition or self.default_edition) for f in self.feeds
            )
        # Readers who never chose read the default edition: it must have stories.
        if all(f.edition != self.default_edition for f in self.feeds):
            editions = ", ".join(dict.fromkeys(f.edition or "" for f in self.feeds))
            raise ValueError(
                f"DEFAULT_EDITION: no feed in FEEDS belongs to {self.default_edition!r} (their "
                f"editions: {editions}), so new readers would get nothing; set it to one of "
                "those, or add a feed for it"
            )
        return self

    @field_validator("channels", mode="before")
    @classmethod
    def _parse_channels(cls, value: Any) -> Any:
        return parse_channels(value) if isinstance(value, str) else value

    @field_validator("paid_broadcast", "push_images", "channel_comments", mode="before")
    @classmethod
    def _parse_on_off(cls, value: Any, info: ValidationInfo) -> Any:
        # One reading for every switch: on/off, true/false, yes/no, 1/0; left empty (as in a
        # copied .env) it is the default.
        if isinstance(value, str):
            word = value.strip().lower()
            if word == "":
                return cls.model_fields[info.field_name or ""].default
            if word in ("on", "true", "yes", "1"):
                return True
            if word in ("off", "false", "no", "0"):
                return False
            raise ValueError(f"{value!r} is neither on nor off")
        return value

    @model_validator(mode="after")
    def _channel_editions(self) -> Settings:
        # A channel without an edition posts the default edition's stories; one naming an
        # edition no feed has would stay silent forever, which is a typo worth stopping for.
        self.channels = tuple(
            ChannelSpec(c.chat, c.edition or self.default_edition) for c in self.channels
        )
        editions = self.editions
        for channel in self.channels:
            if channel.edition not in editions:
                raise ValueError(
                    f"CHANNELS: {channel.chat} is in the edition {channel.edition!r}, which no "
                    f"feed in FEEDS belongs to (editions: {', '.join(editions)}), so it would "
                    "never get a story"
                )
        return self

    @model_validator(mode="after")
    def _check_section_names(self) -> Settings:
        # A name for a section nothing defines is a typo that would silently show the slug.
        offered = self.offered_sections
        for slug in self.section_names:
            if slug not in offered:
                defined = ", ".join(offered) or "none"
                raise ValueError(
                    f"SECTION_NAMES: it names the section {slug!r}, which neither FEEDS "
                    f"(section=url) nor SECTIONS defines (defined: {defined})"
                )
        return self

    @property
    def offered_sections(self) -> tuple[str, ...]:
        """The sections readers are offered, as slugs: those FEEDS names (``section=url``),
        then those SECTIONS maps categories to, in the order they are configured."""
        from_feeds = (section_slug(f.section) for f in self.feeds if f.section)
        return tuple(dict.fromkeys([*from_feeds, *self.sections]))

    @property
    def editions(self) -> tuple[str, ...]:
        """The outlet's editions, the default first (validation made sure it has feeds), then
        the others in FEEDS order."""
        others = (f.edition or self.default_edition for f in self.feeds)
        return tuple(dict.fromkeys([self.default_edition, *others]))

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram's own rule for secret_token; anything else fails setWebhook at start.
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("it may hold only letters, digits, _ and - (1 to 256 of them)")
        return value

    @field_validator("comments_secret", "outlet_hooks_secret")
    @classmethod
    def _check_comments_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # A whsec_ key that does not decode would sign with a key the outlet does not have.
        if value is not None:
            comments_secret_key(value.get_secret_value())
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _check_api_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("feeds", mode="before")
    @classmethod
    def _parse_feeds(cls, value: Any) -> Any:
        return parse_feeds(value) if isinstance(value, str) else value

    @field_validator("sections", mode="before")
    @classmethod
    def _parse_sections(cls, value: Any) -> Any:
        return parse_sections(value) if isinstance(value, str) else value

    @field_validator("section_names", mode="before")
    @classmethod
    def _parse_section_names(cls, value: Any) -> Any:
        return parse_section_names(value) if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        return as_async_database_url(value)

    @field_validator(
        "poll_interval",
        "poll_max_backoff",
        "push_max_age",
        "fetch_timeout",
        "websub_poll_interval",
        "websub_lease",
        mode="before",
    )
    @classmethod
    def _parse_duration(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str | int | float) else value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"{value!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("log_format")
    @classmethod
    def _check_log_format(cls, value: str) -> str:
        fmt = value.strip().lower()
        if fmt not in ("text", "json"):
            raise ValueError(f"{value!r} is neither text nor json")
        return fmt

    @field_validator("default_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value.strip())
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not a time zone name such as Asia/Baghdad") from exc
        return value.strip()

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: Any) -> Any:
        if isinstance(value, int):
            return (value,)
        if not isinstance(value, str):
            return value
        ids = []
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            if not re.fullmatch(r"-?\d+", part):
                raise ValueError(f"{part!r} is not a numeric Telegram user id")
            ids.append(int(part))
        return tuple(ids)

    @field_validator("comment_rate", mode="before")
    @classmethod
    def _parse_comment_rate(cls, value: Any) -> Any:
        return parse_rate_limits(value) if isinstance(value, str) else value

    @field_validator("private_chat_rate", "group_chat_rate", mode="before")
    @classmethod
    def _parse_chat_rate(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        limits = parse_rate_limits(value)
        if len(limits) != 1:
            raise ValueError(f"{value!r} is not one rate such as 1/s or 20/min")
        return limits[0]

    @model_validator(mode="after")
    def _check_needed_together(self) -> Settings:
        """A setting that is useless, or unsafe, without another one names what is missing."""
        needs = (
            # Telegram allows about 30 bulk messages a second; more needs paid broadcasts.
            (
                self.send_rate > 30 and not self.paid_broadcast,
                "SEND_RATE above 30 needs PAID_BROADCAST=true (Telegram allows about 30 "
                "messages a second otherwise)",
            ),
            # An endpoint that accepts unsigned events would let anyone publish "comments".
            (
                self.hooks_port is not None and self.outlet_hooks_secret is None,
                "OUTLET_HOOKS_SECRET: it must be set when HOOKS_PORT is, to the secret the "
                "outlet signs its events with (unsigned events are never accepted)",
            ),
            # The callbacks are served by the hooks listener: without it nobody would answer.
            (
                self.public_url is not None and self.hooks_port is None,
                "PUBLIC_URL: the WebSub callbacks are served by the outlet's events "
                "listener; set HOOKS_PORT (and OUTLET_HOOKS_SECRET) too",
            ),
        )
        for missing, explanation in needs:
            if missing:
                raise ValueError(explanation)
        return self

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("it must be a base address, without ?query or #fragment")
        # Hubs on the internet would send their secrets' signatures and the feeds' content
        # in clear; plain http is for a hub and bot on one machine.
        local = parts.hostname in ("localhost", "::1") or parts.hostname.startswith("127.")
        if parts.scheme != "https" and not local:
            raise ValueError("it must be https (plain http only for localhost)")
        return value.strip().rstrip("/")

    @field_validator("webhook_url", "comments_url", "comments_feed_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @property
    def comments_enabled(self) -> bool:
        """Readers may comment when there is an outlet endpoint or a moderators' chat."""
        return bool(self.comments_url) or self.moderation_chat_id is not None

    @property
    def comments_key(self) -> bytes | None:
        """The key that signs comment webhooks (COMMENTS_SECRET decoded), or None: unsigned."""
        if self.comments_secret is None:
            return None
        return comments_secret_key(self.comments_secret.get_secret_value())

    @property
    def outlet_hooks_key(self) -> bytes | None:
        """The key the outlet signs its events with (OUTLET_HOOKS_SECRET decoded), or None."""
        if self.outlet_hooks_secret is None:
            return None
        return comments_secret_key(self.outlet_hooks_secret.get_secret_value())

    @property
    def token(self) -> str | None:
        """The bot token in clear, for the few places that must send it."""
        return self.telegram_bot_token.get_secret_value() if self.telegram_bot_token else None

    def secret_values(self) -> list[str]:
        """Every configured value that must never reach a log line or an answer: the token,
        the webhook, comment and pseudonym secrets (and the raw key a ``whsec_`` secret
        encodes), and the passwords inside DATABASE_URL, FEEDS and COMMENTS_URL."""
        found = [self.token or ""]
        for value in (
            self.comments_secret,
            self.pseudonym_key,
            self.webhook_secret,
            self.outlet_hooks_secret,
        ):
            if value is not None:
                found.append(value.get_secret_value())
        for signing in (self.comments_secret, self.outlet_hooks_secret):
            if signing is not None:
                found.append(signing.get_secret_value().removeprefix("whsec_"))
        urls = (self.database_url, self.comments_url or "", self.comments_feed_url or "")
        for url in (*urls, *(f.url for f in self.feeds)):
            password = urlsplit(url).password
            if password:  # as written in the URL, and as a driver sees it after decoding
                found += [password, unquote(password)]
        # Short values would mask ordinary words; they are not worth a secret's name anyway.
        return [value for value in dict.fromkeys(found) if len(value) >= 4]


def _explain(error: ValidationError) -> str:
    """Turn pydantic's report into one plain sentence that names the variable."""
    first = error.errors()[0]
    variable = str(first["loc"][0]).upper() if first["loc"] else "SEND_RATE"
    message = str(first["msg"]).removeprefix("Value error, ")
    # A check across settings names the one to change: "DEFAULT_EDITION: …".
    named = re.match(r"^([A-Z][A-Z_]+): (.*)$", message, re.DOTALL)
    if not first["loc"] and named:
        variable, message = named.groups()
    if first["type"] in ("float_parsing", "int_parsing"):
        message = f"it must be a number (got {first.get('input')!r})"
    elif first["type"] in ("greater_than", "less_than", "greater_than_equal", "less_than_equal"):
        message = f"{message.lower()} (got {first.get('input')!r})"
    return f"{variable} is not valid: {message}."


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, raising ConfigError with a one-sentence explanation."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from None
