"""What readers see, end to end (issue 14): times that stay true in a chat, time zones by
city, groups addressed as groups, Kurdish readers asked first, settings taps that change
nothing, one order for stories of the same second, and moderators' reasons."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.callbacks import fits
from bot.deps import DEPS_KEY
from bot.handlers import start
from bot.i18n import language_name, texts
from storage.chats import get_chat
from storage.models import Comment, Delivery, Story
from tests.auxil.conversation import (
    ask,
    button_data,
    edited,
    first_reply,
    press,
    reply,
    shows_stories,
)
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import Item, rss
from tests.auxil.moderation import moderators, next_card
from tests.auxil.pushes import publish
from tests.auxil.waiting import eventually
from tests.e2e.conftest import SORANI_TITLE
from tests.fake_bot_api import FakeBotApi, parse_html

pytestmark = pytest.mark.e2e

StartBot = Callable[..., AbstractAsyncContextManager[Any]]
EN = texts("en")
BERLIN = ZoneInfo("Europe/Berlin")


def story_item(n: int, title: str, published: datetime, category: str = "Kurdistan") -> Item:
    return Item(
        title=title,
        link=f"https://www.rudaw.net/english/readers/{n}",
        guid=f"readers-{n}",
        description=f"Summary {n}",
        categories=[category],
        published=published,
    )


def stale_words(text: str) -> list[str]:
    """Relative times that a message kept in a chat must not hold."""
    return [w for w in ("just now", " ago") if w in text]


# --- times that don't go stale ------------------------------------------------------------


async def test_pushes_and_shared_stories_show_absolute_local_times_lists_relative_ones(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    # Stories up to two days old still count as new here, so one can be from yesterday.
    async with start_bot(push_max_age="3d") as app:
        reader = fake_api.add_user("Rezan")
        await ask(fake_api, reader, "/timezone Europe/Berlin")
        await ask(fake_api, reader, "/subscribe")
        now = datetime.now(UTC).replace(microsecond=0)

        fresh = now - timedelta(minutes=2)
        before = len(fake_api.sent(reader))
        await publish(app, outlet, outlet_items, story_item(1, "Erbil airport reopens", fresh))
        push = (await fake_api.wait_for_messages(reader, before + 1))[before]
        text = push.text or ""
        assert "Erbil airport reopens" in text
        # The reader's clock time in Berlin (just the time, unless that was before midnight
        # there), never "2 minutes ago".
        assert f"Kurdistan · {EN.stamp(fresh, now, BERLIN)}" in text
        assert stale_words(text) == []

        yesterday = now - timedelta(hours=30)
        before = len(fake_api.sent(reader))
        await publish(app, outlet, outlet_items, story_item(2, "Dukan dam levels", yesterday))
        push = (await fake_api.wait_for_messages(reader, before + 1))[before]
        text = push.text or ""
        # Another day: the date comes with the time.
        assert f"Kurdistan · {EN.stamp(yesterday, now, BERLIN)}" in text
        assert EN.stamp(yesterday, now, BERLIN) != EN.time(yesterday, BERLIN)
        assert stale_words(text) == []

        # Two stories at once: one grouped push, absolute times too.
        before = len(fake_api.sent(reader))
        await publish(
            app,
            outlet,
            outlet_items,
            story_item(3, "Grouped one", fresh),
            story_item(4, "Grouped two", fresh),
        )
        push = (await fake_api.wait_for_messages(reader, before + 1))[before]
        assert (push.text or "").startswith("2 new stories")
        assert (push.text or "").count(EN.time(fresh, BERLIN)) == 2
        assert stale_words(push.text or "") == []

        # A story shared with inline mode stays in another chat: absolute time there; the
        # result's description, read while choosing, may say how long ago.
        answers = len(fake_api.calls("answerInlineQuery"))
        fake_api.inline_query(reader, "Erbil airport")
        call = (await fake_api.wait_for_calls("answerInlineQuery", answers + 1))[answers]
        [result] = [r for r in call["results"] if r["title"] == "Erbil airport reopens"]
        shared = result["input_message_content"]["message_text"]
        assert EN.time(fresh, BERLIN) in shared and stale_words(shared) == []
        assert "minutes ago" in result["description"]

        # A story opened from a link stays in the chat too.
        opened = await ask(fake_api, reader, f"/start s_{await story_id(app, 'Dukan dam')}")
        assert EN.stamp(yesterday, now, BERLIN) in (opened.text or "")
        assert stale_words(opened.text or "") == []

        # /latest is read as it is sent (and redrawn on every tap): relative there.
        latest = await ask(fake_api, reader, "/latest")
        assert "minutes ago" in (latest.text or "")


async def story_id(app: Any, title: str) -> int:
    """The stored id of the story whose title holds ``title``."""
    async with app.bot_data["newsbot.deps"].sessions() as session:
        rows = (await session.exec(select(Story))).all()
    [found] = [s.id for s in rows if title in s.title]
    assert found is not None
    return found


# --- time zones by city -------------------------------------------------------------------


async def zone_of(app: Any, chat_id: int) -> str | None:
    async with app.bot_data["newsbot.deps"].sessions() as session:
        chat = await get_chat(session, chat_id)
    return chat.timezone if chat is not None else None


async def test_timezone_takes_a_city_in_any_language_and_offers_a_choice_when_several_match(
    app: Any, fake_api: FakeBotApi
) -> None:
    reader = fake_api.add_user("Rezan")
    reply = await ask(fake_api, reader, "/timezone Berlin")
    assert "Time zone set to Europe/Berlin" in (reply.text or "")
    assert await zone_of(app, reader.id) == "Europe/Berlin"
    for typed, zone in [
        ("Bağdat", "Asia/Baghdad"),  # Turkish
        ("Londra", "Europe/London"),  # Kurmanji and Turkish
        ("ستوكهولم", "Europe/Stockholm"),  # Arabic
        ("بەغدا", "Asia/Baghdad"),  # Sorani
        ("new york", "America/New_York"),
        ("Asia/Tehran", "Asia/Tehran"),  # the IANA name still works
    ]:
        reply = await ask(fake_api, reader, f"/timezone {typed}")
        assert f"Time zone set to {zone}" in (reply.text or ""), typed
        assert await zone_of(app, reader.id) == zone

    # A name several zones answer to: they are offered as buttons.
    choice = await ask(fake_api, reader, "/timezone Germany")
    assert (choice.text or "").startswith("Several time zones match “Germany”")
    assert button_data(choice) == ["tz:Europe/Berlin", "tz:Europe/Busingen"]
    assert [b["text"] for b in choice.buttons] == ["Berlin", "Büsingen"]
    assert await zone_of(app, reader.id) == "Asia/Tehran"  # nothing changed yet
    answer = await press(fake_api, reader, choice, "tz:Europe/Busingen")
    assert answer["text"] == "Time zone: Europe/Busingen"
    assert await zone_of(app, reader.id) == "Europe/Busingen"

    reply = await ask(fake_api, reader, "/timezone Atlantis")
    assert "I know no time zone or city called “Atlantis”" in (reply.text or "")
    assert await zone_of(app, reader.id) == "Europe/Busingen"


async def test_a_sorani_reader_sees_the_time_zone_buttons_in_sorani(
    app: Any, fake_api: FakeBotApi
) -> None:
    reader = fake_api.add_user("Shilan", language_code="ckb")
    for command in ("/timezone", "/settings"):
        panel = await ask(fake_api, reader, command)
        labels = [b["text"] for b in panel.buttons if b.get("callback_data", "").startswith("tz:")]
        assert labels == [
            "بەغدا",
            "تاران",
            "ئەستەنبوڵ",
            "بەرلین",
            "ستۆکهۆڵم",
            "لەندەن",
            "نیویۆرک",
            "UTC",
        ]
    # A country a Sorani reader names in Sorani (CLDR has Sorani country names).
    choice = await ask(fake_api, reader, "/timezone ئەڵمانیا")
    assert button_data(choice) == ["tz:Europe/Berlin", "tz:Europe/Busingen"]
    assert choice.buttons[0]["text"] == "بەرلین"


# --- groups are spoken to as groups -------------------------------------------------------


async def test_a_group_hears_what_this_chat_receives_a_reader_what_they_receive(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer
) -> None:
    # Two editions, so that /language speaks of the editions read.
    outlet.serve("/sorani/rss", rss([Item(SORANI_TITLE, "https://x.example/ckb/1", guid="c1")]))
    feeds = f"{outlet.url('/english/rss')},ckb:{outlet.url('/sorani/rss')}"
    async with start_bot(feeds=feeds):
        admin = fake_api.add_user("Admin")
        group = fake_api.add_group("Readers", admins=[admin], supergroup=True)
        for command, said in [
            ("/subscribe", "This chat receives all news as it is published."),
            ("/unsubscribe", "This chat receives no pushes."),
            ("/subscribe kurdistan", "This chat receives new stories from: Kurdistan."),
            ("/sections", "This chat receives new stories from: Kurdistan."),
            ("/settings", "Sections: This chat receives new stories from: Kurdistan."),
            ("/settings", "Tap how news should reach this chat"),
            ("/language", "This chat reads these editions: English."),
            ("/language", "this chat gets the stories of every edition it reads."),
        ]:
            reply = await ask(fake_api, admin, command, chat=group)
            text = reply.text or ""
            assert said in text, (command, text)
            assert "You receive" not in text and "you read" not in text.lower()
        # The welcome's Subscribe button, pressed in the group.
        welcome = await ask(fake_api, admin, "/start", chat=group)
        before = len(fake_api.sent(group))
        await press(fake_api, admin, welcome, "sub:*")
        done = (await fake_api.wait_for_messages(group, before + 1))[before]
        assert done.text == "✅ This chat receives all news as it is published."

        # A reader in their private chat is still "you".
        reader = fake_api.add_user("Reader")
        for command, said in [
            ("/subscribe", "You receive all news as it is published."),
            ("/settings", "Tap how news should reach you,"),
            ("/language", "You read these editions: English."),
        ]:
            reply = await ask(fake_api, reader, command)
            assert said in (reply.text or ""), (command, reply.text)


# --- Kurdish readers are asked first -------------------------------------------------------


@pytest.mark.parametrize(("answer", "locale"), [("lg:s:ckb", "ckb"), ("lg:s:kmr", "kmr")])
async def test_a_kurdish_reader_is_asked_first_and_welcomed_in_the_kurdish_they_chose(
    app: Any, fake_api: FakeBotApi, answer: str, locale: str
) -> None:
    chosen = texts(locale)
    reader = fake_api.add_user("Rojda", language_code="ku")
    question = await ask(fake_api, reader, "/start")
    # The question comes first, in both scripts; nothing in English before it.
    text = question.text or ""
    assert texts("ckb")._("Which Kurdish do you read?") in text
    assert texts("kmr")._("Which Kurdish do you read?") in text
    assert "Welcome" not in text
    assert len(fake_api.sent(reader)) == 1

    await press(fake_api, reader, question, answer)
    welcomed = await edited(fake_api, reader.id, question.message_id, 1)
    # The question became the welcome, in the Kurdish chosen, with its buttons.
    greeting = parse_html(start.welcome(chosen, "Rojda"))[0]
    assert (welcomed.text or "").startswith(greeting)
    assert greeting != parse_html(start.welcome(EN, "Rojda"))[0]
    assert chosen.isolate(language_name(locale)) in (welcomed.text or "")
    assert button_data(welcomed) == ["sub:*", "pg:a:0:"]
    assert len(fake_api.sent(reader)) == 1
    async with app.bot_data["newsbot.deps"].sessions() as session:
        chat = await get_chat(session, reader.id)
    assert chat is not None and chat.locale == locale


# --- small things -------------------------------------------------------------------------


async def test_tapping_the_option_already_chosen_is_answered_without_an_edit(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer
) -> None:
    outlet.serve("/sorani/rss", rss([Item(SORANI_TITLE, "https://x.example/ckb/1", guid="c1")]))
    feeds = f"{outlet.url('/english/rss')},ckb:{outlet.url('/sorani/rss')}"
    async with start_bot(feeds=feeds):
        reader = fake_api.add_user("Rezan")
        settings = await ask(fake_api, reader, "/settings")
        panel = await ask(fake_api, reader, "/language")
        refusals = fake_api.stats.errors[400]
        # The ticked delivery mode, the time zone shown (the default), the language marked.
        for message, data, said in [
            (settings, "dm:instant", "Delivery: Instant"),
            (settings, "tz:Asia/Baghdad", "Time zone: Asia/Baghdad"),
            (panel, "lg:l:en", "Saved."),
        ]:
            answer = await press(fake_api, reader, message, data)
            assert answer["text"] == said
        # A real change is an edit (and nothing was edited before it).
        await press(fake_api, reader, settings, "dm:daily")
        changed = await edited(fake_api, reader.id, settings.message_id, 1)
        assert "✅ Daily digest" in [b["text"] for b in changed.buttons]
        await press(fake_api, reader, changed, "dm:daily")  # ticked now: no second edit
        await press(fake_api, reader, panel, "lg:e:ckb")
        await edited(fake_api, reader.id, panel.message_id, 1)
        assert [c["message_id"] for c in fake_api.calls("editMessageText")] == [
            settings.message_id,
            panel.message_id,
        ]
        assert fake_api.stats.errors[400] == refusals  # no "message is not modified"


async def test_stories_of_the_same_second_are_in_one_order_in_a_push_a_list_and_a_reply(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    mods, _, _ = moderators(fake_api)
    reader = fake_api.add_user("Aram")
    async with start_bot(moderation_chat_id=mods.id) as app:
        await ask(fake_api, reader, "/subscribe")
        second = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        titles = ["Same second Alpha", "Same second Bravo", "Same second Charlie"]
        before = len(fake_api.sent(reader))
        await publish(
            app,
            outlet,
            outlet_items,
            *(story_item(20 + n, t, second) for n, t in enumerate(titles)),
        )
        push = (await fake_api.wait_for_messages(reader, before + 1))[before]
        assert (push.text or "").startswith("3 new stories")

        def order(text: str) -> list[str]:
            return sorted(titles, key=text.index)

        pushed = order(push.text or "")
        latest = await ask(fake_api, reader, "/latest")
        assert order(latest.text or "") == pushed
        found = await ask(fake_api, reader, "/search same second")
        assert order(found.text or "") == pushed
        # /latest's order: the same second, so the later-stored story first.
        assert pushed == titles[::-1]

        # A reply to the push is asked about "which story", numbered as the push numbers them.
        async def recorded() -> bool:
            async with app.bot_data[DEPS_KEY].services.sessions() as session:
                rows = (await session.exec(select(Delivery))).all()
            return any(d.message_id == push.message_id for d in rows)

        await eventually(recorded)
        question = await reply(fake_api, reader, push, "About one of these")
        labels = [b["text"] for b in question.buttons]
        assert len(labels) == 3
        assert all(
            label.startswith(f"{n}. {t}")
            for n, (label, t) in enumerate(zip(labels, pushed, strict=True), start=1)
        )


async def test_a_pushed_story_links_to_the_article_once(
    app: Any, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    reader = fake_api.add_user("Rezan")
    await ask(fake_api, reader, "/subscribe")
    before = len(fake_api.sent(reader))
    published = datetime.now(UTC) - timedelta(minutes=1)
    await publish(app, outlet, outlet_items, story_item(30, "Erbil airport reopens", published))
    push = (await fake_api.wait_for_messages(reader, before + 1))[before]
    link = "https://www.rudaw.net/english/readers/30"
    # The "Read" button opens the article; the text no longer says it again.
    assert [(b["text"], b.get("url")) for b in push.buttons if b.get("url")] == [("Read", link)]
    assert "Read the full story" not in (push.text or "")
    assert [e for e in push.entities if e.get("url") == link] == []
    assert push.link_preview_options == {"url": link}


# --- moderators can say why -----------------------------------------------------------------


async def test_a_moderator_rejects_with_a_reason_the_reader_reads_in_their_language(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    mods, mod, _ = moderators(fake_api)
    reader = fake_api.add_user("Ayşe", language_code="tr")
    turkish = texts("tr")
    async with start_bot(moderation_chat_id=mods.id) as app:
        shown = await ask(fake_api, reader, f"/start s_{await story_id(app, 'Story 3:')}")
        await shows_stories(app, shown)
        answer, _ = await first_reply(fake_api, reader, shown, "Ucuz saatler burada")
        card = await next_card(fake_api, mods, 1)
        # The card offers the common reasons besides plain Approve / Reject.
        assert [b["text"] for b in card.buttons] == [
            "✅ Approve",
            "❌ Reject",
            "❌ Off topic",
            "❌ Abusive",
            "❌ Spam",
            "❌ Duplicate",
        ]
        assert all(fits(data) for data in button_data(card))
        [spam] = [data for data in button_data(card) if data.endswith(":spam")]
        answered = await press(fake_api, mod, card, spam)
        assert answered["text"] == "Rejected"
        decided = await edited(fake_api, mods.id, card.message_id, 1)
        assert (decided.text or "").endswith("❌ Rejected by Rezan Mod (Spam)")
        assert decided.buttons == []

        # The reader's confirmation says why, in Turkish; so does /mycomments.
        told = await edited(fake_api, reader.id, answer.message_id, 1)
        why = turkish._("It looks like spam or advertising.")
        assert why != "It looks like spam or advertising."
        assert (told.text or "").startswith("❌") and (told.text or "").endswith(why)
        mine = await ask(fake_api, reader, "/mycomments")
        assert why in (mine.text or "")
        async with app.bot_data[DEPS_KEY].services.sessions() as session:
            [stored] = (await session.exec(select(Comment))).all()
        assert (stored.status, stored.reason) == ("rejected", "moderation:spam")
