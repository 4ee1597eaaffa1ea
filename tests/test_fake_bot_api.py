"""The fake Bot API server, exercised with the real PTB client over real HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import socket
import sys
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    ChatMemberOwner,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from tests.auxil.ptb import make_bot
from tests.fake_bot_api import EntityParseError, FakeBotApi, FakeUser, parse_html


async def start_receiver(
    statuses: list[int],
) -> tuple[web.AppRunner, str, list[tuple[dict[str, str], dict[str, Any]]]]:
    """A tiny webhook endpoint: answers with ``statuses`` in turn, then 200; records requests."""
    received: list[tuple[dict[str, str], dict[str, Any]]] = []

    async def handle(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.json()))
        status = statuses.pop(0) if statuses else 200
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    return runner, f"http://127.0.0.1:{port}/hook", received


# --- basics ------------------------------------------------------------------------------


async def test_get_me_describes_the_bot(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "newsbot_test_bot"
    assert me.is_bot
    assert me.can_join_groups
    assert me.supports_inline_queries
    assert bot.id == 123456


async def test_send_message_is_stored_with_parsed_text(
    api: FakeBotApi, bot: Bot, user: FakeUser
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Read", callback_data="read:7")]])
    message = await bot.send_message(
        user.id,
        "<b>Breaking</b> news &amp; more 😀 <i>here</i>",
        parse_mode="HTML",
        reply_markup=keyboard,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )

    assert message.text == "Breaking news & more 😀 here"
    assert message.chat.id == user.id
    assert message.from_user is not None
    assert message.from_user.id == bot.id
    assert message.entities == (
        MessageEntity("bold", 0, 8),
        MessageEntity("italic", 24, 4),  # the emoji counts as 2 UTF-16 units
    )
    assert message.reply_markup == keyboard

    [stored] = api.sent(user)
    assert stored.message_id == message.message_id
    assert stored.text == "Breaking news & more 😀 here"
    assert stored.raw_text == "<b>Breaking</b> news &amp; more 😀 <i>here</i>"
    assert stored.parse_mode == "HTML"
    assert stored.buttons == [{"text": "Read", "callback_data": "read:7"}]
    assert stored.link_preview_options == {"is_disabled": True}
    method, params = api.requests[-1]
    assert method == "sendMessage"
    # PTB sends form data: ints and JSON objects arrive as strings and are decoded by type.
    assert params["chat_id"] == user.id
    assert params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Read", "callback_data": "read:7"}]]
    }
    assert api.stats.sent == 1
    assert api.stats.requests["sendMessage"] == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<foo>x</foo>", 'Can\'t parse entities: unsupported start tag "foo" at byte offset 0'),
        ("1 < 2", 'Can\'t parse entities: unsupported start tag "" at byte offset 2'),
        ("é <b>bold", "Can't parse entities: can't find end tag corresponding to start tag \"b\""),
        (
            "<b><i>test</b></i>",
            'Can\'t parse entities: unmatched end tag at byte offset 10, expected "</i>", '
            'found "</b>"',
        ),
        ("text</b>", "Can't parse entities: unexpected end tag at byte offset 4"),
        ("<b>x</b", "Can't parse entities: unclosed end tag at byte offset 4"),
        ("ab<b", "Can't parse entities: unclosed start tag at byte offset 2"),
        (
            '<span class="x">s</span>',
            'Can\'t parse entities: tag "span" must have class "tg-spoiler" at byte offset 0',
        ),
        (
            '<tg-emoji emoji-id="99999999999999999999">x</tg-emoji>',
            "Can't parse entities: invalid custom emoji identifier specified",
        ),
        ("<b>  </b>", "Text must be non-empty"),
    ],
)
async def test_html_errors_reach_ptb_as_bad_request(
    bot: Bot, user: FakeUser, text: str, expected: str
) -> None:
    # PTB strips "Bad Request: " and capitalize()s the rest, lowering the remaining letters.
    with pytest.raises(BadRequest) as excinfo:
        await bot.send_message(user.id, text, parse_mode="HTML")
    assert excinfo.value.message == expected


async def test_text_limit_counts_utf16_units_after_parsing(bot: Bot, user: FakeUser) -> None:
    emoji_text = "😀" * 2048  # 4096 UTF-16 units, 2048 code points
    sent = await bot.send_message(user.id, emoji_text)
    assert sent.text == emoji_text
    # Markup does not count: only the text left after parsing does.
    await bot.send_message(user.id, f"<b>{'a' * 4096}</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message(user.id, emoji_text + "a")


async def test_other_text_checks(bot: Bot, api: FakeBotApi, user: FakeUser) -> None:
    with pytest.raises(BadRequest, match=r"^Text must be non-empty$"):
        await bot.send_message(user.id, "   \n ")
    with pytest.raises(BadRequest, match=r"^Unsupported parse_mode$"):
        await bot.send_message(user.id, "x", parse_mode="BBCode")
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(424242, "hello")
    with pytest.raises(BadRequest, match=r"^Button_data_invalid$"):
        await bot.send_message(
            user.id,
            "x",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("b", callback_data="x" * 65)]]
            ),
        )
    with pytest.raises(BadRequest, match=r"text buttons are unallowed in the inline keyboard$"):
        await bot.send_message(
            user.id, "x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("plain")]])
        )
    with pytest.raises(BadRequest, match=r"is invalid: unsupported url protocol"):
        await bot.send_message(
            user.id,
            "x",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("b", url="ftp://a.com")]]),
        )
    with pytest.raises(BadRequest, match=r"^Message to be replied not found$"):
        await bot.send_message(user.id, "x", reply_parameters=ReplyParameters(message_id=999))
    lenient = await bot.send_message(
        user.id, "x", reply_parameters=ReplyParameters(999, allow_sending_without_reply=True)
    )
    assert lenient.reply_to_message is None
    # Surrounding whitespace is trimmed and entities move with the text.
    trimmed = await bot.send_message(user.id, "\n  <b>hi</b>  ", parse_mode="HTML")
    assert trimmed.text == "hi"
    assert trimmed.entities == (MessageEntity("bold", 0, 2),)
    assert [m.text for m in api.sent(user)] == ["x", "hi"]


async def test_forbidden_errors(api: FakeBotApi, bot: Bot) -> None:
    blocker, ghost, stranger = (
        api.add_user("B"),
        api.add_user("D"),
        api.add_user("S", started=False),
    )
    group = api.add_group("Readers", admins=[blocker])
    api.block(blocker)
    api.deactivate(ghost)
    api.kick_bot(group)

    with pytest.raises(Forbidden, match=r"^Forbidden: bot was blocked by the user$"):
        await bot.send_message(blocker.id, "hi")
    with pytest.raises(Forbidden, match=r"^Forbidden: user is deactivated$"):
        await bot.send_message(ghost.id, "hi")
    with pytest.raises(
        Forbidden, match=r"^Forbidden: bot can't initiate conversation with a user$"
    ):
        await bot.send_message(stranger.id, "hi")
    with pytest.raises(Forbidden, match=r"^Forbidden: bot was kicked from the group chat$"):
        await bot.send_message(group.id, "hi")
    assert api.sent() == []
    assert api.stats.errors[403] == 4


async def test_migrated_group_raises_chat_migrated(api: FakeBotApi, bot: Bot) -> None:
    admin = api.add_user("Admin")
    group = api.add_group("Old group", admins=[admin])
    await bot.send_message(group.id, "before")

    new_id = api.migrate(group)

    with pytest.raises(ChatMigrated) as excinfo:
        await bot.send_message(group.id, "after")
    assert excinfo.value.new_chat_id == new_id
    assert str(new_id).startswith("-100")
    moved = await bot.send_message(new_id, "after")
    assert moved.chat.type == "supergroup"
    updates = await bot.get_updates()
    assert [u.message.migrate_to_chat_id for u in updates if u.message] == [new_id, None]
    assert updates[1].message is not None
    assert updates[1].message.migrate_from_chat_id == group.id


# --- flood control and injected faults ---------------------------------------------------


@pytest.mark.usefixtures("ptb_timedelta")
async def test_global_rate_limit_answers_429_with_retry_after() -> None:
    async with FakeBotApi(global_rate=3) as api, make_bot(api) as bot:
        users = [api.add_user(f"U{i}") for i in range(5)]
        for reader in users[:3]:
            await bot.send_message(reader.id, "news")
        with pytest.raises(RetryAfter) as excinfo:
            await bot.send_message(users[3].id, "news")
        assert excinfo.value.retry_after == dtm.timedelta(seconds=1)
        # Paid broadcasts are metered separately (paid_rate, 1000/s by default).
        await bot.send_message(users[4].id, "paid", allow_paid_broadcast=True)
        assert api.stats.rate_limited == 1
        assert api.stats.sent == 4
        assert api.stats.peak_sends_per_second == 4
        assert api.stats.errors[429] == 1


@pytest.mark.usefixtures("ptb_timedelta")
async def test_per_chat_limits() -> None:
    async with FakeBotApi(per_chat_limits=True) as api, make_bot(api) as bot:
        first, second = api.add_user("A"), api.add_user("B")
        group = api.add_group("G", members=[first])
        await bot.send_message(first.id, "1")
        with pytest.raises(RetryAfter) as excinfo:
            await bot.send_message(first.id, "2")
        assert excinfo.value.retry_after == dtm.timedelta(seconds=1)
        await bot.send_message(second.id, "other chats are not affected")
        for number in range(20):
            await bot.send_message(group.id, str(number))
        with pytest.raises(RetryAfter) as group_excinfo:
            await bot.send_message(group.id, "21st within a minute")
        assert isinstance(group_excinfo.value.retry_after, dtm.timedelta)
        assert 55 <= group_excinfo.value.retry_after.total_seconds() <= 60
        assert api.stats.rate_limited == 2


@pytest.mark.usefixtures("ptb_timedelta")
async def test_fail_next_injects_errors_once(api: FakeBotApi, bot: Bot, user: FakeUser) -> None:
    api.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as excinfo:
        await bot.send_message(user.id, "x")
    assert excinfo.value.retry_after == dtm.timedelta(seconds=7)

    api.fail_next("sendmessage", status=502)
    with pytest.raises(NetworkError, match=r"^Bad Gateway$"):
        await bot.send_message(user.id, "x")

    api.fail_next("*", status=500, description="Internal Server Error: restart", count=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match=r"restart"):
            await bot.get_me()
    sent = await bot.send_message(user.id, "x")
    assert sent.text == "x"
    assert api.stats.injected_failures == 4
    assert [m.text for m in api.sent(user)] == ["x"]


async def test_delayed_call_times_out_but_still_takes_effect(
    api: FakeBotApi, bot: Bot, user: FakeUser
) -> None:
    api.delay_next("sendMessage", 0.5)
    started = time.monotonic()
    with pytest.raises(TimedOut):
        await bot.send_message(user.id, "slow", read_timeout=0.1)
    assert time.monotonic() - started < 0.45
    # Like Telegram, the message is still sent after the client gave up.
    [stored] = await api.wait_for_messages(user, 1, timeout=2)
    assert stored.text == "slow"


# --- updates: long polling ---------------------------------------------------------------


async def test_long_poll_returns_injected_update_promptly(
    api: FakeBotApi, bot: Bot, user: FakeUser
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await api.wait_for_calls("getUpdates")
    started = time.monotonic()
    injected = api.send_message(user, user, "/start@newsbot_test_bot hello")

    updates = await asyncio.wait_for(poll, 2)

    assert time.monotonic() - started < 1
    [update] = updates
    assert update.update_id == injected["update_id"]
    assert update.message is not None
    assert update.message.text == "/start@newsbot_test_bot hello"
    assert update.message.from_user is not None
    assert update.message.from_user.id == user.id
    assert update.message.entities == (MessageEntity("bot_command", 0, 23),)


async def test_get_updates_offsets_limit_and_empty_timeout(
    api: FakeBotApi, bot: Bot, user: FakeUser
) -> None:
    first = api.send_message(user, None, "one")["update_id"]
    api.send_message(user, None, "two")
    api.send_message(user, None, "three")

    assert [u.update_id for u in await bot.get_updates(limit=2)] == [first, first + 1]
    # An offset confirms everything before it; confirmed updates never come back.
    rest = await bot.get_updates(offset=first + 2)
    assert [u.message.text for u in rest if u.message] == ["three"]
    assert [u.update_id for u in await bot.get_updates()] == [first + 2]
    assert await bot.get_updates(offset=first + 3, timeout=0) == ()
    started = time.monotonic()
    assert await bot.get_updates(offset=first + 3, timeout=1) == ()
    assert time.monotonic() - started >= 0.9
    assert api.pending_updates == []


async def test_allowed_updates_filter_new_updates(
    api: FakeBotApi, bot: Bot, user: FakeUser
) -> None:
    await bot.get_updates(allowed_updates=["callback_query"])
    api.send_message(user, None, "ignored")
    assert await bot.get_updates(timeout=0) == ()
    await bot.get_updates(allowed_updates=[])  # back to Telegram's default set
    api.send_message(user, None, "seen")
    [update] = await bot.get_updates()
    assert update.message is not None
    assert update.message.text == "seen"


async def test_second_get_updates_terminates_the_first(api: FakeBotApi, bot: Bot) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=10))
    await api.wait_for_calls("getUpdates")
    async with make_bot(api) as other_instance:
        assert await other_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match=r"terminated by other getUpdates request"):
        await asyncio.wait_for(older, 2)


async def test_abandoned_long_poll_loses_no_updates(
    api: FakeBotApi, bot: Bot, user: FakeUser
) -> None:
    # A bot process killed mid-poll leaves its request hanging on the server.
    async with aiohttp.ClientSession() as session:
        hanging = asyncio.create_task(
            session.get(f"{api.url}/bot{api.token}/getUpdates", params={"timeout": "30"})
        )
        await api.wait_for_calls("getUpdates")
        hanging.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hanging
    api.send_message(user, None, "sent while nobody polled")
    updates = await bot.get_updates(timeout=5)
    assert [u.message.text for u in updates if u.message] == ["sent while nobody polled"]


async def test_bot_process_killed_mid_poll(api: FakeBotApi, bot: Bot, user: FakeUser) -> None:
    # The state lives in this process: a SIGKILLed bot process loses nothing unconfirmed.
    script = (
        "import asyncio, sys\n"
        "from telegram import Bot\n"
        "async def main():\n"
        "    async with Bot(sys.argv[1], base_url=sys.argv[2]) as bot:\n"
        "        await bot.get_updates(timeout=30)\n"
        "asyncio.run(main())\n"
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, api.token, api.base_url
    )
    try:
        await api.wait_for_calls("getUpdates", timeout=20)
    finally:
        child.kill()
        await child.wait()
    assert [call["timeout"] for call in api.calls("getUpdates")] == [30]
    api.send_message(user, None, "after the crash")
    [update] = await bot.get_updates(timeout=5)
    assert update.message is not None
    assert update.message.text == "after the crash"


# --- updates: webhook --------------------------------------------------------------------


async def test_webhook_delivery_with_secret_and_retry(
    api: FakeBotApi, bot: Bot, user: FakeUser
) -> None:
    runner, url, received = await start_receiver(statuses=[500])
    try:
        assert await bot.set_webhook(url, secret_token="s3cr3t-Token_1", max_connections=1)
        injected = api.send_message(user, None, "via webhook")

        await api.wait_for(lambda: api.stats.webhook_deliveries == 1)

        assert len(received) == 2  # the first attempt got a 500 and was retried
        headers, body = received[-1]
        assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cr3t-Token_1"
        assert headers["Content-Type"] == "application/json"
        assert body == json.loads(json.dumps(injected))
        info = await bot.get_webhook_info()
        assert info.url == url
        assert info.pending_update_count == 0
        assert (
            info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        )
        with pytest.raises(Conflict, match=r"can't use getUpdates method while webhook is active"):
            await bot.get_updates()
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
    finally:
        await runner.cleanup()


async def test_webhook_gives_up_after_a_few_attempts(api: FakeBotApi, user: FakeUser) -> None:
    runner, url, received = await start_receiver(statuses=[503] * 10)
    try:
        async with make_bot(api) as bot:
            await bot.set_webhook(url)
        update = api.send_message(user, None, "never accepted")
        await api.wait_for(lambda: api.webhook_dropped, timeout=3)
        assert len(received) == api.webhook_attempts
        assert api.webhook_dropped == [update]
        assert api.pending_updates == []
    finally:
        await runner.cleanup()


# --- interactions ------------------------------------------------------------------------


async def test_callback_query_round_trip(api: FakeBotApi, bot: Bot, user: FakeUser) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("👍", callback_data="like:42")]])
    sent = await bot.send_message(user.id, "Story 42", reply_markup=keyboard)
    stored = api.message(user, sent.message_id)

    api.press_button(user, stored, "like:42")
    [update] = await bot.get_updates()

    query = update.callback_query
    assert query is not None
    assert query.data == "like:42"
    assert query.from_user.id == user.id
    assert isinstance(query.message, Message)
    assert query.message.message_id == sent.message_id
    assert query.message.reply_markup == keyboard
    assert await bot.answer_callback_query(query.id, text="Thanks!")
    assert api.answers == [
        {"method": "answerCallbackQuery", "callback_query_id": query.id, "text": "Thanks!"}
    ]
    with pytest.raises(BadRequest, match=r"^Query is too old and response timeout expired"):
        await bot.answer_callback_query(query.id)
    api.press_button(user, stored, "like:42")
    [again] = await bot.get_updates(offset=update.update_id + 1)
    assert again.callback_query is not None
    with pytest.raises(BadRequest, match=r"^Message_too_long$"):
        await bot.answer_callback_query(again.callback_query.id, text="x" * 201)
    with pytest.raises(ValueError, match=r"no button"):
        api.press_button(user, stored, "like:43")


async def test_user_reply_carries_the_full_bot_message(
    api: FakeBotApi, bot: Bot, user: FakeUser
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Open", url="https://example.com")]])
    story = await bot.send_message(
        user.id, "<b>Story</b>", parse_mode="HTML", reply_markup=keyboard
    )
    api.send_message(user, user, "my comment", reply_to=story.message_id)
    api.send_sticker(user, user, reply_to=api.message(user, story.message_id))

    comment, sticker = await bot.get_updates()

    assert comment.message is not None
    replied = comment.message.reply_to_message
    assert replied is not None
    assert replied.message_id == story.message_id
    assert replied.text == "Story"
    assert replied.entities == (MessageEntity("bold", 0, 5),)
    assert replied.reply_markup == keyboard
    assert replied.from_user is not None
    assert replied.from_user.is_bot
    assert sticker.message is not None
    assert sticker.message.sticker is not None
    assert sticker.message.reply_to_message is not None
    assert sticker.message.text is None


async def test_force_reply_prompt_and_the_users_answer(
    api: FakeBotApi, bot: Bot, user: FakeUser
) -> None:
    prompt = await bot.send_message(
        user.id, "Write your comment", reply_markup=ForceReply(input_field_placeholder="Yours")
    )
    # Telegram's Message carries only inline keyboards; the request had the ForceReply.
    assert prompt.reply_markup is None
    assert api.calls("sendMessage")[-1]["reply_markup"] == {
        "force_reply": True,
        "input_field_placeholder": "Yours",
    }
    api.send_message(user, user, "a" * 4096, reply_to=prompt.message_id)
    [answer] = await bot.get_updates()
    assert answer.message is not None and answer.message.reply_to_message is not None
    assert answer.message.reply_to_message.message_id == prompt.message_id
    # A longer text never arrives whole: the client splits it.
    with pytest.raises(ValueError, match="4,096"):
        api.send_message(user, user, "a" * 4097)


async def test_edits_and_not_modified(api: FakeBotApi, bot: Bot, user: FakeUser) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more")]])
    sent = await bot.send_message(user.id, "draft", reply_markup=keyboard)

    edited = await bot.edit_message_text(
        "<i>final</i>",
        chat_id=user.id,
        message_id=sent.message_id,
        parse_mode="HTML",
        reply_markup=keyboard,
    )
    assert isinstance(edited, type(sent))
    assert edited.text == "final"
    assert edited.edit_date is not None
    [stored] = api.sent(user)
    assert (stored.text, stored.edit_count, stored.raw_text) == ("final", 1, "<i>final</i>")

    with pytest.raises(BadRequest, match=r"^Message is not modified: specified new message"):
        await bot.edit_message_text(
            "<i>final</i>",
            chat_id=user.id,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=keyboard,
        )
    # Same text without reply_markup is a change: Telegram drops the keyboard.
    await bot.edit_message_text(
        "<i>final</i>", chat_id=user.id, message_id=sent.message_id, parse_mode="HTML"
    )
    assert stored.reply_markup is None
    with pytest.raises(BadRequest, match=r"^Message is not modified"):
        await bot.edit_message_reply_markup(chat_id=user.id, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("x", chat_id=user.id, message_id=999)

    assert await bot.delete_message(user.id, sent.message_id)
    assert api.sent(user) == []
    assert api.sent(user, include_deleted=True) == [stored]
    with pytest.raises(BadRequest, match=r"^Message to delete not found$"):
        await bot.delete_message(user.id, sent.message_id)
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("x", chat_id=user.id, message_id=sent.message_id)


async def test_user_edits_and_blocking_arrive_as_updates(
    api: FakeBotApi, bot: Bot, user: FakeUser
) -> None:
    original = api.send_message(user, None, "typo")
    api.edit_user_message(original, "fixed")
    api.chat_member_update(user, user, "member", "kicked")

    message, edit, blocked = await bot.get_updates()

    assert message.message is not None
    assert message.message.text == "typo"
    assert edit.edited_message is not None
    assert edit.edited_message.text == "fixed"
    assert edit.edited_message.message_id == message.message.message_id
    member_update = blocked.my_chat_member
    assert member_update is not None
    assert member_update.from_user.id == user.id
    assert member_update.new_chat_member.status == "kicked"
    assert member_update.new_chat_member.user.id == bot.id
    with pytest.raises(Forbidden, match=r"blocked"):
        await bot.send_message(user.id, "hello?")


async def test_bot_removed_from_group_and_privacy_mode() -> None:
    async with FakeBotApi(privacy_mode=True) as api, make_bot(api) as bot:
        admin, reader = api.add_user("Admin"), api.add_user("Reader")
        group = api.add_group("Readers", admins=[admin], members=[reader])
        assert not (await bot.get_me()).can_read_all_group_messages
        # With privacy mode the bot sees commands and replies to itself, not chatter.
        assert api.send_message(reader, group, "just chatting")["update_id"] is None
        api.send_message(reader, group, "/help@newsbot_test_bot")
        api.chat_member_update(group, api.bot, "member", "kicked", by=admin)

        command, removed = await bot.get_updates()

        assert command.message is not None
        assert command.message.text == "/help@newsbot_test_bot"
        assert removed.my_chat_member is not None
        assert removed.my_chat_member.from_user.id == admin.id
        assert removed.my_chat_member.new_chat_member.status == "kicked"
        with pytest.raises(Forbidden, match=r"^Forbidden: bot was kicked from the group chat$"):
            await bot.send_message(group.id, "still here?")


async def test_forum_topics(api: FakeBotApi, bot: Bot, user: FakeUser) -> None:
    forum = api.add_group("Newsroom", admins=[user], forum=True)
    topic = api.add_topic(forum, "Politics")
    api.send_message(user, forum, "/comment in topic", message_thread_id=topic)

    [update] = await bot.get_updates()
    assert update.message is not None
    assert update.message.is_topic_message
    assert update.message.message_thread_id == topic
    reply = await bot.send_message(forum.id, "noted", message_thread_id=topic)
    assert reply.message_thread_id == topic
    assert api.sent(forum)[0].message_thread_id == topic
    with pytest.raises(BadRequest, match=r"^Message thread not found$"):
        await bot.send_message(forum.id, "x", message_thread_id=topic + 100)


async def test_group_members_and_chat_info(api: FakeBotApi, bot: Bot) -> None:
    owner, admin, reader = api.add_user("O"), api.add_user("A"), api.add_user("R")
    group = api.add_group("Club", admins=[owner, admin], members=[reader], supergroup=True)

    assert isinstance(await bot.get_chat_member(group.id, owner.id), ChatMemberOwner)
    assert (await bot.get_chat_member(group.id, admin.id)).status == "administrator"
    assert (await bot.get_chat_member(group.id, reader.id)).status == "member"
    assert (await bot.get_chat_member(group.id, bot.id)).status == "member"
    admins = await bot.get_chat_administrators(group.id)
    assert [m.user.id for m in admins] == [owner.id, admin.id]
    info = await bot.get_chat(group.id)
    assert (info.id, info.type, info.title) == (group.id, "supergroup", "Club")
    assert await bot.send_chat_action(group.id, "typing")
    with pytest.raises(BadRequest, match=r"^Wrong parameter action in request$"):
        await bot.send_chat_action(group.id, "dancing")


async def test_bot_commands_per_scope_and_language(
    api: FakeBotApi, bot: Bot, user: FakeUser
) -> None:
    commands = [BotCommand("start", "Subscribe"), BotCommand("stop", "Unsubscribe")]
    assert await bot.set_my_commands(commands)
    assert await bot.set_my_commands(
        [BotCommand("start", "Abonne")], scope=BotCommandScopeChat(user.id), language_code="ku"
    )
    assert await bot.get_my_commands() == tuple(commands)
    assert api.commands[("default", "")] == [
        {"command": "start", "description": "Subscribe"},
        {"command": "stop", "description": "Unsubscribe"},
    ]
    assert api.commands[(f"chat:{user.id}", "ku")] == [
        {"command": "start", "description": "Abonne"}
    ]
    with pytest.raises(BadRequest, match=r"^Bot_command_invalid$"):
        await bot.set_my_commands([BotCommand("Start", "Capital letters are not allowed")])
    with pytest.raises(BadRequest, match=r"^Command description must be non-empty$"):
        await bot.set_my_commands([BotCommand("start", "")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    assert await bot.set_my_description("News for you")
    assert await bot.set_my_short_description("News")
    assert (await bot.get_my_description()).description == "News for you"


async def test_inline_query_answers(api: FakeBotApi, bot: Bot, user: FakeUser) -> None:
    api.inline_query(user, "elections")
    [update] = await bot.get_updates()
    assert update.inline_query is not None
    assert update.inline_query.query == "elections"

    def article(number: int) -> InlineQueryResultArticle:
        return InlineQueryResultArticle(
            str(number), f"Story {number}", InputTextMessageContent(f"<b>Story {number}</b>")
        )

    with pytest.raises(BadRequest, match=r"^Results_too_much$"):
        await bot.answer_inline_query(update.inline_query.id, [article(n) for n in range(51)])
    with pytest.raises(BadRequest, match=r"unsupported start tag"):
        await bot.answer_inline_query(
            update.inline_query.id,
            [
                InlineQueryResultArticle(
                    "1", "t", InputTextMessageContent("<x>", parse_mode="HTML")
                )
            ],
        )
    assert await bot.answer_inline_query(update.inline_query.id, [article(1)], cache_time=0)
    [answer] = api.answers
    assert answer["method"] == "answerInlineQuery"
    assert [result["id"] for result in answer["results"]] == ["1"]


# --- raw HTTP: encodings, auth, routing ---------------------------------------------------


async def test_every_request_encoding_is_decoded_the_same(api: FakeBotApi, user: FakeUser) -> None:
    url = f"{api.url}/bot{api.token}/SENDmessage"
    markup = {"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]}
    form = {"chat_id": str(user.id), "text": "hi", "reply_markup": json.dumps(markup)}
    multipart = aiohttp.FormData(form)
    multipart.add_field("document", b"ignored", filename="x.txt")  # forces multipart
    async with aiohttp.ClientSession() as session:
        replies = [
            await session.post(
                url, json={"chat_id": user.id, "text": "hi", "reply_markup": markup}
            ),
            await session.get(url, params=form),
            await session.post(url, data=form),
            await session.post(url, data=multipart),
        ]
        bodies = [await reply.json() for reply in replies]
    assert [body["ok"] for body in bodies] == [True] * 4
    decoded = [params for _, params in api.requests]
    assert all(p["chat_id"] == user.id and p["reply_markup"] == markup for p in decoded)
    assert [m.reply_markup for m in api.sent(user)] == [markup] * 4


async def test_wrong_token_and_unknown_method(api: FakeBotApi) -> None:
    async with aiohttp.ClientSession() as session:
        unauthorized = await session.post(f"{api.url}/bot1:WRONG/getMe")
        unknown = await session.post(f"{api.url}/bot{api.token}/sendTelepathy")
        assert unauthorized.status == 401
        assert await unauthorized.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
        assert unknown.status == 404
        assert (await unknown.json())["description"] == "Not Found"
    with pytest.raises(InvalidToken, match=r"was rejected by the server"):
        async with Bot("1:WRONG", base_url=api.base_url):
            pass  # initialize() calls getMe, which fails


async def test_wait_for_times_out_with_context(api: FakeBotApi) -> None:
    with pytest.raises(TimeoutError, match=r"condition not met within 0.05s"):
        await api.wait_for(lambda: api.sent(), timeout=0.05)


# --- the HTML parser on its own ----------------------------------------------------------


def test_parse_html_builds_entities_like_telegram() -> None:
    text, entities = parse_html(
        '<pre><code class="language-python">x &lt; 1</code></pre> '
        '<a href="example.com">link</a> <tg-spoiler>s</tg-spoiler> '
        "<blockquote expandable>q</blockquote> AT&T &#x1F600;"
    )
    assert text == "x < 1 link s q AT&T 😀"
    assert entities == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"},
        {"type": "text_link", "offset": 6, "length": 4, "url": "http://example.com/"},
        {"type": "spoiler", "offset": 11, "length": 1},
        {"type": "expandable_blockquote", "offset": 13, "length": 1},
    ]


def test_parse_html_reports_byte_offsets() -> None:
    with pytest.raises(EntityParseError) as excinfo:
        parse_html("ئەمە <foo>")  # Kurdish letters take two bytes each in UTF-8
    assert excinfo.value.reason == 'Unsupported start tag "foo" at byte offset 9'


async def test_ptb_application_polls_and_replies(api: FakeBotApi, user: FakeUser) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Welcome, <b>reader</b>", parse_mode="HTML")

    application = (
        ApplicationBuilder()
        .token(api.token)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    async with application:
        assert application.updater is not None
        await application.start()
        await application.updater.start_polling(poll_interval=0, timeout=1)
        api.send_message(user, None, "/start")
        [reply] = await api.wait_for_messages(user, 1)
        await application.updater.stop()
        await application.stop()

    assert reply.text == "Welcome, reader"
    assert reply.entities == [{"type": "bold", "offset": 9, "length": 6}]
    assert api.pending_updates == []  # the Updater confirmed the update when stopping
    assert "deleteWebhook" in {method for method, _ in api.requests}


async def test_send_photo_by_url_file_id_and_upload_with_the_ptb_client(
    api: FakeBotApi, bot: Bot
) -> None:
    user = api.add_user("Hêvî")
    url = "https://www.rudaw.net/images/halabja.jpg"
    api.add_image(url)
    first = await bot.send_photo(user.id, url, caption="<b>Halabja</b>", parse_mode="HTML")
    again = await bot.send_photo(user.id, first.photo[-1].file_id, disable_notification=True)
    assert [p.file_id for p in again.photo] == [p.file_id for p in first.photo]
    assert api.image_fetches[url] == 1 and api.stats.photo_url_fetches == 1
    assert first.caption == "Halabja" and api.sent(user)[1].silent
    uploaded = await bot.send_photo(user.id, b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    assert uploaded.photo and uploaded.photo[-1].file_id != first.photo[-1].file_id
    document = await bot.send_document(user.id, b"%PDF-1.4", filename="budget.pdf")
    assert document.document is not None
    with pytest.raises(BadRequest, match="ype of file mismatch"):
        await bot.send_photo(user.id, document.document.file_id)
    with pytest.raises(BadRequest, match=r"(?i)failed to get http url content"):
        await bot.send_photo(user.id, "https://www.rudaw.net/images/missing.jpg")
    assert api.image_fetches["https://www.rudaw.net/images/missing.jpg"] == 1
