"""Logging: one line per event (text or JSON), with bot tokens scrubbed from every record."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

# Telegram tokens look like 123456789:AA...; URLs put them after /bot.
_TOKEN_RE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
_URL_TOKEN_RE = re.compile(r"(/(?:file/)?bot)[^/\s]+")


class RedactSecrets(logging.Filter):
    """Replaces the configured token, and anything shaped like one, with ``[REDACTED]``."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self._secrets = [s for s in (secrets or []) if s]

    def scrub(self, text: str) -> str:
        """The text with every secret removed."""
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        text = _URL_TOKEN_RE.sub(r"\1[REDACTED]", text)
        return _TOKEN_RE.sub("[REDACTED]", text)

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


def configure_logging(level: str, fmt: str = "text", secrets: list[str] | None = None) -> None:
    """Route every log record through one handler on stderr, secrets removed."""
    handler = logging.StreamHandler(sys.stderr)
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
    # httpx logs every request URL, and Bot API URLs contain the token: keep it quiet
    # unless debugging (the filter above still scrubs what it does log).
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # Alembic narrates every step at INFO; storage.migrate logs the one line that matters.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLevelName(level)))
