"""The sender's shortcuts keep its behaviour: one render per message however many workers want
it at once, and a stop puts back only the deliveries this instance claimed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bot.push_render import PushRenderer
from jobs.fanout import Broadcaster, FanoutSettings
from jobs.push.wording import PushMessage
from storage import chats as chat_store
from storage import deliveries as queue
from storage.engine import SessionFactory, writing
from storage.records import StoryView
from tests.auxil.fanout import RecordingClient, add_reader, add_story, now, statuses
from tests.auxil.waiting import wait_until


class CountingRenderer:
    """The real renderer, counting its calls per (stories, zone, locale)."""

    def __init__(self) -> None:
        self._render = PushRenderer("UTC")
        self.calls: Counter[tuple[tuple[int, ...], str, str | None]] = Counter()

    def __call__(
        self,
        stories: Sequence[StoryView],
        zone: str,
        *,
        locale: str | None = None,
        keywords: Sequence[str] = (),
    ) -> PushMessage:
        self.calls[(tuple(s.id for s in stories), zone, locale)] += 1
        return self._render(stories, zone, locale=locale, keywords=keywords)

    def language(self, locale: str | None) -> str:
        return self._render.language(locale)


async def test_many_workers_share_one_render_per_zone_and_each_reader_gets_it(
    sqlite_sessions: SessionFactory,
) -> None:
    readers = list(range(1, 41))
    for chat_id in readers:
        await add_reader(sqlite_sessions, chat_id)
    baghdad = readers[-10:]
    async with writing(sqlite_sessions) as session:
        for chat_id in baghdad:
            await chat_store.set_timezone(session, chat_id, "Asia/Baghdad", now())
    story = await add_story(sqlite_sessions, "Erbil and Baghdad sign oil export deal")
    async with writing(sqlite_sessions) as session:
        await queue.queue_broadcasts(session, [(story, False)], queue.PUSH, now())

    client = RecordingClient()
    renderer = CountingRenderer()
    fanout = Broadcaster(
        sqlite_sessions,
        client,  # type: ignore[arg-type]
        renderer,
        FanoutSettings(default_timezone="UTC", send_rate=1000, paid_broadcast=True),
    )
    await fanout.start()
    try:
        assert await wait_until(lambda: len(client.calls) >= len(readers), 10)

        async def all_sent() -> bool:
            return sum(status == "sent" for _, _, status in await statuses(sqlite_sessions)) == 40

        assert await wait_until(all_sent, 5), "outcomes recorded"
    finally:
        await fanout.stop()

    # Forty readers, two time zones: two renders, not forty (or one per worker).
    assert sorted(zone for (_, zone, _) in renderer.calls) == ["Asia/Baghdad", "UTC"]
    assert set(renderer.calls.values()) == {1}
    bodies = {data["chat_id"]: data for _, method, data in client.calls if method == "sendMessage"}
    assert sorted(bodies) == readers
    for chat_id, data in bodies.items():
        # Each reader's own chat, the zone's text, and the paid-broadcast flag of the settings.
        assert data["allow_paid_broadcast"] is True
        assert data["parse_mode"] == "HTML"
        assert "message_thread_id" not in data
        same_zone = baghdad if chat_id in baghdad else readers[:-10]
        assert data["text"] == bodies[same_zone[0]]["text"]


async def test_a_stop_puts_back_only_what_this_instance_claimed(
    sqlite_sessions: SessionFactory,
) -> None:
    for chat_id in (1, 2):
        await add_reader(sqlite_sessions, chat_id)
    story = await add_story(sqlite_sessions, "Dam levels rise")
    fanout = Broadcaster(
        sqlite_sessions,
        RecordingClient(),  # type: ignore[arg-type]
        CountingRenderer(),
        FanoutSettings(default_timezone="UTC"),
    )
    await fanout.start()
    # Meanwhile another instance (a leader taking over) claims a delivery and is sending it.
    async with writing(sqlite_sessions) as session:
        recipient = queue.Recipient(2, 0, None, None, None)
        await queue.add_deliveries(session, story, queue.PUSH, 1, [(recipient, None)], now())
        (theirs,) = await queue.claim_deliveries(session, now(), limit=10)
    await fanout.stop()
    # Releasing it would have it claimed and sent a second time.
    assert (theirs.chat_id, "sending") in {
        (chat, status) for _, chat, status in await statuses(sqlite_sessions)
    }


def test_readers_whose_language_we_lack_share_the_default_render() -> None:
    renderer = PushRenderer("UTC", default_locale="en")
    assert {renderer.language(code) for code in (None, "de", "fa", "pt-br", "en-GB")} == {"en"}
    assert renderer.language("ckb") == "ckb" and renderer.language("ar-IQ") == "ar"
    # A Sorani outlet's default: readers without a language of ours read Sorani.
    assert PushRenderer("UTC", default_locale="ckb").language("de") == "ckb"
