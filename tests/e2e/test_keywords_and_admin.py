"""Keyword alerts, delivery modes, quiet hours and the admins' /breaking and /stats, end to end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.arguments import parse_quiet_hours
from bot.catalogues import extract
from bot.handlers import admin, keywords
from jobs.fanout import FanoutStats
from news.send_rate import SlidingWindowLimiter
from storage import chats as chat_store
from storage import follows as follow_store
from storage import stories as story_store
from storage.chats import DeliveryPrefs
from tests.auxil.app_storage import follows_of
from tests.auxil.conversation import ask, button_data, edited, press
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import HOSTILE_TITLE, Item
from tests.auxil.pushes import new_item, publish, pushes
from tests.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.e2e

StartBot = Callable[..., AbstractAsyncContextManager[Any]]


def with_keywords_and_admin(application: Any) -> Any:
    """Add the keyword and admin handlers unless bot.handlers already registers them."""
    registered = {
        getattr(handler, "callback", None)
        for group in application.handlers.values()
        for handler in group
    }
    for module in (keywords, admin):
        if not registered & {handler.callback for handler in module.HANDLERS}:
            application.add_handlers(module.HANDLERS)
    return application


# Overrides tests/e2e/conftest.py's app for this module only: the bot these tests drive has
# the keyword and admin handlers registered (with_keywords_and_admin).
@pytest.fixture
async def app(start_bot: StartBot) -> AsyncIterator[Any]:
    """The running bot, with these modules' handlers registered."""
    async with start_bot() as application:
        yield with_keywords_and_admin(application)


def deps_of(app: Any) -> Any:
    return app.bot_data["newsbot.deps"]


async def prefs_of(app: Any, chat_id: int) -> DeliveryPrefs | None:
    async with deps_of(app).sessions() as session:
        return await chat_store.delivery_prefs(session, chat_id)


@dataclass
class StubBroadcaster:
    """Stands in for the push pipeline: records /breaking, shows counters to /stats."""

    pushed: list[int] = field(default_factory=list)
    stats: FanoutStats = field(default_factory=FanoutStats)
    limiter: SlidingWindowLimiter = field(default_factory=lambda: SlidingWindowLimiter(25))

    async def push_now(self, story_id: int) -> None:
        self.pushed.append(story_id)


# --- keyword alerts ----------------------------------------------------------------------


async def test_follow_following_and_unfollow(app: Any, fake_api: FakeBotApi) -> None:
    user = fake_api.add_user()
    empty = await ask(fake_api, user, "/following")
    assert "You follow no keywords yet" in (empty.text or "")

    usage = await ask(fake_api, user, "/follow")
    assert "/follow kirkuk" in (usage.text or "")

    reply = await ask(fake_api, user, '/follow Kirkuk "Oil  Exports"')
    assert "Now following kirkuk, oil exports" in (reply.text or "")
    assert await follows_of(app, user.id) == ["kirkuk", "oil exports"]

    # Typographic quotes work, and what is already followed is said so.
    reply = await ask(fake_api, user, "/follow “oil exports” erbil")
    assert "Now following erbil" in (reply.text or "")
    assert "Already followed: oil exports" in (reply.text or "")

    nothing = await ask(fake_api, user, "/follow !!! ???")
    assert "I found no keyword in that" in (nothing.text or "")
    assert await follows_of(app, user.id) == ["erbil", "kirkuk", "oil exports"]

    listing = await ask(fake_api, user, "/following")
    assert "Keywords you follow (3): erbil, kirkuk, oil exports" in (listing.text or "")

    reply = await ask(fake_api, user, "/unfollow KIRKUK duhok")
    text = reply.text or ""
    assert "Stopped following kirkuk" in text
    assert "You did not follow duhok" in text
    assert "Still following: erbil, oil exports" in text

    # /unfollow alone deletes nothing: it offers the keywords as buttons.
    offer = await ask(fake_api, user, "/unfollow")
    assert offer.text == "Tap a keyword to stop following it."
    assert [b["text"] for b in offer.buttons] == ["🔕 erbil", "🔕 oil exports"]
    assert await follows_of(app, user.id) == ["erbil", "oil exports"]
    await press(fake_api, user, offer, button_data(offer)[0])
    offer = await edited(fake_api, user.id, offer.message_id, 1)
    assert [b["text"] for b in offer.buttons] == ["🔕 oil exports"]
    assert await follows_of(app, user.id) == ["oil exports"]
    await press(fake_api, user, offer, button_data(offer)[0])
    offer = await edited(fake_api, user.id, offer.message_id, 2)
    assert offer.text == "No keywords are followed here now."
    assert offer.buttons == []
    assert await follows_of(app, user.id) == []
    none = await ask(fake_api, user, "/unfollow")
    assert (none.text or "").startswith("No keywords are followed here now.")


