"""Readers' commands end to end: the real Application, the fake Bot API, a local outlet.

Also the command menu in each language, paging a long Sorani search, a reply to a headline,
and a group that Telegram upgrades to a supergroup."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from telegram import BotCommand
from telegram.error import BadRequest

from bot.command_menu import command_menu
from bot.handlers.errors import APOLOGY
from bot.i18n import texts
from storage import chats as chat_store
from storage import stories as story_store
from tests.auxil.app_storage import subscriptions_of
from tests.auxil.conversation import ask, button_data, edited, press
from tests.auxil.feeds import HOSTILE_TITLE, SORANI_TITLE, Item
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


async def test_start_welcomes_and_registers_the_command_menu(
    app: Any, fake_api: FakeBotApi
) -> None:
    user = fake_api.add_user("Shilan")
    reply = await ask(fake_api, user, "/start")
    assert "Welcome, Shilan!" in (reply.text or "")
    assert button_data(reply) == ["sub:*", "pg:a:0:"]
    menus = [cmds for (scope, _lang), cmds in fake_api.commands.items()]
    assert any({"command": "latest", "description": "The newest stories"} in m for m in menus)
    # The welcome's Subscribe button subscribes the chat to everything.
    await press(fake_api, user, reply, "sub:*")
    assert await subscriptions_of(app, user.id) == {"*"}


async def test_subscribe_unsubscribe_and_unknown_sections(app: Any, fake_api: FakeBotApi) -> None:
    user = fake_api.add_user()
    reply = await ask(fake_api, user, "/subscribe")
    assert "all news" in (reply.text or "")
    assert await subscriptions_of(app, user.id) == {"*"}

    reply = await ask(fake_api, user, "/unsubscribe")
    assert "no pushes" in (reply.text or "")
    assert await subscriptions_of(app, user.id) == set()

    reply = await ask(fake_api, user, "/subscribe kurdistan World")
    assert "Kurdistan" in (reply.text or "") and "World" in (reply.text or "")
    assert await subscriptions_of(app, user.id) == {"kurdistan", "world"}

    reply = await ask(fake_api, user, "/unsubscribe world")
    assert await subscriptions_of(app, user.id) == {"kurdistan"}

    reply = await ask(fake_api, user, "/subscribe sport")
    assert "I don't know the section “sport”" in (reply.text or "")
    assert "Valid sections: Kurdistan, World." in (reply.text or "")
    assert await subscriptions_of(app, user.id) == {"kurdistan"}

    # Leaving one section of "all news" keeps every other one.
    await ask(fake_api, user, "/subscribe")
    await ask(fake_api, user, "/unsubscribe kurdistan")
    assert await subscriptions_of(app, user.id) == {"world"}


async def test_sections_toggles_edit_the_same_message(app: Any, fake_api: FakeBotApi) -> None:
    user = fake_api.add_user()
    menu = await ask(fake_api, user, "/sections")
    labels = [b["text"] for b in menu.buttons]
    assert labels == ["➕ All news", "➕ Kurdistan", "➕ World"]

    answer = await press(fake_api, user, menu, "tg:world")
    assert answer["text"] == "Following: World"
    message = await edited(fake_api, user.id, menu.message_id, 1)
    assert [b["text"] for b in message.buttons] == ["➕ All news", "➕ Kurdistan", "✅ World"]
    assert await subscriptions_of(app, user.id) == {"world"}

    await press(fake_api, user, message, "tg:*")
    message = await edited(fake_api, user.id, menu.message_id, 2)
    assert all(b["text"].startswith("✅") for b in message.buttons)
    assert await subscriptions_of(app, user.id) == {"*"}

    await press(fake_api, user, message, "tg:kurdistan")
    await edited(fake_api, user.id, menu.message_id, 3)  # leave one while following all
    assert await subscriptions_of(app, user.id) == {"world"}
    assert len(fake_api.sent(user.id)) == 1  # every change was an edit, not a new message


async def test_latest_pages_newest_first_and_escapes_titles(
    app: Any, fake_api: FakeBotApi
) -> None:
    user = fake_api.add_user()
    first = await ask(fake_api, user, "/latest")
    text = first.text or ""
    assert text.startswith("Latest stories")
    # Items without a date sort by first-seen time (now), so they lead; then story 9, 8, …
    assert HOSTILE_TITLE in text and SORANI_TITLE in text
    assert text.index("Story 9:") < text.index("Story 8:") < text.index("Story 7:")
    assert "Story 6:" not in text
    assert button_data(first) == ["pg:a:5:"]
    assert first.link_preview_options == {"is_disabled": True}

    await press(fake_api, user, first, "pg:a:5:")
    second = await edited(fake_api, user.id, first.message_id, 1)
    assert "6. " in (second.text or "") and "Story 6:" in (second.text or "")
    assert button_data(second) == ["pg:a:0:", "pg:a:10:"]

    await press(fake_api, user, second, "pg:a:0:")
    back = await edited(fake_api, user.id, first.message_id, 2)
    assert back.text == first.text


async def test_latest_section_search_and_hints(app: Any, fake_api: FakeBotApi) -> None:
    user = fake_api.add_user()
    section = await ask(fake_api, user, "/latest world")
    assert (section.text or "").startswith("Latest in World")
    assert "Story 9:" in (section.text or "") and "Story 8:" not in (section.text or "")

    found = await ask(fake_api, user, "/latest kirkuk")
    assert (found.text or "").startswith("Stories matching “kirkuk”")
    assert HOSTILE_TITLE in (found.text or "")

    sorani = await ask(fake_api, user, "/search پێشمەرگە")
    assert SORANI_TITLE in (sorani.text or "")

    none = await ask(fake_api, user, "/search <zzz> & nothing")
    assert "No stories match “<zzz> & nothing”" in (none.text or "")

    empty = await ask(fake_api, user, "/search")
    assert "/search followed by a word" in (empty.text or "")

    hint = await ask(fake_api, user, "hello?")
    assert "/latest" in (hint.text or "")
    before = len(fake_api.sent(user.id))
    fake_api.send_sticker(user, fake_api.private_chat(user))
    messages = await fake_api.wait_for_messages(user.id, before + 1)
    assert "/latest" in (messages[-1].text or "")


async def test_deep_link_opens_a_story(app: Any, fake_api: FakeBotApi) -> None:
    user = fake_api.add_user()
    listing = await ask(fake_api, user, "/latest oil")
    assert "Story" in (listing.text or "")
    deps = app.bot_data["newsbot.deps"]
    async with deps.sessions() as session:
        story = (await story_store.search_stories(session, "kirkuk"))[0]
    reply = await ask(fake_api, user, f"/start s_{story.id}")
    assert (reply.text or "").startswith(HOSTILE_TITLE)
    assert f"mo:{story.id}" in button_data(reply)
    assert story.link in button_data(reply)
    assert reply.link_preview_options == {"url": story.link}

    missing = await ask(fake_api, user, "/start s_999999")
    assert "no longer available" in (missing.text or "")


async def test_more_like_this_lists_the_section(app: Any, fake_api: FakeBotApi) -> None:
    user = fake_api.add_user()
    story_msg = await ask(fake_api, user, "/start s_3")
    more = next(d for d in button_data(story_msg) if d and d.startswith("mo:"))
    before = len(fake_api.sent(user.id))
    await press(fake_api, user, story_msg, more)
    messages = await fake_api.wait_for_messages(user.id, before + 1)
    assert (messages[-1].text or "").startswith("Latest in ")


async def test_inline_mode_offers_matching_stories(app: Any, fake_api: FakeBotApi) -> None:
    user = fake_api.add_user()
    fake_api.inline_query(user, "kirkuk")
    calls = await fake_api.wait_for_calls("answerInlineQuery")
    results = calls[0]["results"]
    assert [r["title"] for r in results] == [HOSTILE_TITLE]
    content = results[0]["input_message_content"]
    assert "&lt;Kirkuk&gt;" in content["message_text"]
    assert content["parse_mode"] == "HTML"

    fake_api.inline_query(user, "")
    calls = await fake_api.wait_for_calls("answerInlineQuery", 2)
    assert len(calls[1]["results"]) == 10
    assert calls[1]["next_offset"] == "10"


async def test_settings_timezone_privacy_help_and_forget(app: Any, fake_api: FakeBotApi) -> None:
    user = fake_api.add_user()
    settings = await ask(fake_api, user, "/settings")
    assert "Asia/Baghdad" in (settings.text or "")
    assert "tz:Europe/Berlin" in button_data(settings)

    await press(fake_api, user, settings, "tz:Europe/Berlin")
    assert "Europe/Berlin" in (
        (await edited(fake_api, user.id, settings.message_id, 1)).text or ""
    )

    reply = await ask(fake_api, user, "/timezone america/new_york")
    assert "America/New_York" in (reply.text or "")
    reply = await ask(fake_api, user, "/timezone Mars/Olympus")
    assert "I know no time zone or city called" in (reply.text or "")

    assert "What I store" in ((await ask(fake_api, user, "/privacy")).text or "")
    assert "@newsbot_test_bot kirkuk" in ((await ask(fake_api, user, "/help")).text or "")

    await ask(fake_api, user, "/subscribe")
    confirm = await ask(fake_api, user, "/forget")
    await press(fake_api, user, confirm, "fg:yes")
    done = await edited(fake_api, user.id, confirm.message_id, 1)
    assert "everything stored about this chat is deleted" in (done.text or "")
    assert await subscriptions_of(app, user.id) == set()


async def test_groups_admins_only_and_addressed_commands(app: Any, fake_api: FakeBotApi) -> None:
    admin = fake_api.add_user("Admin")
    member = fake_api.add_user("Member")
    group = fake_api.add_group("Erbil readers", admins=[admin], members=[member], supergroup=True)

    refused = await ask(fake_api, member, "/subscribe@newsbot_test_bot", chat=group)
    assert "only admins" in (refused.text or "")
    assert await subscriptions_of(app, group.id) == set()

    accepted = await ask(fake_api, admin, "/subscribe@newsbot_test_bot", chat=group)
    assert "all news" in (accepted.text or "")
    assert await subscriptions_of(app, group.id) == {"*"}

    latest = await ask(fake_api, member, "/latest@newsbot_test_bot", chat=group)
    assert (latest.text or "").startswith("Latest stories")


async def test_forum_topic_subscription_is_per_topic(app: Any, fake_api: FakeBotApi) -> None:
    admin = fake_api.add_user("Admin")
    forum = fake_api.add_group("Newsroom", admins=[admin], supergroup=True, forum=True)
    topic = fake_api.add_topic(forum, "Kurdistan news")
    reply = await ask(fake_api, admin, "/subscribe kurdistan", chat=forum, message_thread_id=topic)
    assert reply.message_thread_id == topic
    assert await subscriptions_of(app, forum.id, topic) == {"kurdistan"}
    assert await subscriptions_of(app, forum.id) == set()


async def test_blocking_the_bot_marks_the_chat_inactive(app: Any, fake_api: FakeBotApi) -> None:
    user = fake_api.add_user()
    await ask(fake_api, user, "/subscribe")
    fake_api.chat_member_update(fake_api.private_chat(user), user, "member", "kicked")
    deps = app.bot_data["newsbot.deps"]

    async def inactive() -> bool:
        async with deps.sessions() as session:
            chat = await chat_store.get_chat(session, user.id)
        return chat is not None and not chat.active

    for _ in range(250):  # the update is processed asynchronously; poll the database briefly
        if await inactive():
            break
        await asyncio.sleep(0.02)
    assert await inactive()
    # Coming back with /start makes the chat reachable again.
    fake_api.chat_member_update(fake_api.private_chat(user), user, "kicked", "member")
    await ask(fake_api, user, "/start")
    assert not await inactive()


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


async def test_group_upgraded_to_supergroup_keeps_its_subscriptions(
    app: Any, fake_api: FakeBotApi
) -> None:
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
