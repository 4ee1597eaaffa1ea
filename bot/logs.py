"""Logging: one line per event (text or JSON), with secrets scrubbed from every record.

What may reach a log line is decided here, in one place: the configured secrets and the key
generated at run time (``keep_secret``) are replaced wherever they appear, a URL's password and
secret-looking query values are masked (``redact_url``), and the libraries that would print
statement parameters, result rows or whole Telegram updates at DEBUG are held at a level where
they do not.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

# Telegram tokens look like 123456789:AA...; URLs put them after /bot.
_TOKEN_RE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
_URL_TOKEN_RE = re.compile(r"(/(?:file/)?bot)[^/\s]+")
# user:password@ in any URL (feeds, DATABASE_URL, the outlet's endpoint).
_URL_PASSWORD_RE = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*):[^@/?#\s]*@")
# ?api_key=…, &token=…: feed URLs of paywalled or partner feeds carry their key in the query.
_SECRET_QUERY_RE = re.compile(
    r"([?&;](?:api[_-]?key|apikey|key|token|access[_-]?token|auth|secret|password|passwd|pass"
    r"|sig|signature)=)[^&#;\s]+",
    re.IGNORECASE,
)
MASK = "***"

# Libraries whose lower levels print what must not be logged, and the lowest level each may
# log at whatever LOG_LEVEL says:
# - aiosqlite and asyncpg print every statement with its parameters (comment texts, the
#   pseudonym key) at DEBUG; SQLAlchemy's own engine logger stays at WARNING, its default;
# - PTB prints whole updates and API calls at DEBUG: message texts, names, usernames, phone
#   numbers of shared contacts;
# - httpx and httpcore print request URLs, and Bot API URLs contain the token.
_FLOORS = {
    "aiosqlite": logging.WARNING,
    "asyncpg": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "telegram": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "hpack": logging.WARNING,
    # Alembic narrates every step at INFO; storage.migrate logs the one line that matters.
    "alembic": logging.WARNING,
    "apscheduler": logging.WARNING,
}
_runtime_secrets: set[str] = set()


def keep_secret(value: str | bytes) -> None:
    """Scrub ``value`` (and its hex and text forms) from every log line from now on: for
    secrets that exist only at run time, such as the generated pseudonym key."""
    raw = value if isinstance(value, bytes) else value.encode()
    for form in (raw.decode(errors="ignore"), raw.hex()):
        if len(form) >= 8:  # a short value would mask ordinary words
            _runtime_secrets.add(form)


def redact_url(text: str) -> str:
    """``text`` with every URL's password and secret query values replaced by ``***``."""
    text = _URL_PASSWORD_RE.sub(rf"\1:{MASK}@", text)
    return _SECRET_QUERY_RE.sub(rf"\1{MASK}", text)


class RedactSecrets(logging.Filter):
    """Replaces the configured secrets, those kept at run time, anything shaped like a bot
    token, and URL passwords with ``[REDACTED]`` or ``***``."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self._secrets = [s for s in (secrets or []) if s]

    def scrub(self, text: str) -> str:
        """The text with every secret removed."""
        # Longest first, so a secret that contains another is removed whole.
        for secret in sorted({*self._secrets, *_runtime_secrets}, key=len, reverse=True):
            text = text.replace(secret, "[REDACTED]")
        text = _URL_TOKEN_RE.sub(r"\1[REDACTED]", text)
        return redact_url(_TOKEN_RE.sub("[REDACTED]", text))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = self.scrub(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if scrubbed != message or record.args:
            record.msg, record.args = scrubbed, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(
    level: str,
    fmt: str = "text",
    secrets: list[str] | None = None,
    stream: TextIO | None = None,
) -> None:
    """Route every log record through one handler on stderr (or ``stream``), secrets removed."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactSecrets(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name, floor in _FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLevelName(level)))