async def test_follow_cap_per_chat(app: Any, fake_api: FakeBotApi) -> None:
    user = fake_api.add_user()
    for start in range(0, follow_store.MAX_FOLLOWS_PER_CHAT, 10):
        words = " ".join(f"w{n}" for n in range(start, start + 10))
        await ask(fake_api, user, f"/follow {words}")
    assert len(await follows_of(app, user.id)) == follow_store.MAX_FOLLOWS_PER_CHAT
    reply = await ask(fake_api, user, "/follow kirkuk")
    assert "Not added: kirkuk" in (reply.text or "")
    assert "at most 50 keywords" in (reply.text or "")


async def test_follows_in_groups_are_for_admins_and_per_topic(
    app: Any, fake_api: FakeBotApi
) -> None:
    owner = fake_api.add_user("Admin")
    member = fake_api.add_user("Member")
    forum = fake_api.add_group(
        "Newsroom", admins=[owner], members=[member], supergroup=True, forum=True
    )
    topic = fake_api.add_topic(forum, "Oil")

    refused = await ask(fake_api, member, "/follow kirkuk", chat=forum)
    assert "only admins" in (refused.text or "")
    refused = await ask(fake_api, member, "/unfollow", chat=forum)
    assert "only admins" in (refused.text or "")
    assert await follows_of(app, forum.id) == []

    reply = await ask(
        fake_api, owner, '/follow "oil exports"', chat=forum, message_thread_id=topic
    )
    assert reply.message_thread_id == topic
    assert await follows_of(app, forum.id, topic) == ["oil exports"]
    assert await follows_of(app, forum.id) == []

    # Anyone may read the list.
    listing = await ask(fake_api, member, "/following", chat=forum, message_thread_id=topic)
    assert "oil exports" in (listing.text or "")


# --- delivery mode and quiet hours ---------------------------------------------------------


async def test_settings_delivery_mode_buttons_edit_in_place(
    app: Any, fake_api: FakeBotApi
) -> None:
    user = fake_api.add_user()
    settings = await ask(fake_api, user, "/settings")
    text = settings.text or ""
    assert "Delivery: Instant — every story as it is published" in text
    assert "Quiet hours: off" in text
    data = button_data(settings)
    assert data[:4] == ["dm:instant", "dm:breaking", "dm:hourly", "dm:daily"]
    assert "tz:Europe/Berlin" in data
    assert settings.buttons[0]["text"] == "✅ Instant"

    answer = await press(fake_api, user, settings, "dm:hourly")
    assert answer["text"] == "Delivery: Hourly digest"
    message = await edited(fake_api, user.id, settings.message_id, 1)
    assert "Delivery: Hourly digest" in (message.text or "")
    labels = [b["text"] for b in message.buttons[:4]]
    assert labels == ["Instant", "Breaking news only", "✅ Hourly digest", "Daily digest"]
    prefs = await prefs_of(app, user.id)
    assert prefs is not None and prefs.mode == "hourly"

    await press(fake_api, user, message, "dm:breaking")
    message = await edited(fake_api, user.id, settings.message_id, 2)
    assert "Breaking news only" in (message.text or "")
    # A time-zone button keeps the delivery buttons under the message.
    await press(fake_api, user, message, "tz:Europe/Berlin")
    message = await edited(fake_api, user.id, settings.message_id, 3)
    assert "Europe/Berlin" in (message.text or "")
    assert "✅ Breaking news only" in [b["text"] for b in message.buttons]
    assert len(fake_api.sent(user.id)) == 1  # every change was an edit


