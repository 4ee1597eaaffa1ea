"""Channel checks: `newsbot check` names each channel's problem in one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.auxil.feed_server import FeedServer
from tests.fake_bot_api import FakeBotApi
from tests.test_cli import configure, lines_of, run_cli


async def test_check_names_each_channel_and_its_problem(
    cli_outlet: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with FakeBotApi() as api:
        good = api.add_channel("Rudaw English", username="rudaw_en")
        group = api.add_group("Rudaw chat", supergroup=True)
        api.link_discussion(good, group)
        api.add_channel("Read only", username="rudaw_ro", can_post=False)
        api.add_channel("Gone", username="rudaw_gone", bot_admin=False)
        configure(
            monkeypatch,
            tmp_path,
            FEEDS=cli_outlet.url("/world.rss"),
            TELEGRAM_BOT_TOKEN=api.token,
            TELEGRAM_API_URL=api.url,
            CHANNELS="@rudaw_en,@rudaw_ro,@rudaw_gone,-1009999999999",
        )
        assert await run_cli("check") == 1
    out = lines_of(capsys.readouterr().out)
    channels = [line for line in out if line.startswith("Channel ")]
    assert channels == [
        f"Channel @rudaw_en [en]: OK — 'Rudaw English' ({good.id}), the bot may post, "
        f"discussion group {group.id}",
        "Channel @rudaw_ro [en]: FAILED — has the bot as an administrator without the right "
        "to post messages; nothing is posted there",
        "Channel @rudaw_gone [en]: FAILED — does not have the bot as an administrator; "
        "nothing is posted there",
        "Channel -1009999999999 [en]: FAILED — does not exist, or the bot cannot see it; "
        "nothing is posted there",
    ]
