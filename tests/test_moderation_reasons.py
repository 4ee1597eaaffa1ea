"""Moderators' reasons for rejecting a comment: the card's buttons, and the words each reader
(and each moderators' chat) reads them in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.callbacks import fits
from bot.comment_texts import (
    MODERATION_REASONS,
    moderation_reason,
    relay_reason,
    status_text,
    verdict,
)
from bot.handlers.moderation import card_buttons
from bot.i18n import LOCALES, texts
from storage.comments import REJECTED, CommentView

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def rejected(reason: str | None, comment_id: int = 7) -> CommentView:
    return CommentView(
        id=comment_id,
        story_id=1,
        article_url=None,
        article_guid=None,
        article_title="Erbil airport reopens",
        language="en",
        user_id=1,
        chat_id=1,
        message_id=1,
        answer_message_id=None,
        author_name="Dilan",
        text="Buy cheap watches",
        status=REJECTED,
        reason=reason,
        held_for="moderation",
        outlet_id=None,
        outlet_status=None,
        created_at=NOW,
        updated_at=NOW,
        relayed_at=None,
    )


def test_the_reader_is_told_the_reason_in_their_language() -> None:
    comment = rejected(moderation_reason("off_topic"))
    assert status_text(comment, t=texts("en")) == (
        "❌ Your comment on ‘Erbil airport reopens’ was not published: It is not about the story."
    )
    said = {locale: relay_reason(comment.reason or "", t=texts(locale)) for locale in LOCALES}
    assert len(set(said.values())) == len(LOCALES)  # five languages, five sentences
    # A plain Reject still gives none.
    assert status_text(rejected(None), t=texts("en")).endswith("was not published.")


@pytest.mark.parametrize("code", MODERATION_REASONS)
def test_every_reason_has_its_own_words(code: str) -> None:
    sentence = relay_reason(moderation_reason(code), t=texts("en"))
    assert sentence.startswith("It ") and "moderation:" not in sentence


def test_a_reason_this_version_does_not_know_is_still_the_moderators() -> None:
    assert relay_reason("moderation:rude", t=texts("en")) == (
        "It does not follow the rules for comments."
    )


def test_the_verdict_names_the_reason_and_the_buttons_fit_in_callback_data() -> None:
    assert verdict(False, "Rezan", to_site=False, t=texts("en"), reason="spam") == (
        "❌ Rejected by Rezan (Spam)"
    )
    rows = card_buttons(rejected(None, comment_id=2**63 - 1), t=texts("ckb"))
    data = [b.callback or "" for row in rows for b in row]
    assert len(data) == 2 + len(MODERATION_REASONS)
    assert all(fits(d) for d in data)
    assert [d.rsplit(":", 1)[-1] for d in data[2:]] == list(MODERATION_REASONS)
