"""Breaking-news pushes end to end: ingestion → fan-out → the fake Bot API → readers."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.deps import DEPS_KEY
from storage.chats import get_chat
from storage.engine import writing
from storage.models import Chat
from tests.auxil.app_storage import deliveries
from tests.auxil.conversation import ask
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import Item, rss
from tests.auxil.pushes import new_item, publish, pushes
from tests.auxil.waiting import eventually
from tests.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.e2e


async def test_a_new_story_reaches_each_matching_subscriber_once(
    app: Any, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    everything, kurdistan, world, nobody = (fake_api.add_user(n) for n in "ABCD")
    await ask(fake_api, everything, "/subscribe")
    await ask(fake_api, kurdistan, "/subscribe kurdistan")
    await ask(fake_api, world, "/subscribe world")

    await publish(app, outlet, outlet_items, new_item(1, "Erbil airport reopens"))
    for user in (everything, kurdistan):
        await fake_api.wait_for(lambda u=user: pushes(fake_api, u, "Erbil airport reopens"))
    message = pushes(fake_api, everything, "Erbil airport reopens")[0]
    assert message.link_preview_options == {"url": "https://www.rudaw.net/english/news/1"}
    assert any(b.get("callback_data", "").startswith("mo:") for b in message.buttons)

    # Polling again (and again) never pushes it twice; the others never get it.
    await publish(app, outlet, outlet_items)
    await publish(app, outlet, outlet_items)
    rows = await deliveries(app)
    assert sorted(r.chat_id for r in rows) == sorted([everything.id, kurdistan.id])
    for user in (everything, kurdistan):
        assert len(pushes(fake_api, user, "Erbil airport reopens")) == 1
    assert pushes(fake_api, world, "Erbil airport reopens") == []
    assert pushes(fake_api, nobody, "Erbil airport reopens") == []

    async def all_sent() -> bool:
        return {r.status for r in await deliveries(app)} == {"sent"}

    await eventually(all_sent)
    sent = await deliveries(app)
    assert all(r.message_id for r in sent)


async def test_blocked_deactivated_kicked_and_migrated_chats(
    app: Any, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    blocked, gone, fine = (fake_api.add_user(n) for n in ("Blocked", "Gone", "Fine"))
    admin = fake_api.add_user("Admin")
    kicked = fake_api.add_group("Kicked", admins=[admin])
    migrating = fake_api.add_group("Migrating", admins=[admin])
    for user in (blocked, gone, fine):
        await ask(fake_api, user, "/subscribe")
    for group in (kicked, migrating):
        await ask(fake_api, admin, "/subscribe", chat=group)
    fake_api.block(blocked)
    fake_api.deactivate(gone)
    fake_api.kick_bot(kicked)
    new_id = fake_api.migrate(migrating, notify=False)

    await publish(app, outlet, outlet_items, new_item(2, "Dukan dam levels rise"))
    await fake_api.wait_for(lambda: pushes(fake_api, fine, "Dukan dam"))
    await fake_api.wait_for(lambda: pushes(fake_api, new_id, "Dukan dam"), timeout=5)

    sessions = app.bot_data[DEPS_KEY].services.sessions

    async def inactive() -> set[int]:
        async with sessions() as session:
            rows = (await session.exec(select(Chat).where(Chat.active == False))).all()  # noqa: E712
            return {c.id for c in rows}

    async def all_marked() -> bool:
        return await inactive() >= {blocked.id, gone.id, kicked.id}

    await eventually(all_marked)
    async with sessions() as session:
        moved = await get_chat(session, new_id)
        assert moved is not None and moved.active
        old = await get_chat(session, migrating.id)
        assert old is None  # its subscription moved to the supergroup
    # A blocked reader is never tried again for the next story.
    attempts = len([c for c in fake_api.calls("sendMessage") if c["chat_id"] == blocked.id])
    await publish(app, outlet, outlet_items, new_item(3, "Second story"))
    await fake_api.wait_for(lambda: pushes(fake_api, fine, "Second story"))
    assert (
        len([c for c in fake_api.calls("sendMessage") if c["chat_id"] == blocked.id]) == attempts
    )


async def test_429_and_server_errors_are_retried_and_delivered_once(
    app: Any, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    user = fake_api.add_user()
    await ask(fake_api, user, "/subscribe")
    fake_api.fail_next(
        "sendMessage", status=429, description="Too Many Requests: retry after 1", retry_after=1
    )
    fake_api.fail_next("sendMessage", status=502, description="Bad Gateway")
    await publish(app, outlet, outlet_items, new_item(4, "Retried story"))
    await fake_api.wait_for(lambda: pushes(fake_api, user, "Retried story"), timeout=8)
    broadcaster = app.bot_data[DEPS_KEY].services.broadcaster
    assert broadcaster.stats.rate_limited == 1
    assert broadcaster.stats.retried == 1
    assert len(pushes(fake_api, user, "Retried story")) == 1


async def test_breaking_news_jumps_the_queue_with_a_red_marker(
    app: Any, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    user = fake_api.add_user()
    await ask(fake_api, user, "/subscribe")
    before = len(fake_api.sent(user))
    await publish(
        app,
        outlet,
        outlet_items,
        new_item(5, "Ordinary council meeting"),
        new_item(6, "BREAKING: Earthquake felt in Sulaimani"),
    )
    messages = await fake_api.wait_for_messages(user, before + 2)
    first, second = messages[before], messages[before + 1]
    assert (first.text or "").startswith("🔴 BREAKING: Earthquake")
    assert "Ordinary council meeting" in (second.text or "")


async def test_several_waiting_stories_are_grouped_into_one_message(
    app: Any, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    user = fake_api.add_user()
    await ask(fake_api, user, "/subscribe")
    before = len(fake_api.sent(user))
    await publish(
        app, outlet, outlet_items, *(new_item(10 + n, f"Grouped story {n}") for n in range(3))
    )
    messages = await fake_api.wait_for_messages(user, before + 1)
    text = messages[before].text or ""
    assert text.startswith("3 new stories")
    assert all(f"Grouped story {n}" in text for n in range(3))
    rows = [r for r in await deliveries(app) if r.chat_id == user.id]
    assert len(rows) == 3
    assert len({r.message_id for r in rows} - {None}) <= 1  # one message carries all three


async def test_keyword_alerts_and_quiet_hours(
    start_bot: Callable[..., AbstractAsyncContextManager[Any]],
    fake_api: FakeBotApi,
    outlet: FeedServer,
    outlet_items: list[Item],
) -> None:
    async with start_bot() as app:
        follower, sleeper = fake_api.add_user("Follower"), fake_api.add_user("Sleeper")
        sessions = app.bot_data[DEPS_KEY].services.sessions
        from storage.follows import follow

        await ask(fake_api, follower, "/start")
        async with writing(sessions) as session:
            await follow(session, follower.id, 0, ["peshmerga"], datetime.now(UTC))
        await ask(fake_api, sleeper, "/subscribe")
        now_local = datetime.now(UTC)
        start = (now_local - timedelta(hours=1)).strftime("%H:%M")
        end = (now_local + timedelta(hours=2)).strftime("%H:%M")
        async with writing(sessions) as session:
            chat = await session.get(Chat, sleeper.id)
            assert chat is not None
            chat.quiet_start, chat.quiet_end, chat.timezone = start, end, "UTC"

        await publish(
            app,
            outlet,
            outlet_items,
            new_item(20, "Peshmerga units redeploy", category="World"),
            new_item(21, "URGENT: Border crossing closed", category="World"),
        )
        await fake_api.wait_for(lambda: pushes(fake_api, follower, "Peshmerga units redeploy"))
        await fake_api.wait_for(lambda: pushes(fake_api, sleeper, "Border crossing closed"))
        # The follower follows a word, not the section: only the matching story arrives.
        assert pushes(fake_api, follower, "Border crossing closed") == []
        # Quiet hours hold the ordinary story (breaking news still came through).
        assert pushes(fake_api, sleeper, "Peshmerga units redeploy") == []
        held = [
            r for r in await deliveries(app) if r.chat_id == sleeper.id and r.status == "pending"
        ]
        assert len(held) == 1 and held[0].not_before is not None
        assert held[0].not_before > datetime.now(UTC) + timedelta(minutes=100)


async def test_a_corrected_headline_edits_the_pushed_message(
    app: Any, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    user = fake_api.add_user()
    await ask(fake_api, user, "/subscribe")
    item = new_item(30, "Parliment session postponed")
    await publish(app, outlet, outlet_items, item)
    await fake_api.wait_for(lambda: pushes(fake_api, user, "Parliment session postponed"))
    (pushed,) = pushes(fake_api, user, "Parliment session postponed")

    item.title = "Parliament session postponed"
    await publish(app, outlet, outlet_items)
    await fake_api.wait_for(lambda: fake_api.message(user.id, pushed.message_id).edit_count >= 1)
    edited = fake_api.message(user.id, pushed.message_id)
    assert (edited.text or "").startswith("Parliament session postponed")
    assert edited.buttons == pushed.buttons


async def test_replies_stay_fast_while_a_broadcast_is_queued(
    app: Any, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    # 300 subscribers at SEND_RATE 25 is a 12-second broadcast; a /latest during it must not
    # wait behind it.
    sessions = app.bot_data[DEPS_KEY].services.sessions
    users = [fake_api.add_user(f"Reader {n}") for n in range(300)]
    now = datetime.now(UTC)
    from storage.chats import subscribe, touch_chat

    async with writing(sessions) as session:
        for user in users:
            await touch_chat(session, user.id, type="private", title=None, language="en", now=now)
            await subscribe(session, user.id, ["*"], now)
    await publish(app, outlet, outlet_items, new_item(40, "Big broadcast"))
    await fake_api.wait_for(lambda: len(fake_api.calls("sendMessage")) >= 10)
    reader = fake_api.add_user("Impatient")
    reply = await ask(fake_api, reader, "/latest")
    assert (reply.text or "").startswith("Latest stories")
    backlog = [r for r in await deliveries(app) if r.status != "sent"]
    assert len(backlog) > 100  # the answer did not wait for the broadcast to finish


async def test_forum_topics_unknown_chats_and_paid_broadcasts(
    start_bot: Callable[..., AbstractAsyncContextManager[Any]],
    fake_api: FakeBotApi,
    outlet: FeedServer,
    outlet_items: list[Item],
) -> None:
    async with start_bot(send_rate=100, paid_broadcast=True) as app:
        admin = fake_api.add_user("Admin")
        forum = fake_api.add_group("Newsroom", admins=[admin], supergroup=True, forum=True)
        topic = fake_api.add_topic(forum, "Kurdistan")
        await ask(fake_api, admin, "/subscribe kurdistan", chat=forum, message_thread_id=topic)
        sessions = app.bot_data[DEPS_KEY].services.sessions
        ghost = 4_242_424_242  # a chat the Bot API has never heard of
        now = datetime.now(UTC)
        from storage.chats import subscribe, touch_chat

        async with writing(sessions) as session:
            await touch_chat(session, ghost, type="private", title=None, language=None, now=now)
            await subscribe(session, ghost, ["*"], now)

        await publish(app, outlet, outlet_items, new_item(50, "Topic story"))
        await fake_api.wait_for(lambda: pushes(fake_api, forum, "Topic story"))
        (pushed,) = pushes(fake_api, forum, "Topic story")
        assert pushed.message_thread_id == topic
        bulk = [c for c in fake_api.calls("sendMessage") if "Topic story" in str(c.get("text"))]
        assert bulk and all(c.get("allow_paid_broadcast") is True for c in bulk)

        async def ghost_inactive() -> bool:
            async with sessions() as session:
                chat = await get_chat(session, ghost)
            return chat is not None and not chat.active

        await eventually(ghost_inactive)


async def test_the_first_story_of_an_initially_empty_feed_reaches_a_subscriber(
    start_bot: Callable[..., AbstractAsyncContextManager[Any]],
    fake_api: FakeBotApi,
    outlet: FeedServer,
) -> None:
    # A newly launched section: its feed is empty when the bot first polls it.
    outlet.serve("/english/rss", rss([]))
    async with start_bot() as app:
        user = fake_api.add_user()
        await ask(fake_api, user, "/subscribe")
        await publish(app, outlet, [], new_item(60, "BREAKING: New edition launches"))
        await fake_api.wait_for(lambda: pushes(fake_api, user, "New edition launches"))
        (message,) = pushes(fake_api, user, "New edition launches")
        assert (message.text or "").startswith("🔴 BREAKING: New edition launches")


async def test_an_empty_then_full_feed_pushes_only_its_recent_stories(
    start_bot: Callable[..., AbstractAsyncContextManager[Any]],
    fake_api: FakeBotApi,
    outlet: FeedServer,
) -> None:
    # The CMS served an empty feed for a moment, then the full one: its old stories are
    # backlog, and only the recent ones arrive, grouped as usual.
    outlet.serve("/english/rss", rss([]))
    async with start_bot() as app:
        user = fake_api.add_user()
        await ask(fake_api, user, "/subscribe")
        before = len(fake_api.sent(user))
        now = datetime.now(UTC)
        old = [
            Item(
                title=f"Old story {n}",
                link=f"https://www.rudaw.net/english/news/old-{n}",
                guid=f"old-{n}",
                categories=["Kurdistan"],
                published=now - timedelta(hours=n),
            )
            for n in (1, 2, 3)
        ]
        await publish(
            app, outlet, old, new_item(70, "Recent story one"), new_item(71, "Recent story two")
        )
        messages = await fake_api.wait_for_messages(user, before + 1)
        text = messages[before].text or ""
        assert text.startswith("2 new stories")
        assert "Recent story one" in text and "Recent story two" in text

        async def all_sent() -> bool:
            rows = await deliveries(app)
            return bool(rows) and {r.status for r in rows} == {"sent"}

        await eventually(all_sent)
        assert len(fake_api.sent(user)) == before + 1
        assert not any("Old story" in (m.text or "") for m in fake_api.sent(user))
