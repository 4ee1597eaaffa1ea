"""A fake Telegram Bot API server for tests and benchmarks.

    async with FakeBotApi() as api:  # a subprocess bot gets api.url as TELEGRAM_API_URL
        bot = Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url)
        user = api.add_user("Ali")
        api.send_message(user, None, "/start")  # queue an Update as the user
        [reply] = await api.wait_for_messages(user, 1)  # what the bot sent, parsed

See :class:`FakeBotApi` for the injection, fault and read-back helpers.
"""

from tests.fake_bot_api.errors import ApiError
from tests.fake_bot_api.html_entities import EntityParseError, check_url, parse_html, utf16_len
from tests.fake_bot_api.models import FakeChat, FakeImage, FakeUser, Stats, StoredMessage
from tests.fake_bot_api.server import ALL_UPDATE_TYPES, DEFAULT_ALLOWED_UPDATES, FakeBotApi

__all__ = [
    "ALL_UPDATE_TYPES",
    "DEFAULT_ALLOWED_UPDATES",
    "ApiError",
    "EntityParseError",
    "FakeBotApi",
    "FakeChat",
    "FakeImage",
    "FakeUser",
    "Stats",
    "StoredMessage",
    "check_url",
    "parse_html",
    "utf16_len",
]