async def test_quiet_hours(app: Any, fake_api: FakeBotApi) -> None:
    user = fake_api.add_user()
    usage = await ask(fake_api, user, "/quiet")
    assert "Quiet hours: off" in (usage.text or "")
    assert "/quiet 23:00-07:00" in (usage.text or "")

    reply = await ask(fake_api, user, "/quiet 23-7")
    assert "Quiet hours: 23:00–07:00 (Asia/Baghdad)" in (reply.text or "")
    assert "breaking news still comes at once" in (reply.text or "")
    assert await prefs_of(app, user.id) == DeliveryPrefs("instant", "23:00", "07:00")

    settings = await ask(fake_api, user, "/settings")
    assert "Quiet hours: 23:00–07:00" in (settings.text or "")

    # The parser's own reason, as plain text.
    wrong = await ask(fake_api, user, "/quiet 25:00-07:00")
    assert wrong.text == "Hours go from 0 to 23."
    wrong = await ask(fake_api, user, "/quiet tonight")
    assert wrong.text == "Quiet hours look like 23:00-07:00 or 23-7, or off."
    wrong = await ask(fake_api, user, "/quiet 7-7")
    assert wrong.text == "Quiet hours need different start and end times."
    assert await prefs_of(app, user.id) == DeliveryPrefs("instant", "23:00", "07:00")
    # Each reason is a catalogue text, so readers get it in their language.
    catalogue_texts = {message.id for message in extract()}
    for text in ("25:00-07:00", "23:60-07:00", "tonight", "7-7"):
        with pytest.raises(ValueError, match=r"\.$") as reason:
            parse_quiet_hours(text)
        assert str(reason.value) in catalogue_texts

    reply = await ask(fake_api, user, "/quiet off")
    assert "Quiet hours are off" in (reply.text or "")
    assert await prefs_of(app, user.id) == DeliveryPrefs("instant", None, None)


async def test_group_delivery_settings_are_for_admins(app: Any, fake_api: FakeBotApi) -> None:
    owner = fake_api.add_user("Admin")
    member = fake_api.add_user("Member")
    group = fake_api.add_group("Erbil readers", admins=[owner], members=[member], supergroup=True)

    refused = await ask(fake_api, member, "/quiet 23:00-07:00", chat=group)
    assert "only admins" in (refused.text or "")
    settings = await ask(fake_api, member, "/settings", chat=group)
    answer = await press(fake_api, member, settings, "dm:daily")
    assert "only admins" in answer["text"]
    assert answer.get("show_alert") is True
    prefs = await prefs_of(app, group.id)
    assert prefs == DeliveryPrefs("instant", None, None)

    await press(fake_api, owner, settings, "dm:daily")
    await edited(fake_api, group.id, settings.message_id, 1)
    prefs = await prefs_of(app, group.id)
    assert prefs is not None and prefs.mode == "daily"


# --- administrators ----------------------------------------------------------------------


async def test_breaking_and_stats_refuse_everyone_but_admins(
    app: Any, fake_api: FakeBotApi
) -> None:
    owner = fake_api.add_user("Group owner")
    group = fake_api.add_group("Erbil readers", admins=[owner], supergroup=True)
    for chat in (None, group):
        refused = await ask(fake_api, owner, "/breaking 1", chat=chat)
        assert refused.text == "Sorry, /breaking is only for the bot's administrators."
        refused = await ask(fake_api, owner, "/stats", chat=chat)
        assert refused.text == "Sorry, /stats is only for the bot's administrators."


