"""Sections end to end: only the operator's sections are offered, each named in the reader's
language (/sections, pushes, /latest, inline mode), readers of a section that is no longer
offered are told so once, and a feed rich in categories offers none of them."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.deps import DEPS_KEY
from bot.handlers.errors import APOLOGY
from bot.i18n import texts
from news.clock import utcnow
from storage import chats as chat_store
from storage import stories as story_store
from storage.engine import writing
from tests.auxil.app_storage import subscriptions_of
from tests.auxil.conversation import ask, edited, press
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import Item, rss
from tests.auxil.pushes import pushes
from tests.fake_bot_api import FakeBotApi, parse_html

pytestmark = pytest.mark.e2e

StartBot = Callable[..., AbstractAsyncContextManager[Any]]
SORANI, ENGLISH = texts("ckb"), texts("en")
KURDISTAN_CKB = "هەرێمی کوردستان"
# The example, with a Sorani name of the operator's own choosing.
NAMES = f"kurdistan=Kurdistan|ckb:{KURDISTAN_CKB}|ar:كردستان|kmr:Kurdistan|tr:Kürdistan"
SPAM = ["Internal open access from NL", "Politics", "Agriculture, Uruguay"]
MANY_SECTIONS_ITEMS = [
    Item(
        f"Story {n}",
        f"https://www.rudaw.net/english/story/{n}",
        guid=f"s-{n}",
        categories=[f"Politics and Government {n:02d}{k:02d}" for k in range(20)],
    )
    for n in range(6)
]


def _item(n: int, title: str, *categories: str, minutes_ago: float = 30) -> Item:
    return Item(
        title,
        f"https://www.rudaw.net/english/story/{n}",
        guid=f"s-{n}",
        description=f"Summary {n}",
        categories=list(categories),
        published=datetime.now(UTC) - timedelta(minutes=minutes_ago),
    )


BACKLOG = [
    _item(1, "Erbil and Baghdad agree on salaries", "Kurdistan", *SPAM),
    _item(2, "Open access publishing in the Netherlands", *SPAM),
]


def _labels(message: Any) -> list[str]:
    return [b["text"] for b in message.buttons]


@pytest.mark.parametrize("outlet_items", [BACKLOG])
async def test_a_sorani_reader_sees_sorani_section_names(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer
) -> None:
    sorani = fake_api.add_user("Shilan", language_code="ckb")
    english = fake_api.add_user("Sarah", language_code="en")
    async with start_bot(sections="kurdistan=Kurdistan", section_names=NAMES) as app:
        await ask(fake_api, sorani, "/start")
        await ask(fake_api, english, "/subscribe")

        # /sections offers the operator's one section, by its Sorani name; none of the
        # feed's other categories, and no Latin slug anywhere in the message.
        panel = await ask(fake_api, sorani, "/sections")
        assert _labels(panel) == [
            "➕ " + SORANI.pgettext("button", "All news"),
            "➕ " + KURDISTAN_CKB,
        ]
        assert [b["callback_data"] for b in panel.buttons] == ["tg:*", "tg:kurdistan"]
        shown = (panel.text or "") + "".join(_labels(panel))
        assert not any(word in shown for word in ("kurdistan", "Kurdistan", "Politics", "Open"))

        answer = await press(fake_api, sorani, panel, "tg:kurdistan")
        assert answer["text"] == SORANI._("Following: {section}").format(
            section=SORANI.isolate(KURDISTAN_CKB)
        )
        redrawn = await edited(fake_api, sorani.id, panel.message_id, 1)
        assert _labels(redrawn)[1] == "✅ " + KURDISTAN_CKB
        expected = SORANI._("You receive new stories from: {sections}.").format(
            sections=f"<b>{SORANI.isolate(KURDISTAN_CKB)}</b>"
        )
        assert parse_html(expected)[0] in (redrawn.text or "")
        assert await subscriptions_of(app, sorani.id) == {"kurdistan"}

        # A typed name works in any language; a category that is no section does not.
        reply = await ask(fake_api, sorani, "/subscribe كوردستان")  # an Arabic keyboard's ك
        assert KURDISTAN_CKB in (reply.text or "")
        reply = await ask(fake_api, sorani, "/subscribe politics")
        assert "politics" in (reply.text or "") and await subscriptions_of(app, sorani.id) == {
            "kurdistan"
        }

        # A new story in Kurdistan (with the feed's spam categories) reaches the Sorani
        # reader, its header naming the section in Sorani; the English reader of all news
        # reads "Kurdistan"; a story in no section reaches only all news.
        new = _item(3, "Erbil airport reopens", "kurdistan", *SPAM, minutes_ago=1)
        other = _item(4, "Dutch universities sign a deal", *SPAM, minutes_ago=1)
        services = app.bot_data[DEPS_KEY].services
        for published in ([new, *BACKLOG], [other, new, *BACKLOG]):
            outlet.serve("/english/rss", rss(published))
            for feed in services.feeds:
                await services.poller.poll(feed.id)
            await fake_api.wait_for(lambda p=published: pushes(fake_api, english, p[0].title))
        await fake_api.wait_for(lambda: pushes(fake_api, sorani, new.title))
        [push] = pushes(fake_api, sorani, new.title)
        header = (push.text or "").split("\n")[1]
        assert KURDISTAN_CKB in header
        assert not any(word in header for word in ("Kurdistan", "Politics", "Internal"))
        [push] = pushes(fake_api, english, new.title)
        assert (push.text or "").split("\n")[1].startswith("Kurdistan · ")
        [push] = pushes(fake_api, english, other.title)
        assert (push.text or "").split("\n")[1].startswith(ENGLISH.pgettext("section", "News"))
        assert pushes(fake_api, sorani, other.title) == []

        # /latest names the section in the heading and the headers, in Sorani.
        listing = await ask(fake_api, sorani, f"/latest {KURDISTAN_CKB}")
        heading = SORANI._("Latest in {section}").format(section=SORANI.isolate(KURDISTAN_CKB))
        assert (listing.text or "").startswith(heading)
        assert new.title in (listing.text or "") and other.title not in (listing.text or "")

        # A category that is no section is still found: /latest searches for it.
        found = await ask(fake_api, english, "/latest open access")
        assert other.title in (found.text or "") and new.title in (found.text or "")

        # Inline mode describes results with the Sorani name.
        answers = len(fake_api.calls("answerInlineQuery"))
        fake_api.inline_query(sorani, "airport")
        call = (await fake_api.wait_for_calls("answerInlineQuery", answers + 1))[answers]
        [result] = call["results"]
        assert result["description"].startswith(SORANI.isolate(KURDISTAN_CKB))


@pytest.mark.parametrize("outlet_items", [BACKLOG])
async def test_readers_of_a_section_no_longer_offered_are_told_once(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer
) -> None:
    """An installation upgraded from the version that made every category a section: its
    readers' subscriptions to those sections are kept, bring nothing, and are explained."""
    sorani = fake_api.add_user("Shilan", language_code="ckb")
    both = fake_api.add_user("Karwan", language_code="en")
    kept = fake_api.add_user("Dara", language_code="en")
    async with start_bot(sections="kurdistan=Kurdistan", section_names=NAMES) as app:
        for user in (sorani, both, kept):
            await ask(fake_api, user, "/start")
        await ask(fake_api, both, "/subscribe kurdistan")
        await ask(fake_api, kept, "/subscribe kurdistan")
        services = app.bot_data[DEPS_KEY].services
        # What the older version left behind: category sections, and readers following them.
        async with writing(services.sessions) as session:
            await story_store.remember_sections(
                session,
                {"politics": "Politics", "internal-open-access-from-nl": SPAM[0]},
                utcnow(),
                "en",
            )
            for user in (sorani, both):
                await chat_store.subscribe(
                    session, user.id, ["politics", "internal-open-access-from-nl"], utcnow()
                )
        assert services.notices is not None
        # The leader runs it hourly, the first time a few minutes after start; here, now.
        assert app.job_queue.scheduler.get_job("retired-section-notices") is not None
        before = {u.id: len(fake_api.sent(u)) for u in (sorani, both, kept)}
        assert await services.notices.send_due() == 2
        await fake_api.wait_for(lambda: len(fake_api.sent(sorani)) == before[sorani.id] + 1)

        notice = fake_api.sent(sorani)[-1]
        gone = SORANI.ngettext(
            "The section {sections} is no longer offered, so no new stories come from it.",
            "The sections {sections} are no longer offered, so no new stories come from them.",
            2,
        ).format(sections=SORANI.join(f"<b>{SORANI.isolate(n)}</b>" for n in SPAM[:2]))
        nothing = SORANI._(
            "You receive no pushes. Send /subscribe to get all news, or /sections to choose."
        )
        assert notice.text == parse_html(f"{gone}\n{nothing}")[0]
        notice = fake_api.sent(both)[-1]
        assert "no longer offered" in (notice.text or "")
        assert "You receive new stories from: Kurdistan." in (notice.text or "")
        assert len(fake_api.sent(kept)) == before[kept.id]
        sends = [c for c in fake_api.calls("sendMessage") if c.get("disable_notification")]
        assert sorted(int(c["chat_id"]) for c in sends) == sorted([sorani.id, both.id])

        # Told once; the rows stay (offered again, they would simply work again).
        assert await services.notices.send_due() == 0
        assert await subscriptions_of(app, both.id) == {
            "kurdistan",
            "politics",
            "internal-open-access-from-nl",
        }
        # What the reader is shown counts only what still brings stories.
        reply = await ask(fake_api, sorani, "/settings")
        assert parse_html(nothing)[0] in (reply.text or "")
        assert "Politics" not in (reply.text or "")


async def test_without_any_section_readers_are_told_all_news_is_what_there_is(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    reader = fake_api.add_user("Ayşe", language_code="tr")
    async with start_bot(sections=""):
        await ask(fake_api, reader, "/start")
        for command in ("/sections", "/subscribe kurdistan"):
            reply = await ask(fake_api, reader, command)
            expected = texts("tr")._(
                "This bot offers no sections: /subscribe brings you all news."
            )
            assert expected in (reply.text or ""), command


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
