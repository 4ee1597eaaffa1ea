"""Editions and languages end to end: readers of Sorani, Kurmanji and English (and of two
editions at once) each get their own edition's pushes, in their own language, through the
fake Bot API, which validates every message's HTML as Telegram does."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import comment_texts
from bot.deps import DEPS_KEY
from bot.handlers import start
from bot.i18n import texts
from storage.chats import delivery_prefs as get_delivery_prefs
from storage.chats import get_chat
from tests.auxil.app_storage import subscriptions_of
from tests.auxil.conversation import ask, first_reply, press
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import Item, rss
from tests.fake_bot_api import FakeBotApi, FakeUser, StoredMessage, parse_html

pytestmark = pytest.mark.e2e

StartBot = Callable[..., AbstractAsyncContextManager[Any]]

SORANI = texts("ckb")
KURMANJI = texts("kmr")
ENGLISH = texts("en")

# One story per edition, plus the backlog each feed has when the bot starts.
BACKLOG = {
    "en": Item("Old English story", "https://x.example/en/0", guid="en-0"),
    "ckb": Item("هەواڵی کۆنی کوردستان", "https://x.example/ckb/0", guid="ckb-0"),
    "kmr": Item("Nûçeya kevn", "https://x.example/kmr/0", guid="kmr-0"),
}
NEW = {
    "en": "Erbil airport reopens",
    "ckb": "فڕۆکەخانەی هەولێر لە کوردستان دەکرێتەوە",
    "kmr": "Balafirgeha Hewlêrê ji nû ve vedibe",
}


def _serve(outlet: FeedServer, edition: str, *items: Item) -> None:
    outlet.serve(f"/{edition}/rss", rss([*items, BACKLOG[edition]]))


def _new_item(edition: str) -> Item:
    return Item(
        NEW[edition],
        f"https://x.example/{edition}/1",
        guid=f"{edition}-1",
        description="2026 · Erbil" if edition != "en" else "Summary",
        categories=["Kurdistan"],
        published=datetime.now(UTC) - timedelta(minutes=1),
    )


async def _publish(app: Any, outlet: FeedServer) -> None:
    for edition in NEW:
        _serve(outlet, edition, _new_item(edition))
    services = app.bot_data[DEPS_KEY].services
    for feed in services.feeds:
        await services.poller.poll(feed.id)


def _pushes(api: FakeBotApi, user: FakeUser) -> set[str]:
    """Which editions' new stories reached the user."""
    return {e for e, title in NEW.items() for m in api.sent(user) if title in (m.text or "")}


async def _chat(app: Any, user: FakeUser) -> Any:
    async with app.bot_data[DEPS_KEY].services.sessions() as session:
        return await get_chat(session, user.id)


def _menu(api: FakeBotApi, user: FakeUser) -> dict[str, str]:
    """The command menu registered for the user's own chat (any language code)."""
    return {c["command"]: c["description"] for c in api.commands[(f"chat:{user.id}", "")]}


def _buttons(message: StoredMessage) -> list[str]:
    return [b["text"] for b in message.buttons]


