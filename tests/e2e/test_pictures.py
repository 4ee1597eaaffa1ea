"""Pictures and quieter pushes end to end (issue 18): a story with a picture reaches readers
as a photo that Telegram fetches once, a refused picture as text (once, and at once for the
others), a long one as text with the picture large above it; text only and silent pushes
chosen in /settings; the Share button; corrections of photos."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.deps import DEPS_KEY
from storage import stories as story_store
from storage.deliveries import requeue_edit
from storage.engine import writing
from storage.models import Story
from tests.auxil.app_storage import deliveries, story_titled
from tests.auxil.conversation import ask, edited, press
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import Item
from tests.auxil.pushes import new_item, publish, pushes
from tests.auxil.waiting import eventually
from tests.fake_bot_api import FakeBotApi, FakeUser, StoredMessage

pytestmark = pytest.mark.e2e

LARGE_PREVIEW = {"prefer_large_media": True, "show_above_text": True}


def picture(n: int) -> str:
    return f"https://www.rudaw.net/images/story-{n}.jpg"


async def readers(api: FakeBotApi, count: int) -> list[FakeUser]:
    users = [api.add_user(f"Reader {n}") for n in range(count)]
    for user in users:
        await ask(api, user, "/subscribe")
    return users


async def settings_message(api: FakeBotApi, user: FakeUser) -> StoredMessage:
    return await ask(api, user, "/settings")


async def all_sent(app: Any, count: int) -> bool:
    rows = [r for r in await deliveries(app) if r.kind == "push"]
    return len(rows) == count and {r.status for r in rows} == {"sent"}


async def test_a_story_with_a_picture_is_a_photo_telegram_fetches_once(
    start_bot: Callable[..., AbstractAsyncContextManager[Any]],
    fake_api: FakeBotApi,
    outlet: FeedServer,
    outlet_items: list[Item],
) -> None:
    # Telegram takes a while to fetch the picture: the other sends wait for its file id.
    fake_api.add_image(picture(1), delay=0.3)
    async with start_bot(send_rate=30) as app:
        users = await readers(fake_api, 6)
        await publish(app, outlet, outlet_items, new_item(1, "Erbil airport", image=picture(1)))
        for user in users:
            await fake_api.wait_for(lambda u=user: pushes(fake_api, u, "Erbil airport"))
        assert fake_api.image_fetches[picture(1)] == 1
        sources = [call["photo"] for call in fake_api.calls("sendPhoto")]
        assert sources.count(picture(1)) == 1 and len(sources) == len(users)
        file_ids = {s for s in sources if s != picture(1)}
        assert len(file_ids) == 1  # the first photo's largest size, for everyone else
        (message,) = pushes(fake_api, users[-1], "Erbil airport")
        assert message.photo is not None and message.photo[-1]["file_id"] in file_ids
        assert (message.caption or "").startswith("Erbil airport")
        assert "Summary 1" in (message.caption or "")
        assert not message.silent
        story = await story_titled(app, "Erbil airport")
        share = [b for b in message.buttons if "switch_inline_query" in b]
        assert [b["switch_inline_query"] for b in share] == [f"s_{story.id}"]
        await eventually(lambda: all_sent(app, len(users)))
        assert all(r.photo for r in await deliveries(app))
        async with app.bot_data[DEPS_KEY].services.sessions() as session:
            stored = await story_store.get_story(session, story.id)
        assert stored is not None and stored.photo_file_id in file_ids


@pytest.mark.parametrize(
    ("details", "description"),
    [
        ({"size": 6 * 1024 * 1024}, "wrong file identifier/HTTP URL specified"),
        ({"content_type": "text/html"}, "wrong type of the web page content"),
        ({"reachable": False}, "failed to get HTTP URL content"),
    ],
    ids=["too-large", "wrong-type", "unreachable"],
)
async def test_a_refused_picture_sends_text_once_and_marks_the_story(
    app: Any,
    fake_api: FakeBotApi,
    outlet: FeedServer,
    outlet_items: list[Item],
    details: dict[str, Any],
    description: str,
) -> None:
    fake_api.add_image(picture(2), **details)
    users = await readers(fake_api, 4)
    await publish(app, outlet, outlet_items, new_item(2, "Dukan dam", image=picture(2)))
    for user in users:
        await fake_api.wait_for(lambda u=user: pushes(fake_api, u, "Dukan dam"))
    await eventually(lambda: all_sent(app, len(users)))
    # One attempt with the picture; every reader has the story once, as text with the
    # article's picture large above it.
    assert len(fake_api.calls("sendPhoto")) == 1
    assert fake_api.stats.errors[400] == 1
    for user in users:
        (message,) = pushes(fake_api, user, "Dukan dam")
        assert message.photo is None
        assert message.link_preview_options == {
            "url": "https://www.rudaw.net/english/news/2",
            **LARGE_PREVIEW,
        }
    story = await story_titled(app, "Dukan dam")
    assert story.image_failed and story.photo_file_id is None
    assert not any(r.photo for r in await deliveries(app))

    # Another reader later: text at once, no attempt with the picture.
    late = fake_api.add_user("Late")
    await ask(fake_api, late, "/subscribe")
    services = app.bot_data[DEPS_KEY].services
    await services.broadcaster.push_now(story.id)  # the admin's /breaking
    await fake_api.wait_for(lambda: pushes(fake_api, late, "Dukan dam"))
    assert len(fake_api.calls("sendPhoto")) == 1


async def test_a_caption_too_long_goes_as_text_with_the_picture_large_above_it(
    app: Any, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    # Feeds' titles stop at 300 characters, so a push rarely outgrows a caption; a story
    # stored with a longer title (another source of stories) does.
    fake_api.add_image(picture(3))
    await publish(app, outlet, outlet_items, new_item(3, "Long headline", image=picture(3)))
    story = await story_titled(app, "Long headline")
    services = app.bot_data[DEPS_KEY].services
    async with writing(services.sessions) as session:
        row = await session.get(Story, story.id)
        assert row is not None
        row.title = "Long headline " + "about the talks in Baghdad " * 30
        row.summary = "The budget talks went on. " * 12
    (user,) = await readers(fake_api, 1)
    await services.broadcaster.push_now(story.id)
    await fake_api.wait_for(lambda: pushes(fake_api, user, "Long headline"))
    (message,) = pushes(fake_api, user, "Long headline")
    assert len(message.text or "") > 1024
    assert message.photo is None and fake_api.calls("sendPhoto") == []
    assert message.link_preview_options == {
        "url": "https://www.rudaw.net/english/news/3",
        **LARGE_PREVIEW,
    }
    assert fake_api.image_fetches[picture(3)] == 0


async def test_settings_choose_text_only_and_silent_pushes_breaking_news_rings(
    app: Any, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    fake_api.add_image(picture(4))
    fake_api.add_image(picture(5))
    text_only, silent, default = await readers(fake_api, 3)

    menu = await settings_message(fake_api, text_only)
    assert "Pictures:" in (menu.text or "") and "Sound:" in (menu.text or "")
    await press(fake_api, text_only, menu, "pi:0")
    redrawn = await edited(fake_api, text_only.id, menu.message_id, 1)
    assert "pi:1" in [b.get("callback_data") for b in redrawn.buttons]
    assert "text only" in (redrawn.text or "")
    menu = await settings_message(fake_api, silent)
    await press(fake_api, silent, menu, "sn:1")
    redrawn = await edited(fake_api, silent.id, menu.message_id, 1)
    assert "sn:0" in [b.get("callback_data") for b in redrawn.buttons]

    await publish(app, outlet, outlet_items, new_item(4, "Oil exports", image=picture(4)))
    for user in (text_only, silent, default):
        await fake_api.wait_for(lambda u=user: pushes(fake_api, u, "Oil exports"))
    (plain,) = pushes(fake_api, text_only, "Oil exports")
    assert plain.photo is None and plain.link_preview_options == {"is_disabled": True}
    (quiet,) = pushes(fake_api, silent, "Oil exports")
    assert quiet.photo is not None and quiet.silent
    (loud,) = pushes(fake_api, default, "Oil exports")
    assert loud.photo is not None and not loud.silent

    # Breaking news rings for the silent reader too.
    await publish(
        app,
        outlet,
        outlet_items,
        new_item(5, "BREAKING: Earthquake", category="Breaking", image=picture(5)),
    )
    await fake_api.wait_for(lambda: pushes(fake_api, silent, "Earthquake"))
    (breaking,) = pushes(fake_api, silent, "Earthquake")
    assert breaking.photo is not None and not breaking.silent


async def test_push_images_false_makes_text_only_the_default(
    start_bot: Callable[..., AbstractAsyncContextManager[Any]],
    fake_api: FakeBotApi,
    outlet: FeedServer,
    outlet_items: list[Item],
) -> None:
    fake_api.add_image(picture(6))
    async with start_bot(push_images=False) as app:
        undecided, chose = await readers(fake_api, 2)
        menu = await settings_message(fake_api, chose)
        await press(fake_api, chose, menu, "pi:1")
        await edited(fake_api, chose.id, menu.message_id, 1)
        await publish(app, outlet, outlet_items, new_item(6, "Sulaimani", image=picture(6)))
        for user in (undecided, chose):
            await fake_api.wait_for(lambda u=user: pushes(fake_api, u, "Sulaimani"))
        assert pushes(fake_api, undecided, "Sulaimani")[0].photo is None
        assert pushes(fake_api, chose, "Sulaimani")[0].photo is not None


async def test_a_correction_of_a_photo_push_edits_its_caption(
    app: Any, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    fake_api.add_image(picture(7))
    (user,) = await readers(fake_api, 1)
    item = new_item(7, "Parliment session postponed", image=picture(7))
    await publish(app, outlet, outlet_items, item)
    await fake_api.wait_for(lambda: pushes(fake_api, user, "Parliment session"))
    (pushed,) = pushes(fake_api, user, "Parliment session")
    assert pushed.photo is not None
    await eventually(lambda: all_sent(app, 1))

    item.title = "Parliament session postponed"
    await publish(app, outlet, outlet_items)
    corrected = await edited(fake_api, user.id, pushed.message_id, 1)
    assert (corrected.caption or "").startswith("Parliament session postponed")
    assert corrected.photo == pushed.photo
    assert corrected.buttons == pushed.buttons
    assert fake_api.calls("editMessageText") == []

    # A correction that no longer fits a caption keeps the headline under the photo (feeds'
    # titles are too short for that: the story is corrected in storage).
    story = await story_titled(app, "Parliament session")
    services = app.bot_data[DEPS_KEY].services
    async with writing(services.sessions) as session:
        row = await session.get(Story, story.id)
        assert row is not None
        row.title = "Parliament session postponed " + "after the talks in Baghdad " * 30
        row.summary = "The budget talks went on. " * 12
        await requeue_edit(session, story.id, datetime.now(UTC))
    services.broadcaster.wake()
    corrected = await edited(fake_api, user.id, pushed.message_id, 2)
    assert (corrected.caption or "").startswith("Parliament session postponed after")
    assert "budget talks" not in (corrected.caption or "")
    assert fake_api.calls("editMessageText") == []


async def test_the_share_button_offers_the_story_in_inline_mode(
    app: Any, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    (user,) = await readers(fake_api, 1)
    await publish(app, outlet, outlet_items, new_item(8, "Halabja anniversary"))
    await fake_api.wait_for(lambda: pushes(fake_api, user, "Halabja anniversary"))
    (message,) = pushes(fake_api, user, "Halabja anniversary")
    (query,) = [b["switch_inline_query"] for b in message.buttons if "switch_inline_query" in b]

    fake_api.inline_query(user, query)
    await fake_api.wait_for_calls("answerInlineQuery")
    (answer,) = fake_api.calls("answerInlineQuery")
    (result,) = answer["results"]
    story = await story_titled(app, "Halabja anniversary")
    assert result["id"] == str(story.id)
    assert result["input_message_content"]["message_text"].startswith("<b>")
    assert "Halabja anniversary" in result["input_message_content"]["message_text"]
