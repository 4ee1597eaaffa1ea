"""Regressions found in review, end to end: long searches, huge section lists, replies,
webhooks without a secret, group migration, forged input."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from telegram import BotCommand
from telegram.error import BadRequest

from bot.commands import command_menu
from bot.handlers.errors import APOLOGY
from bot.i18n import texts
from tests.auxil.conversation import ask, button_data, edited, press
from tests.auxil.feeds import Item
from tests.auxil.ports import free_port
from tests.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.e2e

_NOW = datetime.now(UTC)
# 57 bytes of UTF-8: "pg:q:0:" + query is exactly 64 bytes, so the query rides in the button.
SORANI_QUERY = "پێشمەرگە هاوپەیمانان لە هەولێر"
SORANI_ITEMS = [
    Item(
        f"پێشمەرگە و هاوپەیمانان لە هەولێر کۆبوونەوە {n}",
        f"https://www.rudaw.net/sorani/story/{n}",
        guid=f"ckb-{n}",
        categories=["Kurdistan"],
        published=_NOW - timedelta(minutes=n),
    )
    for n in range(15)
]
MANY_SECTIONS_ITEMS = [
    Item(
        f"Story {n}",
        f"https://www.rudaw.net/english/story/{n}",
        guid=f"s-{n}",
        categories=[f"Politics and Government {n:02d}{k:02d}" for k in range(20)],
    )
    for n in range(6)
]


@pytest.mark.parametrize("outlet_items", [SORANI_ITEMS])
async def test_paging_a_sorani_search(app: Any, fake_api: FakeBotApi) -> None:
    assert len(SORANI_QUERY.encode()) == 57
    user = fake_api.add_user()
    first = await ask(fake_api, user, f"/search {SORANI_QUERY}")
    # Too long to travel in the button at every offset: the query is kept aside by digest.
    (next_page,) = button_data(first)
    assert next_page.startswith("pg:h:5:")
    answer = await press(fake_api, user, first, next_page)
    assert answer.get("text") != APOLOGY
    second = await edited(fake_api, user.id, first.message_id, 1)
    assert "6. " in (second.text or "")


@pytest.mark.parametrize("outlet_items", [MANY_SECTIONS_ITEMS])
async def test_sections_with_a_category_rich_feed(app: Any, fake_api: FakeBotApi) -> None:
    user = fake_api.add_user()
    reply = await ask(fake_api, user, "/sections")
    assert APOLOGY not in (reply.text or "")
    # Its 120 categories are no sections: none is offered, as text or as a button.
    assert "Politics" not in (reply.text or "") and reply.buttons == []


@pytest.mark.parametrize("outlet_items", [MANY_SECTIONS_ITEMS])
async def test_unknown_section_with_a_category_rich_feed(app: Any, fake_api: FakeBotApi) -> None:
    user = fake_api.add_user()
    reply = await ask(fake_api, user, "/subscribe sport")
    assert "I don't know the section" in (reply.text or "")


async def test_reply_to_a_headline_is_not_answered_with_the_hint(
    app: Any, fake_api: FakeBotApi
) -> None:
    user = fake_api.add_user()
    listing = await ask(fake_api, user, "/latest")
    before = len(fake_api.sent(user.id))
    fake_api.send_message(user, fake_api.private_chat(user), "Great story", reply_to=listing)
    hint = await ask(fake_api, user, "/help")  # the next message answers /help, not the reply
    assert len(fake_api.sent(user.id)) == before + 1
    assert "What I can do" in (hint.text or "")


async def test_webhook_without_secret_rejects_forged_requests(
    start_bot: Callable[..., AbstractAsyncContextManager[Any]], fake_api: FakeBotApi
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    async with start_bot(webhook_url=url, webhook_listen="127.0.0.1", webhook_port=port):
        user = fake_api.add_user()
        forged = {
            "update_id": 999_999,
            "message": {
                "message_id": 77,
                "date": 1_700_000_000,
                "chat": {"id": user.id, "type": "private", "first_name": "X"},
                "from": {"id": user.id, "is_bot": False, "first_name": "X"},
                "text": "/help",
                "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            },
        }
        async with aiohttp.ClientSession() as http, http.post(url, json=forged) as response:
            assert response.status == 403


async def test_group_upgraded_to_supergroup_keeps_its_subscriptions(
    app: Any, fake_api: FakeBotApi
) -> None:
    import asyncio

    from tests.auxil.app_storage import subscriptions_of

    admin = fake_api.add_user("Admin")
    group = fake_api.add_group("Erbil readers", admins=[admin], supergroup=False)
    await ask(fake_api, admin, "/subscribe", chat=group)
    assert await subscriptions_of(app, group.id) == {"*"}
    new_id = fake_api.migrate(group)
    for _ in range(100):  # the service messages are processed asynchronously
        if await subscriptions_of(app, new_id):
            break
        await asyncio.sleep(0.02)
    assert await subscriptions_of(app, new_id) == {"*"}


async def test_the_command_menu_is_registered_once_per_language(
    app: Any, fake_api: FakeBotApi
) -> None:
    menus = {key[1]: menu for key, menu in fake_api.commands.items() if key[0] == "default"}
    # English for every client, then each language Telegram has a two-letter code for.
    assert set(menus) == {"", "ku", "ar", "tr"}
    default = {c["command"]: c["description"] for c in menus[""]}
    assert default["latest"] == "The newest stories"
    assert default["language"] == "Choose your language and editions"
    for code, locale in (("ku", "kmr"), ("ar", "ar"), ("tr", "tr")):
        assert menus[code] == [
            {"command": c.command, "description": c.description}
            for c in command_menu(texts(locale))
        ]
        assert [c["command"] for c in menus[code]] == list(default)
    # Sorani ("ckb") cannot have a menu of its own: Telegram wants ISO 639-1 codes.
    with pytest.raises(BadRequest, match=r"^Invalid language code specified$"):
        await app.bot.set_my_commands([BotCommand("latest", "x")], language_code="ckb")