async def test_each_reader_gets_their_editions_in_their_language(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer
) -> None:
    for edition in NEW:
        _serve(outlet, edition)
    feeds = ",".join(f"{e}:kurdistan={outlet.url(f'/{e}/rss')}" for e in ("en", "ckb", "kmr"))
    sorani = fake_api.add_user("Shilan", language_code="ckb")
    kurmanji = fake_api.add_user("Rojda", language_code="ku")
    english = fake_api.add_user("Sarah", language_code="en")
    both = fake_api.add_user("Karwan", language_code="en")
    async with start_bot(feeds=feeds, moderation_chat_id=fake_api.add_user("Mod").id) as app:
        # A Sorani speaker is greeted in Sorani and given the Sorani edition.
        welcome = await ask(fake_api, sorani, "/start")
        assert welcome.text == parse_html(start.welcome(SORANI, "Shilan"))[0]
        assert welcome.text != parse_html(start.welcome(ENGLISH, "Shilan"))[0]
        chat = await _chat(app, sorani)
        assert (chat.locale, chat.editions) == ("ckb", ("ckb",))
        # Telegram has no language code for Sorani: the reader's own chat gets a Sorani menu.
        menu = {
            c["command"]: c["description"] for c in fake_api.commands[(f"chat:{sorani.id}", "")]
        }
        assert (
            menu["language"]
            == SORANI._("Choose your language and editions")
            != ("Choose your language and editions")
        )

        # "ku" is ambiguous: the reader is asked, in both Kurdish scripts, and answers.
        question = await ask(fake_api, kurmanji, "/start")
        assert SORANI._("Which Kurdish do you read?") in (question.text or "")
        assert KURMANJI._("Which Kurdish do you read?") in (question.text or "")
        await press(fake_api, kurmanji, question, "lg:s:kmr")
        chat = await _chat(app, kurmanji)
        assert (chat.locale, chat.editions) == ("kmr", ("kmr",))
        menu = {
            c["command"]: c["description"] for c in fake_api.commands[(f"chat:{kurmanji.id}", "")]
        }
        assert menu["latest"] == KURMANJI._("The newest stories")

        # A reader adds a second edition with /language.
        panel = await ask(fake_api, both, "/language")
        assert "lg:e:ckb" in [b.get("callback_data") for b in panel.buttons]
        await press(fake_api, both, panel, "lg:e:ckb")
        chat = await _chat(app, both)
        assert chat.editions == ("en", "ckb") and chat.locale is None

        for user in (sorani, kurmanji, english, both):
            reply = await ask(fake_api, user, "/subscribe")
            assert reply.text
        subscribed = await ask(fake_api, sorani, "/subscribe")
        assert parse_html(SORANI._("You receive <b>all news</b> as it is published."))[0] in (
            subscribed.text or ""
        )

        await _publish(app, outlet)
        await fake_api.wait_for(lambda: _pushes(fake_api, both) == {"en", "ckb"})
        await fake_api.wait_for(lambda: _pushes(fake_api, sorani) == {"ckb"})
        await fake_api.wait_for(lambda: _pushes(fake_api, kurmanji) == {"kmr"})
        await fake_api.wait_for(lambda: _pushes(fake_api, english) == {"en"})

        # The push speaks the reader's language: its buttons.
        [push] = [m for m in fake_api.sent(sorani) if NEW["ckb"] in (m.text or "")]
        assert SORANI.pgettext("button", "Read") in _buttons(push)
        assert ENGLISH.pgettext("button", "Read") not in _buttons(push)
        [push] = [m for m in fake_api.sent(kurmanji) if NEW["kmr"] in (m.text or "")]
        assert KURMANJI.pgettext("button", "Read") in _buttons(push)
        [push] = [m for m in fake_api.sent(english) if NEW["en"] in (m.text or "")]
        assert ENGLISH.pgettext("button", "Read") in _buttons(push)

        # Searching with an Arabic keyboard (ك for ک) finds the Sorani story; the English
        # reader's search stays in English stories.
        found = await ask(fake_api, sorani, "/search كوردستان")
        assert NEW["ckb"] in (found.text or "")
        assert NEW["en"] not in (found.text or "")
        found = await ask(fake_api, english, "/search Erbil")
        assert NEW["en"] in (found.text or "") and NEW["ckb"] not in (found.text or "")

        # Inline mode: the Sorani reader's empty query lists Sorani stories only, described
        # in Sorani (and marked personal, so Telegram never shows them to someone else).
        answers = len(fake_api.calls("answerInlineQuery"))
        fake_api.inline_query(sorani, "")
        call = (await fake_api.wait_for_calls("answerInlineQuery", answers + 1))[answers]
        titles = [r["title"] for r in call["results"]]
        assert NEW["ckb"] in titles and BACKLOG["ckb"].title in titles
        assert NEW["en"] not in titles and NEW["kmr"] not in titles
        assert call["is_personal"] is True
        [result] = [r for r in call["results"] if r["title"] == NEW["ckb"]]
        a_minute_ago = SORANI.ngettext("{num} minute ago", "{num} minutes ago", 1)
        assert a_minute_ago.format(num=SORANI.number(1)) in result["description"]

        # /latest lists only the reader's editions.
        latest = await ask(fake_api, kurmanji, "/latest")
        assert NEW["kmr"] in (latest.text or "")
        assert NEW["en"] not in (latest.text or "") and NEW["ckb"] not in (latest.text or "")

        # The comment flow answers in the reader's language.
        # The push (the search and /latest that also show it came later).
        push = next(m for m in fake_api.sent(sorani) if NEW["ckb"] in (m.text or ""))
        answer, notice = await first_reply(fake_api, sorani, push, "زۆر باشە، سوپاس")
        assert answer.text == comment_texts.received(NEW["ckb"], t=SORANI)
        assert answer.text != comment_texts.received(NEW["ckb"], t=ENGLISH)
        assert (notice.text or "").strip() == comment_texts.public_notice(
            "Shilan", t=SORANI
        ).strip()