async def test_breaking_for_admins(start_bot: StartBot, fake_api: FakeBotApi) -> None:
    boss = fake_api.add_user("Editor")
    async with start_bot(admin_ids=str(boss.id)) as application:
        app = with_keywords_and_admin(application)
        usage = await ask(fake_api, boss, "/breaking")
        assert "/breaking 42" in (usage.text or "")

        missing = await ask(fake_api, boss, "/breaking https://example.org/<nope>")
        assert "I have no story with the link or id “https://example.org/<nope>”" in (
            missing.text or ""
        )
        assert "no story" in ((await ask(fake_api, boss, "/breaking 999999")).text or "")

        link = "https://www.rudaw.net/english/story/hostile"
        async with deps_of(app).sessions() as session:
            story = await story_store.find_story(session, link)
        assert story is not None

        if deps_of(app).broadcaster is None:
            idle = await ask(fake_api, boss, f"/breaking {link}")
            assert idle.text == admin.NOT_RUNNING

        stub = StubBroadcaster()
        deps_of(app).services.broadcaster = stub
        by_link = await ask(fake_api, boss, f"/breaking {link}")
        assert by_link.text is not None
        assert by_link.text.startswith(f"🔴 Pushing as breaking news: {HOSTILE_TITLE}")
        by_id = await ask(fake_api, boss, f"/breaking {story.id}")
        assert HOSTILE_TITLE in (by_id.text or "")
        assert stub.pushed == [story.id, story.id]


async def test_stats_for_admins(start_bot: StartBot, fake_api: FakeBotApi) -> None:
    boss = fake_api.add_user("Editor")
    reader = fake_api.add_user("Reader")
    async with start_bot(admin_ids=f"{boss.id}, 1") as application:
        app = with_keywords_and_admin(application)
        await ask(fake_api, reader, "/subscribe")
        fake_api.chat_member_update(fake_api.private_chat(reader), reader, "member", "kicked")
        for _ in range(250):  # the update is processed asynchronously
            async with deps_of(app).sessions() as session:
                if (await chat_store.chat_counts(session))[1]:
                    break
            await asyncio.sleep(0.02)

        stats = await ask(fake_api, boss, "/stats")
        text = stats.text or ""
        assert "Chats: 1 active, 1 inactive" in text
        assert "Pushes: 0 pending, 0 sent, 0 failed, 0 skipped" in text
        assert "Send queue: 0 waiting" in text
        assert "Feeds (1)" in text
        assert "/english/rss — last success just now" in text
        assert "failure" not in text
        if deps_of(app).broadcaster is None:
            assert "pushes are not running" in text

        stub = StubBroadcaster()
        stub.stats.sent, stub.stats.failed, stub.stats.rate_limited = 120, 3, 2
        await stub.limiter.acquire()
        deps_of(app).services.broadcaster = stub
        text = (await ask(fake_api, boss, "/stats")).text or ""
        assert "Sending now: 1/s (limit 25/s)" in text
        assert "120 sent, 3 failed, 0 retried, 2 × 429" in text


