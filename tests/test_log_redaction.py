"""What logs may hold: URL passwords and secret query values masked, run-time secrets scrubbed,
every configured secret listed, and SQL errors without their parameters."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.config import load_settings
from bot.logs import RedactSecrets, keep_secret, redact_url
from news.clock import utcnow
from storage.engine import SessionFactory, writing
from storage.models import BotState


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:pa55@host/rss", "https://user:***@host/rss"),
        ("postgresql+asyncpg://nb:s%40cret@db:5432/nb", "postgresql+asyncpg://nb:***@db:5432/nb"),
        ("feed=http://h/rss?api_key=abc&x=1 failing", "feed=http://h/rss?api_key=***&x=1 failing"),
        ("http://h/rss?a=1&Token=zz#top", "http://h/rss?a=1&Token=***#top"),
        ("https://user@host/rss (no password)", "https://user@host/rss (no password)"),
        ("https://host/monkey?page=2", "https://host/monkey?page=2"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
    ],
)
def test_redact_url_masks_passwords_and_secret_query_values(text: str, expected: str) -> None:
    assert redact_url(text) == expected


def test_a_secret_known_only_at_run_time_is_scrubbed_from_then_on() -> None:
    key = "9f2c4e1a7b3d5f60" * 2
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "key %s", (key,), None)
    keep_secret(key.encode())
    RedactSecrets().filter(record)
    assert record.getMessage() == "key [REDACTED]"


def test_settings_list_every_secret_they_hold() -> None:
    settings = load_settings(
        telegram_bot_token="123456:AAbbCCddEEffGGhhIIjjKKllMMnn",
        comments_secret="whsec_c2VjcmV0LWZvci10aGUtb3V0bGV0",
        webhook_secret="hook-secret",
        pseudonym_key="pseudo-key-1",
        database_url="postgresql://nb:db%40pass@db/nb",
        feeds="https://u:feed-pass@feeds.example/rss",
        comments_url="https://bot:outlet-pass@outlet.example/comments",
    )
    found = set(settings.secret_values())
    assert {
        "123456:AAbbCCddEEffGGhhIIjjKKllMMnn",
        "whsec_c2VjcmV0LWZvci10aGUtb3V0bGV0",
        "c2VjcmV0LWZvci10aGUtb3V0bGV0",
        "hook-secret",
        "pseudo-key-1",
        "db%40pass",
        "db@pass",
        "feed-pass",
        "outlet-pass",
    } <= found


async def test_sql_errors_never_carry_their_parameters(sessions: SessionFactory) -> None:
    # An integrity error's message would quote the row it refused (a comment, a key).
    async with writing(sessions) as session:
        session.add(BotState(key="probe", value="first-value-1111", updated_at=utcnow()))
    with pytest.raises(IntegrityError) as raised:
        async with writing(sessions) as session:
            session.add(BotState(key="probe", value="secret-value-2222", updated_at=utcnow()))
    assert "secret-value-2222" not in str(raised.value)
    assert "probe" not in str(raised.value)
    rows = None
    async with sessions() as session:
        rows = (await session.exec(select(BotState).where(BotState.key == "probe"))).all()
    assert [r.value for r in rows] == ["first-value-1111"]