async def test_a_group_speaks_the_language_its_admin_sets(app: Any, fake_api: FakeBotApi) -> None:
    admin, member = fake_api.add_user("Admin"), fake_api.add_user("Member")
    group = fake_api.add_group("Readers", admins=[admin], members=[member], supergroup=True)
    panel = await ask(fake_api, admin, "/language", chat=group)

    # A plain member may look but not change it.
    refused = await press(fake_api, member, panel, "lg:l:ar")
    assert refused["show_alert"]
    assert refused["text"] == ENGLISH._("In groups, only admins can change the language.")
    async with app.bot_data[DEPS_KEY].services.sessions() as session:
        assert (await get_chat(session, group.id)).locale is None

    answered = await press(fake_api, admin, panel, "lg:l:ar")
    assert answered["text"] == texts("ar")._("Saved.")
    async with app.bot_data[DEPS_KEY].services.sessions() as session:
        assert (await get_chat(session, group.id)).locale == "ar"
    # Whoever writes next, the group hears Arabic (English in the member's Telegram or not).
    reply = await ask(fake_api, member, "/subscribe", chat=group)
    assert (
        reply.text
        == parse_html(texts("ar")._("In groups, only admins can change what this chat receives."))[
            0
        ]
    )


async def test_quiet_hours_off_in_the_readers_own_word(app: Any, fake_api: FakeBotApi) -> None:
    reader = fake_api.add_user("Ayşe", language_code="tr")
    await ask(fake_api, reader, "/start")
    turkish = texts("tr")
    await ask(fake_api, reader, "/quiet 23:00-07:00")
    word = turkish.pgettext("typed", "off")
    assert word != "off"
    # Typed in capitals ("kapalı" → "KAPALI", the dotless ı lost): still the reader's "off".
    reply = await ask(fake_api, reader, f"/quiet {word.upper()}")
    async with app.bot_data[DEPS_KEY].services.sessions() as session:
        prefs = await get_delivery_prefs(session, reader.id)
    assert prefs is not None and prefs.quiet_start is None, reply.text


async def test_start_never_moves_an_existing_subscriber_to_another_edition(
    app: Any, fake_api: FakeBotApi
) -> None:
    """A reader from before editions existed (subscribed, no choice stored) whose Telegram is
    in Sorani opens /start again: they keep reading the default edition, now in Sorani."""
    reader = fake_api.add_user("Hemin", language_code="ckb")
    await ask(fake_api, reader, "/subscribe")
    welcome = await ask(fake_api, reader, "/start")
    chat = await _chat(app, reader)
    assert chat.editions == () and chat.locale is None
    assert welcome.text == parse_html(start.welcome(SORANI, "Hemin"))[0]
    # A new reader with the same Telegram language is given Sorani and its edition... if the
    # outlet has one: this one (the default fixture) publishes English only.
    newcomer = fake_api.add_user("Dara", language_code="ckb")
    await ask(fake_api, newcomer, "/start")
    chat = await _chat(app, newcomer)
    assert chat.locale == "ckb" and chat.editions == ()


