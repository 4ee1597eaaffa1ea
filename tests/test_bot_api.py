"""The lean Bot API client against the fake Bot API server, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from jobs.clients.telegram import (
    BotApiClient,
    SendKind,
    SendMessageTemplate,
    SendPhotoTemplate,
    SendResult,
    encode_edit_message_caption,
    encode_edit_message_text,
    encode_send_message,
)
from tests.fake_bot_api import FakeBotApi, FakeChat, FakeUser

TOKEN = "123456:TEST-TOKEN"
STORY_URL = "https://www.rudaw.net/english/kurdistan/250520261"


def checked(result: SendResult, kind: SendKind, status: int | None) -> SendResult:
    """Assert the kind and status, and that the token is nowhere in the result."""
    assert result.kind is kind, result
    assert result.status == status, result
    assert TOKEN not in str(result)
    assert TOKEN not in repr(result)
    return result


async def send_text(client: BotApiClient, chat_id: int, text: str, **options: Any) -> SendResult:
    return await client.send("sendMessage", encode_send_message(chat_id, text, **options))


# --- what a sent message looks like -------------------------------------------------------


async def test_a_sent_message_keeps_its_text_entities_buttons_and_preview(
    api: FakeBotApi, client: BotApiClient
) -> None:
    user = api.add_user("Hêvî")
    markup = {
        "inline_keyboard": [
            [{"text": "Read on Rudaw", "url": STORY_URL}],
            [{"text": "💬 Comment", "callback_data": "c:4711"}],
        ]
    }
    text = f'🔴 <b>هەولێر</b>: oil exports resume <a href="{STORY_URL}">via Ceyhan</a>'
    result = await send_text(
        client, user.id, text, reply_markup=markup, link_preview_url=STORY_URL
    )

    checked(result, SendKind.SENT, 200)
    assert result.ok
    [stored] = api.sent(user)
    assert result.message_id == stored.message_id
    assert stored.text == "🔴 هەولێر: oil exports resume via Ceyhan"
    assert stored.parse_mode == "HTML"
    assert [(e["type"], e["offset"], e["length"]) for e in stored.entities] == [
        ("bold", 3, 6),
        ("text_link", 30, 10),
    ]
    assert stored.entities[1]["url"] == STORY_URL
    assert stored.buttons == [markup["inline_keyboard"][0][0], markup["inline_keyboard"][1][0]]
    assert stored.link_preview_options == {"url": STORY_URL}
    assert stored.message_thread_id is None


async def test_a_forum_topic_and_a_disabled_preview_reach_the_message(
    api: FakeBotApi, client: BotApiClient
) -> None:
    admin = api.add_user("Admin")
    forum = api.add_group("Rudaw readers", admins=[admin], forum=True)
    topic = api.add_topic(forum, "Kurdistan")
    result = await send_text(
        client,
        forum.id,
        f"Plain text, link {STORY_URL}",
        parse_mode=None,
        message_thread_id=topic,
        disable_link_preview=True,
        link_preview_url=STORY_URL,  # disabling wins
    )

    checked(result, SendKind.SENT, 200)
    [stored] = api.sent(forum)
    assert stored.message_thread_id == topic
    assert stored.parse_mode is None
    assert stored.entities == []  # the bot's own plain text gets no parsed markup
    assert stored.link_preview_options == {"is_disabled": True}


async def test_a_missing_forum_topic_is_thread_gone_not_chat_gone(
    api: FakeBotApi, client: BotApiClient
) -> None:
    admin = api.add_user("Admin")
    forum = api.add_group("Rudaw readers", admins=[admin], forum=True)
    result = await send_text(
        client, forum.id, "Into a topic that never was", message_thread_id=999
    )
    assert result.kind is SendKind.THREAD_GONE
    assert "thread not found" in result.description


@pytest.mark.parametrize("chat_id", [1, -1002100000001, "@rudaw_english"])
@pytest.mark.parametrize("thread", [None, 7])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"parse_mode": None, "allow_paid_broadcast": True},
        {
            "reply_markup": {"inline_keyboard": [[{"text": 'Read "more"', "url": STORY_URL}]]},
            "link_preview_url": STORY_URL,
            "allow_paid_broadcast": True,
        },
        {"disable_link_preview": True},
    ],
)
def test_a_template_encodes_the_same_message_as_encode_send_message(
    chat_id: int | str, thread: int | None, options: dict[str, Any]
) -> None:
    # A broadcast serialises its text once and only puts each reader's chat in front of it.
    text = 'هەواڵ <b>x</b> "quoted" \\ \u2028 🔴'
    template = SendMessageTemplate(text, **options)
    body = template.encode(chat_id, thread)
    expected = encode_send_message(chat_id, text, message_thread_id=thread, **options)
    assert json.loads(body) == json.loads(expected)
    assert len(body) == len(expected)  # as compact, UTF-8 as is
    assert template.encode(chat_id, thread) == body


def test_bodies_are_compact_utf8_json_with_only_the_fields_given() -> None:
    body = encode_send_message(-1002100000001, "هەواڵ <b>x</b>", message_thread_id=7)
    assert (
        body
        == (
            '{"chat_id":-1002100000001,"text":"هەواڵ <b>x</b>","message_thread_id":7,'
            '"parse_mode":"HTML"}'
        ).encode()
    )
    paid = json.loads(encode_send_message(1, "x", parse_mode=None, allow_paid_broadcast=True))
    assert paid == {"chat_id": 1, "text": "x", "allow_paid_broadcast": True}
    edit = json.loads(encode_edit_message_text(5, 9, "y", link_preview_url=STORY_URL))
    assert edit == {
        "chat_id": 5,
        "message_id": 9,
        "text": "y",
        "parse_mode": "HTML",
        "link_preview_options": {"url": STORY_URL},
    }


async def test_two_hundred_concurrent_sends_all_land(
    api: FakeBotApi, client: BotApiClient
) -> None:
    users = [api.add_user(f"Reader {n}") for n in range(20)]
    results = await asyncio.gather(
        *(send_text(client, users[n % 20].id, f"story {n}") for n in range(200))
    )
    assert all(r.kind is SendKind.SENT for r in results)
    assert api.stats.sent == 200
    for user in users:
        assert [m.message_id for m in api.sent(user)] == list(range(1, 11))


# --- 429 ----------------------------------------------------------------------------------


async def test_the_fakes_flood_limit_answers_retry_after_and_paid_sends_pass(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeBotApi(TOKEN, global_rate=1, paid_rate=1000) as api:
        client = BotApiClient(http, api.url, api.token)
        user = api.add_user()
        checked(await send_text(client, user.id, "first"), SendKind.SENT, 200)
        limited = checked(await send_text(client, user.id, "second"), SendKind.RETRY_AFTER, 429)
        assert limited.retry_after == 1.0
        assert limited.description.startswith("Too Many Requests: retry after")
        assert not limited.ok
        # Paid broadcasts are metered separately, at up to 1,000 a second.
        for n in range(5):
            paid = await send_text(client, user.id, f"paid {n}", allow_paid_broadcast=True)
            checked(paid, SendKind.SENT, 200)
        assert api.stats.rate_limited == 1
        assert api.calls("sendMessage")[-1]["allow_paid_broadcast"] is True


async def test_retry_after_is_taken_from_the_answers_parameters(
    api: FakeBotApi, client: BotApiClient
) -> None:
    user = api.add_user()
    api.fail_next("sendMessage", status=429, retry_after=7)
    result = checked(await send_text(client, user.id, "hello"), SendKind.RETRY_AFTER, 429)
    assert result.retry_after == 7.0
    assert api.sent(user) == []


# --- chats that are gone, moved or unknown ------------------------------------------------


@pytest.mark.parametrize(
    ("break_chat", "target", "status", "reason"),
    [
        (lambda api, user, group: api.block(user), "user", 403, "bot was blocked by the user"),
        (lambda api, user, group: api.deactivate(user), "user", 403, "user is deactivated"),
        (lambda api, user, group: api.kick_bot(group), "group", 403, "bot was kicked"),
        (lambda api, user, group: setattr(user, "started", False), "user", 403, "initiate"),
        (lambda api, user, group: None, "unknown", 400, "chat not found"),
    ],
    ids=["blocked", "deactivated", "kicked", "never-started", "unknown-chat"],
)
async def test_unreachable_chats_are_chat_gone(
    api: FakeBotApi,
    client: BotApiClient,
    break_chat: Callable[[FakeBotApi, FakeUser, FakeChat], object],
    target: str,
    status: int,
    reason: str,
) -> None:
    user = api.add_user()
    group = api.add_group(admins=[user])
    break_chat(api, user, group)
    chat_id = {"user": user.id, "group": group.id, "unknown": 7_999_999_999}[target]
    result = checked(await send_text(client, chat_id, "news"), SendKind.CHAT_GONE, status)
    assert reason in result.description
    assert api.stats.sent == 0


async def test_a_migrated_group_reports_its_new_id(api: FakeBotApi, client: BotApiClient) -> None:
    admin = api.add_user()
    group = api.add_group(admins=[admin])
    new_id = api.migrate(group)

    result = checked(await send_text(client, group.id, "news"), SendKind.MIGRATED, 400)
    assert result.migrate_to_chat_id == new_id
    assert "upgraded to a supergroup" in result.description
    checked(await send_text(client, new_id, "news"), SendKind.SENT, 200)
    assert [m.text for m in api.sent(new_id)] == ["news"]


# --- content Telegram refuses -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "markup", "reason"),
    [
        ("<b>unclosed", None, "can't parse entities"),
        ("x" * 4097, None, "message is too long"),
        ("", None, "message text is empty"),
        ("  \n ", None, "text must be non-empty"),
        (
            "ok",
            {"inline_keyboard": [[{"text": "Comment", "callback_data": "c" * 65}]]},
            "BUTTON_DATA_INVALID",
        ),
    ],
    ids=["html", "too-long", "empty", "blank", "button-data"],
)
async def test_rejected_content_is_bad_content(
    api: FakeBotApi,
    client: BotApiClient,
    text: str,
    markup: dict[str, Any] | None,
    reason: str,
) -> None:
    user = api.add_user()
    result = await send_text(client, user.id, text, reply_markup=markup)
    checked(result, SendKind.BAD_CONTENT, 400)
    assert reason in result.description
    assert api.sent(user) == []


# --- edits ---------------------------------------------------------------------------------


async def test_edits_changed_unchanged_and_gone(api: FakeBotApi, client: BotApiClient) -> None:
    user = api.add_user()
    sent = checked(await send_text(client, user.id, "<b>Kirkuk</b> vote"), SendKind.SENT, 200)
    assert sent.message_id is not None

    async def edit(message_id: int, text: str) -> SendResult:
        body = encode_edit_message_text(user.id, message_id, text)
        return await client.send("editMessageText", body)

    same = checked(await edit(sent.message_id, "<b>Kirkuk</b> vote"), SendKind.NOT_MODIFIED, 400)
    assert same.ok  # an edit with nothing to change is a success for the sender
    changed = checked(await edit(sent.message_id, "<b>Kirkuk</b> votes"), SendKind.SENT, 200)
    assert changed.message_id == sent.message_id
    [stored] = api.sent(user)
    assert (stored.text, stored.edit_count) == ("Kirkuk votes", 1)

    missing = checked(await edit(9999, "x"), SendKind.EDIT_TARGET_GONE, 400)
    assert "message to edit not found" in missing.description
    theirs = api.send_message(user, None, "a reader's message")["message"]["message_id"]
    not_ours = checked(await edit(theirs, "x"), SendKind.EDIT_TARGET_GONE, 400)
    assert "message can't be edited" in not_ours.description


# --- the token -----------------------------------------------------------------------------


async def test_a_wrong_token_is_unauthorized(api: FakeBotApi, http: aiohttp.ClientSession) -> None:
    client = BotApiClient(http, api.url, "123456:REVOKED")
    result = checked(await send_text(client, 1, "x"), SendKind.UNAUTHORIZED, 401)
    assert result.description == "Unauthorized"
    assert "REVOKED" not in repr(client)


async def test_the_token_is_scrubbed_from_network_errors(http: aiohttp.ClientSession) -> None:
    url = f"ftp://127.0.0.1:1/bot{TOKEN}/sendMessage"
    # aiohttp's own error names the URL, token included ...
    with pytest.raises(aiohttp.ClientError, match="TEST-TOKEN"):
        await http.post(url, data=b"{}")
    # ... the client's result never does.
    client = BotApiClient(http, "ftp://127.0.0.1:1", TOKEN)
    result = checked(await send_text(client, 1, "x"), SendKind.TRANSIENT, None)
    assert "<token>" in result.description
    assert "TEST-TOKEN" not in result.description
    assert TOKEN not in repr(client)


# --- transient failures -------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502])
async def test_server_errors_are_transient(
    api: FakeBotApi, client: BotApiClient, status: int
) -> None:
    user = api.add_user()
    api.fail_next("sendMessage", status=status)
    result = checked(await send_text(client, user.id, "x"), SendKind.TRANSIENT, status)
    assert result.description in ("Internal Server Error", "Bad Gateway")
    checked(await send_text(client, user.id, "x"), SendKind.SENT, 200)


async def test_a_timeout_is_transient_and_may_still_deliver(
    api: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    user = api.add_user()
    client = BotApiClient(http, api.url, api.token, timeout=0.1)
    api.delay_next("sendMessage", 0.3)
    result = checked(await send_text(client, user.id, "slow"), SendKind.TRANSIENT, None)
    assert result.description == "timed out after 0.1 s"
    # Telegram may act on a request the client gave up on: that is why a retry can duplicate.
    [late] = await api.wait_for_messages(user, 1, timeout=2)
    assert late.text == "slow"


async def test_a_refused_connection_is_transient(http: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = BotApiClient(http, f"http://127.0.0.1:{port}", TOKEN, timeout=2)
    result = checked(await send_text(client, 1, "x"), SendKind.TRANSIENT, None)
    assert result.description.startswith("ClientConnectorError")


async def test_unexpected_answers_never_raise(
    odd_server: tuple[str, list[web.Response]], http: aiohttp.ClientSession
) -> None:
    url, answers = odd_server
    client = BotApiClient(http, url, TOKEN)
    answers += [
        web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html"),
        web.Response(status=200, text='{"ok": true, "result": {"message_id": 5}'),
        web.Response(status=200, text="[1, 2]"),
        web.Response(status=302, headers={"Location": "/elsewhere"}),
        web.json_response({"ok": False, "error_code": 429, "description": "Too Many Requests"}),
        web.json_response({"ok": True, "result": True}),
    ]
    kinds = [await send_text(client, 1, "x") for _ in range(6)]
    assert [(r.kind, r.status) for r in kinds] == [
        (SendKind.TRANSIENT, 502),
        (SendKind.TRANSIENT, 200),  # truncated JSON
        (SendKind.TRANSIENT, 200),  # not an object
        (SendKind.TRANSIENT, 302),  # never followed: it would drop the POST body
        (SendKind.RETRY_AFTER, 429),  # an error inside a 200; no retry_after: one second
        (SendKind.SENT, 200),  # an inline message edit answers `true`
    ]
    assert kinds[4].retry_after == 1.0
    assert kinds[5].message_id is None
    assert answers == []


# --- photos ---------------------------------------------------------------------------------

PICTURE = "https://www.rudaw.net/images/250520261.jpg"


async def test_a_photo_by_url_then_by_file_id_is_fetched_once(
    api: FakeBotApi, client: BotApiClient
) -> None:
    first, second = api.add_user("Hêvî"), api.add_user("Sara")
    api.add_image(PICTURE)
    markup = {"inline_keyboard": [[{"text": "↗️ Share", "switch_inline_query": "s_1"}]]}
    template = SendPhotoTemplate("<b>Oil exports resume</b>", reply_markup=markup)

    by_url = checked(
        await client.send("sendPhoto", template.encode(first.id, PICTURE)), SendKind.SENT, 200
    )
    assert by_url.photo_file_id is not None
    [stored] = api.sent(first)
    assert stored.photo is not None and stored.photo[-1]["file_id"] == by_url.photo_file_id
    assert stored.caption == "Oil exports resume"
    assert stored.buttons == markup["inline_keyboard"][0]

    body = template.encode(second.id, by_url.photo_file_id, disable_notification=True)
    again = checked(await client.send("sendPhoto", body), SendKind.SENT, 200)
    assert again.photo_file_id == by_url.photo_file_id
    [resent] = api.sent(second)
    assert resent.photo == stored.photo and resent.silent
    assert api.image_fetches[PICTURE] == 1


@pytest.mark.parametrize(
    ("photo", "details", "description"),
    [
        (PICTURE, {"size": 6 * 1024 * 1024}, "wrong file identifier/HTTP URL specified"),
        (PICTURE, {"content_type": "text/html"}, "wrong type of the web page content"),
        (PICTURE, {"reachable": False}, "failed to get HTTP URL content"),
        (PICTURE, {"width": 12000, "height": 300}, "PHOTO_INVALID_DIMENSIONS"),
        ("AgACAgIAAxkBAAEnotafileid", None, "wrong file identifier/HTTP URL specified"),
    ],
    ids=["too-large", "wrong-type", "unreachable", "dimensions", "unknown-file-id"],
)
async def test_a_refused_photo_is_bad_photo(
    api: FakeBotApi,
    client: BotApiClient,
    photo: str,
    details: dict[str, Any] | None,
    description: str,
) -> None:
    user = api.add_user()
    if details is not None:
        api.add_image(PICTURE, **details)
    body = SendPhotoTemplate("<b>Dukan dam</b>").encode(user.id, photo)
    result = checked(await client.send("sendPhoto", body), SendKind.BAD_PHOTO, 400)
    assert result.description == f"Bad Request: {description}"
    assert api.sent(user) == []


async def test_a_caption_counts_after_entities_and_stops_at_1024(
    api: FakeBotApi, client: BotApiClient
) -> None:
    user = api.add_user()
    api.add_image(PICTURE)
    fits = "<b>" + "x" * 1000 + "</b> &amp; " + "y" * 20  # 1,023 characters once parsed
    sent = await client.send("sendPhoto", SendPhotoTemplate(fits).encode(user.id, PICTURE))
    checked(sent, SendKind.SENT, 200)
    long = SendPhotoTemplate(fits + "zz").encode(user.id, PICTURE)
    refused = checked(await client.send("sendPhoto", long), SendKind.BAD_CONTENT, 400)
    assert refused.description == "Bad Request: message caption is too long"


async def test_a_photos_caption_is_edited_and_its_text_cannot_be(
    api: FakeBotApi, client: BotApiClient
) -> None:
    user = api.add_user()
    api.add_image(PICTURE)
    sent = await client.send(
        "sendPhoto", SendPhotoTemplate("<b>Parliment</b>").encode(user.id, PICTURE)
    )
    assert sent.message_id is not None
    text = encode_edit_message_text(user.id, sent.message_id, "<b>Parliament</b>")
    wrong = checked(await client.send("editMessageText", text), SendKind.BAD_CONTENT, 400)
    assert wrong.description == "Bad Request: there is no text in the message to edit"
    caption = encode_edit_message_caption(user.id, sent.message_id, "<b>Parliament</b>")
    checked(await client.send("editMessageCaption", caption), SendKind.SENT, 200)
    assert api.message(user.id, sent.message_id).caption == "Parliament"


async def test_a_large_preview_above_the_text(api: FakeBotApi, client: BotApiClient) -> None:
    user = api.add_user()
    template = SendMessageTemplate(
        "<b>Halabja</b>", link_preview_url=STORY_URL, large_preview=True
    )
    checked(await client.send("sendMessage", template.encode(user.id)), SendKind.SENT, 200)
    [stored] = api.sent(user)
    assert stored.link_preview_options == {
        "url": STORY_URL,
        "prefer_large_media": True,
        "show_above_text": True,
    }