async def test_breaking_pushes_a_stored_story_to_breaking_only_readers(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    boss = fake_api.add_user("Editor")
    reader = fake_api.add_user("Reader")
    async with start_bot(admin_ids=str(boss.id)) as application:
        app = with_keywords_and_admin(application)
        if deps_of(app).broadcaster is None:
            pytest.skip("this build runs no push pipeline")
        await ask(fake_api, reader, "/subscribe")
        settings = await ask(fake_api, reader, "/settings")
        await press(fake_api, reader, settings, "dm:breaking")
        before = len(fake_api.sent(reader.id))

        confirm = await ask(
            fake_api, boss, "/breaking https://www.rudaw.net/english/story/hostile"
        )
        assert (confirm.text or "").startswith("🔴 Pushing as breaking news")
        messages = await fake_api.wait_for_messages(reader.id, before + 1)
        assert (messages[before].text or "").startswith(f"🔴 {HOSTILE_TITLE}")


async def test_breaking_tells_the_admin_who_had_it_and_who_gets_it_now(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    boss = fake_api.add_user("Editor")
    instant, breaking_only = fake_api.add_user("Instant"), fake_api.add_user("Urgent")
    async with start_bot(admin_ids=str(boss.id)) as application:
        app = with_keywords_and_admin(application)
        if deps_of(app).broadcaster is None:
            pytest.skip("this build runs no push pipeline")
        await ask(fake_api, instant, "/subscribe")
        await ask(fake_api, breaking_only, "/subscribe")
        settings = await ask(fake_api, breaking_only, "/settings")
        await press(fake_api, breaking_only, settings, "dm:breaking")
        story_item = new_item(801, "Parliament session on the budget")
        await publish(app, outlet, outlet_items, story_item)
        await fake_api.wait_for(lambda: bool(pushes(fake_api, instant, story_item.title)))
        async with deps_of(app).sessions() as session:
            story = await story_store.find_story(session, story_item.link)
        assert story is not None

        confirm = await ask(fake_api, boss, f"/breaking {story.id}")
        assert confirm.text == (
            "🔴 Pushing as breaking news: Parliament session on the budget\n"
            "Already had it: 1. Counting who gets it now…"
        )
        told = await edited(fake_api, boss.id, confirm.message_id, 1)
        assert told.text == (
            "🔴 Breaking news: Parliament session on the budget\nAlready had it: 1. Getting it "
            "now: 1. It goes ahead of every other push; /stats shows the progress."
        )
        await fake_api.wait_for(lambda: bool(pushes(fake_api, breaking_only, story_item.title)))

        again = await ask(fake_api, boss, f"/breaking {story.id}")
        told = await edited(fake_api, boss.id, again.message_id, 1)
        assert told.text == (
            "🔴 Parliament session on the budget is now marked as breaking news, but every "
            "reader it goes to already had it (2): nobody gets it twice."
        )
    assert len(pushes(fake_api, instant, story_item.title)) == 1
    assert len(pushes(fake_api, breaking_only, story_item.title)) == 1


async def test_keyword_alerts_say_which_words_brought_them_and_muted_words_are_never_pushed(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    follower, reader = fake_api.add_user("Follows"), fake_api.add_user("Mutes")
    async with start_bot() as application:
        app = with_keywords_and_admin(application)
        if deps_of(app).broadcaster is None:
            pytest.skip("this build runs no push pipeline")
        await ask(fake_api, follower, '/follow kirkuk "oil exports"')
        await ask(fake_api, reader, "/subscribe")
        muted = await ask(fake_api, reader, "/mute football")
        assert (muted.text or "").startswith("🔇 Muted: football.")
        listing = await ask(fake_api, reader, "/following")
        assert "Muted (1): football." in (listing.text or "")

        oil = new_item(701, "Kirkuk oil exports resume", category="World")
        match = new_item(702, "Erbil football club wins the cup")
        plain = new_item(703, "Duhok dam reaches record level")
        await publish(app, outlet, outlet_items, oil, match, plain)
        await fake_api.wait_for(lambda: bool(pushes(fake_api, follower, oil.title)))
        await fake_api.wait_for(lambda: bool(pushes(fake_api, reader, plain.title)))
        [alert] = pushes(fake_api, follower, oil.title)
        # The alert says why it came, with the reader's own words.
        assert (alert.text or "").startswith("🔔 kirkuk, oil exports\n")
        assert pushes(fake_api, follower, plain.title) == []
        # The muted word keeps its story away, whatever the section.
        await asyncio.sleep(0.5)
        assert pushes(fake_api, reader, match.title) == []
        assert not (pushes(fake_api, reader, plain.title)[0].text or "").startswith("🔔")

        offer = await ask(fake_api, reader, "/unmute")
        assert [b["text"] for b in offer.buttons] == ["🔈 football"]
        await press(fake_api, reader, offer, button_data(offer)[0])
        offer = await edited(fake_api, reader.id, offer.message_id, 1)
        assert offer.text == "No words are muted here now."
        again = new_item(704, "Sulaimani football derby ends in a draw")
        await publish(app, outlet, outlet_items, again)
        await fake_api.wait_for(lambda: bool(pushes(fake_api, reader, again.title)))