async def test_section_toggles_stay_within_the_readers_editions(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer
) -> None:
    """Leaving one section while on "all news" keeps the other sections of the reader's
    editions, never another edition's."""
    outlet.serve("/en/rss", rss([Item("World story", "https://x.example/w", guid="w")]))
    outlet.serve("/ckb/rss", rss([BACKLOG["ckb"]]))
    outlet.serve("/ckb2/rss", rss([Item("وەرزش", "https://x.example/s", guid="s")]))
    feeds = (
        f"en:world={outlet.url('/en/rss')},ckb:kurdistan={outlet.url('/ckb/rss')},"
        f"ckb:sport={outlet.url('/ckb2/rss')}"
    )
    reader = fake_api.add_user("Shilan", language_code="ckb")
    async with start_bot(feeds=feeds, default_edition="en") as app:
        await ask(fake_api, reader, "/start")
        await ask(fake_api, reader, "/subscribe")
        panel = await ask(fake_api, reader, "/sections")
        offered = {b.get("callback_data") for b in panel.buttons}
        assert {"tg:kurdistan", "tg:sport"} <= offered and "tg:world" not in offered
        await press(fake_api, reader, panel, "tg:kurdistan")
        assert await subscriptions_of(app, reader.id) == {"sport"}


async def test_a_stray_byte_in_a_sorani_feed_costs_one_character_of_one_title(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer
) -> None:
    """The outlet's Sorani feed has one title cut mid-character: the reader gets every other
    title intact and that one with U+FFFD where the byte was, never windows-1252 mojibake."""
    _serve(outlet, "ckb")
    feeds = f"{outlet.url('/english/rss')},ckb:kurdistan={outlet.url('/ckb/rss')}"
    reader = fake_api.add_user("Shilan", language_code="ckb")
    async with start_bot(feeds=feeds) as app:
        await ask(fake_api, reader, "/start")
        await ask(fake_api, reader, "/subscribe")
        before = len(fake_api.sent(reader))
        titles = [
            "فڕۆکەخانەی هەولێر لە کوردستان دەکرێتەوە",
            "نرخی نەوت لە بازاڕەکانی جیهان بەرز بووەوە",
            "سەرۆکی حکومەتی هەرێم سەردانی بەغدا دەکات",
        ]
        items = [
            Item(
                title,
                f"https://x.example/ckb/{n}",
                guid=f"ckb-new-{n}",
                description="ئەمڕۆ",
                published=datetime.now(UTC) - timedelta(minutes=1),
            )
            for n, title in enumerate(titles, start=1)
        ]
        # "هەولێر" with the second byte of ێ (U+06CE, bytes DB 8E) lost.
        whole, cut = "هەولێر".encode(), "هەول".encode() + b"\xdb" + "ر".encode()
        document = rss([*items, BACKLOG["ckb"]]).encode()
        assert document.count(whole) == 1
        outlet.serve("/ckb/rss", document.replace(whole, cut))
        services = app.bot_data[DEPS_KEY].services
        for feed in services.feeds:
            await services.poller.poll(feed.id)

        shown = [titles[0].replace("ێ", "\ufffd", 1), titles[1], titles[2]]

        def pushed() -> str:
            return "\n".join(m.text or "" for m in fake_api.sent(reader)[before:])

        await fake_api.wait_for(lambda: all(title in pushed() for title in shown))
        assert pushed().count("\ufffd") == 1
