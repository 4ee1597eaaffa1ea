"""The outlet's channels end to end: posts, corrections, the discussion relayed as comments,
a channel the bot may no longer post to, and posts of stories with pictures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from bot.deps import DEPS_KEY
from tests.auxil.app_storage import deliveries, story_titled
from tests.auxil.conversation import ask, edited
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import Item
from tests.auxil.outlet import CommentOutlet
from tests.auxil.pushes import new_item, publish, pushes
from tests.auxil.waiting import eventually
from tests.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.e2e

StartBot = Callable[..., AbstractAsyncContextManager[Any]]
SECRET = "whsec_" + "c2VjcmV0LWZvci10aGUtb3V0bGV0"


async def test_posts_corrections_and_the_discussion_becomes_comments(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    channel = fake_api.add_channel("Rudaw English", username="rudaw_en")
    group = fake_api.add_group("Rudaw English chat", supergroup=True)
    fake_api.link_discussion(channel, group)
    async with (
        CommentOutlet(secret=SECRET) as site,
        start_bot(channels="@rudaw_en", comments_url=site.url, comments_secret=SECRET) as app,
    ):
        await asyncio.sleep(0.3)
        assert fake_api.sent(channel) == []  # the backlog is never posted

        item = new_item(40, "Breaking: Erbil airport reopens")
        await publish(app, outlet, outlet_items, item, new_item(41, "Dohuk dam opens"))
        posts = await fake_api.wait_for_messages(channel, 2)
        assert len(posts) == 2
        breaking = next(p for p in posts if "Erbil" in (p.text or ""))
        assert (posts[0].text or "").startswith("🔴"), "breaking news first, and marked"
        assert "appear on the website" in (breaking.text or "")
        urls = [b.get("url", "") for b in breaking.buttons]
        assert "https://www.rudaw.net/english/news/40" in urls
        [comment_url] = [u for u in urls if "?start=c_" in u]
        assert comment_url.startswith(f"https://t.me/{fake_api.bot.username}?start=c_")
        assert not any("callback_data" in b for b in breaking.buttons)

        # Readers comment in the post's thread; one replies to the other.
        forward = fake_api.forward_of(channel, breaking.message_id)
        assert forward is not None
        shilan, karwan = fake_api.add_user("Shilan"), fake_api.add_user("Karwan")
        first = fake_api.send_message(shilan, group, "Good news for the region", reply_to=forward)
        [created] = await site.wait_for(1)
        data = created.body["data"]
        assert data["article"]["url"] == "https://www.rudaw.net/english/news/40"
        assert data["author"]["name"] == "Shilan"
        assert "in_reply_to" not in data
        assert str(shilan.id) not in created.raw.decode()
        first_id = first["message"]["message_id"]
        await fake_api.wait_for(lambda: fake_api.reaction_on(group, first_id) == ["👍"])

        fake_api.send_message(karwan, group, "Agreed", reply_to=first)
        fake_api.send_message(karwan, group, "Anyone here from Duhok?")  # outside every thread
        received = await site.wait_for(2)
        reply_data = received[1].body["data"]
        assert reply_data["text"] == "Agreed"
        # The parent as the outlet knows it: its id (the site answered it with "c1") and the
        # webhook-id it came with.
        assert reply_data["in_reply_to"] == "c1"
        assert reply_data["in_reply_to_webhook_id"] == created.webhook_id
        await asyncio.sleep(0.3)
        assert len(site.received) == 2, "messages outside the threads are no comments"
        # The group heard nothing but reactions.
        assert fake_api.sent(group) == []

        # A refused comment gets one short reply in its thread, and only one.
        fake_api.send_sticker(shilan, group, reply_to=forward)
        fake_api.send_sticker(shilan, group, reply_to=forward)
        [refusal] = await fake_api.wait_for_messages(group, 1)
        assert refusal.message_thread_id == forward.message_id
        await asyncio.sleep(0.3)
        assert len(fake_api.sent(group)) == 1

        # A corrected headline edits the channel post.
        item.title = "Breaking: Erbil airport reopens to all flights"
        await publish(app, outlet, outlet_items)
        await fake_api.wait_for(
            lambda: fake_api.message(channel, breaking.message_id).edit_count >= 1
        )
        assert "all flights" in (fake_api.message(channel, breaking.message_id).text or "")
        assert len(fake_api.sent(channel)) == 2
        # The forward's edit reaches the bot too (and changes nothing).
        await asyncio.sleep(0.5)


async def test_a_story_with_a_picture_is_posted_as_a_photo_like_a_push(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    erbil, dukan = (
        "https://www.rudaw.net/images/erbil.jpg",
        "https://www.rudaw.net/images/dukan.jpg",
    )
    fake_api.add_image(erbil, delay=0.2)
    fake_api.add_image(dukan, reachable=False)
    channel = fake_api.add_channel("Rudaw English", username="rudaw_en")
    group = fake_api.add_group("Rudaw English chat", supergroup=True)
    fake_api.link_discussion(channel, group)
    reader = fake_api.add_user("Reader")
    async with (
        CommentOutlet(secret=SECRET) as site,
        start_bot(channels="@rudaw_en", comments_url=site.url, comments_secret=SECRET) as app,
    ):
        await ask(fake_api, reader, "/subscribe")
        item = new_item(60, "Erbil airport reopens", image=erbil)
        await publish(app, outlet, outlet_items, item)
        [post] = await fake_api.wait_for_messages(channel, 1)
        await fake_api.wait_for(lambda: pushes(fake_api, reader, "Erbil airport"))

        # A photo with the story and the discussion line as its caption, and the channel's
        # buttons (no Share, no callbacks).
        assert post.photo is not None
        caption = post.caption or ""
        assert caption.startswith("Erbil airport reopens") and "Summary 60" in caption
        assert caption.endswith("appear on the website.")
        urls = [b.get("url", "") for b in post.buttons]
        assert "https://www.rudaw.net/english/news/60" in urls
        assert any("?start=c_" in u for u in urls)
        assert not any("callback_data" in b or "switch_inline_query" in b for b in post.buttons)
        assert not post.silent
        forward = fake_api.forward_of(channel, post.message_id)
        assert forward is not None and forward.message.get("photo")
        # The reader's push and the post share one fetch of the picture: one went by URL,
        # the other by the file id Telegram answered with.
        assert fake_api.image_fetches[erbil] == 1
        [pushed] = pushes(fake_api, reader, "Erbil airport")
        assert pushed.photo is not None
        assert pushed.photo[-1]["file_id"] == post.photo[-1]["file_id"]

        async def recorded_as_photo() -> bool:
            rows = [r for r in await deliveries(app) if r.chat_id == channel.id]
            return [(r.status, r.photo) for r in rows] == [("sent", True)]

        await eventually(recorded_as_photo)

        # A correction edits the caption, the discussion line and the buttons kept.
        item.title = "Erbil airport reopens to all flights"
        await publish(app, outlet, outlet_items)
        corrected = await edited(fake_api, channel.id, post.message_id, 1)
        assert (corrected.caption or "").startswith("Erbil airport reopens to all flights")
        assert (corrected.caption or "").endswith("appear on the website.")
        assert corrected.photo == post.photo
        assert corrected.buttons == post.buttons
        assert [c["chat_id"] for c in fake_api.calls("editMessageText")].count(channel.id) == 0
        assert any(c["chat_id"] == channel.id for c in fake_api.calls("editMessageCaption"))

        # A picture Telegram refuses: the post goes as text, the picture large above it.
        await publish(app, outlet, outlet_items, new_item(61, "Dukan dam", image=dukan))
        posts = await fake_api.wait_for_messages(channel, 2, timeout=15)
        text_post = posts[1]
        assert text_post.photo is None
        assert (text_post.text or "").startswith("Dukan dam")
        assert (text_post.text or "").endswith("appear on the website.")
        assert text_post.link_preview_options == {
            "url": "https://www.rudaw.net/english/news/61",
            "prefer_large_media": True,
            "show_above_text": True,
        }
        assert next(b.get("url", "") for b in text_post.buttons).endswith("/news/61")
        story = await story_titled(app, "Dukan dam")
        assert story.image_failed and story.photo_file_id is None


async def test_a_channel_the_bot_lost_alerts_once_and_pushes_go_on(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    admin = fake_api.add_user("Admin")
    reader = fake_api.add_user("Reader")
    channel = fake_api.add_channel("Rudaw English", username="rudaw_en")
    async with start_bot(channels="@rudaw_en", admin_ids=str(admin.id)) as app:
        await ask(fake_api, reader, "/subscribe")
        await publish(app, outlet, outlet_items, new_item(50, "First story"))
        await fake_api.wait_for_messages(channel, 1)

        fake_api.set_bot_rights(channel, admin=True, can_post=False)
        await publish(app, outlet, outlet_items, new_item(51, "Second story"))
        await fake_api.wait_for(lambda: pushes(fake_api, reader, "Second story"))
        [alert] = await fake_api.wait_for_messages(admin, 1)
        assert "@rudaw_en" in (alert.text or "")
        assert "post" in (alert.text or "")

        await publish(app, outlet, outlet_items, new_item(52, "Third story"))
        await fake_api.wait_for(lambda: pushes(fake_api, reader, "Third story"))
        await asyncio.sleep(0.3)
        assert len(fake_api.sent(admin)) == 1, "alerted once"
        assert len(fake_api.sent(channel)) == 1

        # Mended: the posts that waited go out (sent side by side, in either order), and the
        # admins hear it once.
        fake_api.set_bot_rights(channel, admin=True, can_post=True)
        watch = app.bot_data[DEPS_KEY].channels
        await watch.check()  # the 5-minute check, now
        posts = await fake_api.wait_for_messages(channel, 3, timeout=15)
        texts = [post.text or "" for post in posts]
        assert sorted(text.split("\n")[0] for text in texts[1:]) == ["Second story", "Third story"]
        await fake_api.wait_for_messages(admin, 2)
        assert "again" in (fake_api.sent(admin)[1].text or "")


async def test_start_up_names_a_failing_channel_in_one_sentence_every_time(
    start_bot: StartBot, fake_api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    fake_api.add_channel("Rudaw English", username="rudaw_en", bot_admin=False)
    expected = (
        "CHANNELS: the channel @rudaw_en does not have the bot as an administrator; "
        "nothing is posted there"
    )
    for _ in range(2):  # the second start finds the same state, and says it all the same
        caplog.clear()
        async with start_bot(channels="@rudaw_en"):
            pass
        said = [r.getMessage() for r in caplog.records if r.name == "bot.channels"]
        assert said == [expected]
