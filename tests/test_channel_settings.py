"""CHANNELS and CHANNEL_COMMENTS: parsing, editions, and one-sentence errors."""

from __future__ import annotations

import pytest

from bot.config import ChannelSpec, ConfigError, load_settings
from tests.test_config import assert_one_sentence_naming

FEEDS = "https://example.org/en.xml,ckb:https://example.org/ckb.xml"


def test_entries_with_and_without_an_edition(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDS", FEEDS)
    monkeypatch.setenv("CHANNELS", " @rudaw_en , ckb:@rudaw_ckb,ckb:-1001234567890 ")
    settings = load_settings()
    assert settings.channels == (
        ChannelSpec("@rudaw_en", "en"),
        ChannelSpec("@rudaw_ckb", "ckb"),
        ChannelSpec("-1001234567890", "ckb"),
    )
    assert [c.chat_id for c in settings.channels] == [
        "@rudaw_en",
        "@rudaw_ckb",
        -1001234567890,
    ]
    assert settings.channel_comments is True


def test_no_channels_by_default() -> None:
    settings = load_settings()
    assert settings.channels == ()


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("12345", "starts with -100"),
        ("rudaw_en", "neither a channel id"),
        ("@ab", "neither a channel id"),
        ("xx1:@rudaw_en", "not an edition"),
        ("@rudaw_en,@RUDAW_EN", "listed twice"),
        ("tr:@rudaw_tr", "no feed in FEEDS belongs to"),
    ],
)
def test_bad_entries_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str, said: str
) -> None:
    monkeypatch.setenv("FEEDS", FEEDS)
    monkeypatch.setenv("CHANNELS", raw)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert_one_sentence_naming(caught.value, "CHANNELS")
    assert said in str(caught.value)


@pytest.mark.parametrize(("raw", "on"), [("off", False), ("OFF", False), ("on", True)])
def test_channel_comments_on_or_off(monkeypatch: pytest.MonkeyPatch, raw: str, on: bool) -> None:
    monkeypatch.setenv("CHANNEL_COMMENTS", raw)
    assert load_settings().channel_comments is on


def test_channel_comments_other_words_name_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHANNEL_COMMENTS", "maybe")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert_one_sentence_naming(caught.value, "CHANNEL_COMMENTS")
