"""The comment checks (bot.comment_rules) and their answers (bot.comment_texts): pure, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import comment_texts
from bot.comment_rules import (
    Accepted,
    CommentRules,
    Refusal,
    Refused,
    check_comment,
    check_edit,
    check_name,
    clean_text,
    has_links,
    rate_lookback,
    rate_wait,
    same_comment,
    visible_text,
)
from bot.config import RateLimit, load_settings
from bot.i18n import texts
from storage.comments import CHOOSING, HELD, QUEUED, CommentView

NOW = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
RATE = (RateLimit(3, 60.0), RateLimit(20, 86400.0))
EN = texts("en")
# COMMENTS_URL set, ADMIN_IDS set, no moderators' chat: comments go straight to the outlet.
RELAYED_RULES = CommentRules(
    enabled=True, max_length=2000, rate=RATE, review_all=False, has_moderators=True
)


def check(
    text: str | None,
    entity_types: tuple[str, ...] = (),
    rules: CommentRules = RELAYED_RULES,
    *,
    banned: bool = False,
    previous: str | None = None,
    recent: tuple[datetime, ...] = (),
) -> Accepted | Refused:
    return check_comment(
        text, entity_types, rules, banned=banned, previous=previous, recent=recent, now=NOW
    )


def reason(verdict: Accepted | Refused) -> Refusal | None:
    return verdict.reason if isinstance(verdict, Refused) else None


def test_rules_follow_the_settings() -> None:
    outlet_only = CommentRules.from_settings(load_settings(comments_url="https://o.example/c"))
    assert outlet_only.enabled and not outlet_only.review_all and not outlet_only.has_moderators
    assert outlet_only.max_length == 2000 and outlet_only.rate == RATE
    moderated = CommentRules.from_settings(load_settings(moderation_chat_id="-100123"))
    assert moderated.enabled and moderated.review_all and moderated.has_moderators
    assert not CommentRules.from_settings(load_settings(admin_ids="42")).enabled


def test_a_plain_comment_is_queued_for_the_outlet_with_its_edges_trimmed() -> None:
    verdict = check("  \u200bGood reporting, thank you!\n ")
    assert verdict == Accepted("Good reporting, thank you!", QUEUED, None)


def test_checks_run_in_order_disabled_banned_media_empty_long() -> None:
    disabled = CommentRules(
        enabled=False, max_length=2000, rate=RATE, review_all=False, has_moderators=False
    )
    # Each refusal wins over every later one.
    assert reason(check(None, rules=disabled, banned=True)) is Refusal.DISABLED
    assert reason(check(None, banned=True)) is Refusal.BANNED
    assert reason(check(None)) is Refusal.NOT_TEXT
    for blank in ("", "   \n\t", "\u200b\u200c\u200d", "\u2060\ufeff \u200e\u200f", "\u3164"):
        assert reason(check(blank)) is Refusal.EMPTY, repr(blank)
    refused = check("x" * 5000)
    assert refused == Refused(Refusal.TOO_LONG, length=5000, limit=2000)
    assert isinstance(check("x" * 2000), Accepted)


def test_length_counts_characters_of_the_trimmed_text() -> None:
    # 2,000 Kurdish letters and emoji are 2,000 characters, whatever their byte length.
    assert isinstance(check("ک" * 1000 + "😀" * 1000 + "   "), Accepted)
    assert reason(check("😀" * 2001)) is Refusal.TOO_LONG


def test_a_repeat_differs_only_in_spacing_or_case() -> None:
    assert reason(check("Great  story!", previous="great story!\n")) is Refusal.REPEAT
    assert isinstance(check("Great story, again", previous="Great story!"), Accepted)
    assert same_comment("A\nB", "a b") and not same_comment("ab", "a b")


def test_rate_limit_names_the_window_and_the_wait() -> None:
    recent = tuple(NOW - timedelta(seconds=s) for s in (10, 20, 40))
    assert isinstance(check("a third within a minute is fine", recent=recent[:2]), Accepted)
    # A comment that left the window no longer counts.
    assert isinstance(
        check("so is one after 61 s", recent=(*recent[:2], NOW - timedelta(seconds=61))), Accepted
    )
    refused = check("a fourth is not", recent=recent)
    # The oldest of the three leaves the minute in 20 s.
    assert refused == Refused(Refusal.TOO_OFTEN, rate=RATE[0], wait=timedelta(seconds=20))
    assert comment_texts.refusal(refused, t=EN) == (
        "You are commenting too often (at most 3 comments a minute). You can comment again "
        "in 20 seconds."
    )


def test_the_daily_limit_waits_until_the_oldest_comment_of_the_day_expires() -> None:
    day = tuple(NOW - timedelta(hours=h) for h in range(1, 21))  # 20 comments, hourly
    over = rate_wait(day, RATE, NOW)
    assert over == (RATE[1], timedelta(hours=4))  # the one from 20 h ago leaves in 4 h
    refused = check("one more", recent=day)
    assert "at most 20 comments a day" in comment_texts.refusal(refused, t=EN)
    assert "again in 4 hours" in comment_texts.refusal(refused, t=EN)
    assert rate_lookback(RATE) == (timedelta(days=1), 20)
    assert rate_wait((), RATE, NOW) is None


@pytest.mark.parametrize(
    ("text", "entity_types"),
    [
        ("see https://example.com/x", ()),
        ("see http://example.com", ()),
        ("join t.me/somechannel now", ()),
        ("www.example.org is better", ()),
        ("read bit.ly/abc", ()),
        ("click here", ("text_link",)),
        ("plain words", ("url",)),
        ("tg://resolve?domain=x", ()),
    ],
)
def test_links_are_found_typed_or_hidden(text: str, entity_types: tuple[str, ...]) -> None:
    assert has_links(text, entity_types)


@pytest.mark.parametrize(
    "text", ["e.g. this is fine", "Mr.Smith said so", "3.5 percent", "@rudaw_english", "#kirkuk"]
)
def test_ordinary_text_has_no_link(text: str) -> None:
    assert not has_links(text)


def test_links_are_held_for_moderators_or_refused_without_them() -> None:
    assert check("see https://example.com") == Accepted("see https://example.com", HELD, "links")
    unmoderated = CommentRules(
        enabled=True, max_length=2000, rate=RATE, review_all=False, has_moderators=False
    )
    refused = check("see https://example.com", rules=unmoderated)
    assert reason(refused) is Refusal.LINKS
    assert "remove the link" in comment_texts.refusal(refused, t=EN)
    # The link check comes last: a long comment with a link is refused for its length.
    assert reason(check("https://example.com " + "x" * 2000)) is Refusal.TOO_LONG


def test_a_moderators_chat_reviews_every_comment() -> None:
    rules = CommentRules(
        enabled=True, max_length=2000, rate=RATE, review_all=True, has_moderators=True
    )
    assert check("fine words", rules=rules) == Accepted("fine words", HELD, "moderation")
    assert check("https://example.com", rules=rules) == Accepted(
        "https://example.com", HELD, "moderation"
    )


def test_edits_recheck_the_text_but_not_the_rate_or_repeat() -> None:
    assert check_edit("new text ", (), RELAYED_RULES, status=QUEUED, held_for=None) == (
        Accepted("new text", QUEUED, None)
    )
    assert reason(check_edit(" ", (), RELAYED_RULES, status=QUEUED, held_for=None)) == (
        Refusal.EMPTY
    )
    assert reason(check_edit(None, (), RELAYED_RULES, status=HELD, held_for="links")) == (
        Refusal.NOT_TEXT
    )
    # A link may be added only where moderators will read it before it goes out.
    linked = check_edit("https://x.com/a", ("url",), RELAYED_RULES, status=QUEUED, held_for=None)
    assert reason(linked) is Refusal.LINK_ADDED
    assert isinstance(
        check_edit("https://x.com/a", ("url",), RELAYED_RULES, status=HELD, held_for="links"),
        Accepted,
    )
    assert isinstance(
        check_edit("https://x.com/a", (), RELAYED_RULES, status=CHOOSING, held_for="links"),
        Accepted,
    )


def test_every_refusal_has_its_own_answer() -> None:
    answers = {
        comment_texts.refusal(
            Refused(r, length=5000, limit=2000, rate=RATE[0], wait=NOW - NOW), t=EN
        )
        for r in Refusal
    }
    assert len(answers) == len(Refusal)
    too_long = comment_texts.refusal(Refused(Refusal.TOO_LONG, length=5000, limit=2000), t=EN)
    assert "Your comment is 5,000 characters long; the limit is 2,000" in too_long


def test_invisible_characters_are_trimmed_but_joiners_inside_emoji_stay() -> None:
    family = "👨\u200d👩\u200d👧"
    assert clean_text(f"\u200b {family} \ufeff") == family
    assert visible_text("\u200ba\u2060b\u00a0") == "ab"


def test_names_are_cleaned_and_limited() -> None:
    assert check_name("  Shilan \n  Ahmed ") == "Shilan Ahmed"
    # Direction overrides could make a name display as another; joiners stay (ZWNJ in Persian).
    assert check_name("\u202eevil\u202c") == "evil"
    assert check_name("می\u200cخواهم") == "می\u200cخواهم"
    assert check_name("a" * 64) == "a" * 64
    assert check_name("a" * 65) == Refused(Refusal.TOO_LONG, length=65, limit=64)
    assert check_name("\u200b\u200b") == Refused(Refusal.EMPTY)
    assert check_name("visit t.me/spam") == Refused(Refusal.LINKS)


@pytest.mark.parametrize(
    "marks_only",
    ["\ufe0f\ufe0f", "\u034f", "\u17b4\u17b5", "\u064e\u0650", " \u20dd "],
)
def test_combining_marks_alone_are_blank(marks_only: str) -> None:
    assert visible_text(marks_only) == ""
    assert visible_text("a\u0301") == "a\u0301"  # on a letter they show


def test_my_comments_stays_within_one_message() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from bot.comment_texts import my_comments
    from bot.render import utf16_len
    from storage.comments import REJECTED, CommentView

    now = datetime(2026, 11, 25, tzinfo=UTC)
    comments = [
        CommentView(
            id=n,
            story_id=n,
            article_url=None,
            article_guid=None,
            article_title="کوردستان & <Kirkuk> " * 12,
            language=None,
            user_id=7,
            chat_id=7,
            message_id=n,
            answer_message_id=None,
            author_name="Reader",
            text="<&>" * 300,
            status=REJECTED,
            reason="&" * 200,
            held_for=None,
            outlet_id=None,
            outlet_status=None,
            created_at=now,
            updated_at=now,
            relayed_at=None,
        )
        for n in range(10)
    ]
    text = my_comments(comments, ZoneInfo("Asia/Baghdad"), t=EN)
    assert utf16_len(text) <= 4096
    assert text.count("❌") >= 3  # several still fit


def test_a_comments_page_says_how_many_fitted() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from bot.comment_texts import comment_list
    from bot.render import utf16_len
    from storage.comments import PUBLISHED, CommentView

    now = datetime(2026, 11, 25, tzinfo=UTC)

    def published(n: int, text: str) -> CommentView:
        return CommentView(
            id=n, story_id=1, article_url=None, article_guid=None, article_title="Erbil",
            language=None, user_id=n, chat_id=n, message_id=n, answer_message_id=None,
            author_name=f"Reader {n}", text=text, status=PUBLISHED, reason=None, held_for=None,
            outlet_id=None, outlet_status=None, created_at=now, updated_at=now, relayed_at=None,
        )  # fmt: skip

    zone = ZoneInfo("Asia/Baghdad")
    text, shown = comment_list(
        "Erbil", [published(n, "&<>" * 200) for n in range(5)], zone, offset=0, t=EN
    )
    assert 1 <= shown < 5 and text.count("Reader ") == shown
    assert utf16_len(text) <= 4096
    short, all_five = comment_list(
        "Erbil", [published(n, "Fine") for n in range(5)], zone, offset=0, t=EN
    )
    assert all_five == 5 and short.count("Reader ") == 5


# --- languages (issue 7) ---------------------------------------------------------------------


def _held(comment_id: int) -> CommentView:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    return CommentView(
        id=comment_id, story_id=1, article_url=None, article_guid=None, article_title="Erbil",
        language=None, user_id=7, chat_id=7, message_id=1, answer_message_id=None,
        author_name="Reader", text="Fine", status=HELD, reason=None, held_for="links",
        outlet_id=None, outlet_status=None, created_at=now, updated_at=now, relayed_at=None,
    )  # fmt: skip


def test_refusals_count_with_plurals_and_the_locales_digits() -> None:
    one = comment_texts.refusal(Refused(Refusal.TOO_LONG, length=1, limit=0), t=EN)
    assert one.startswith("Your comment is 1 character long; the limit is 0.")
    hourly = Refused(Refusal.TOO_OFTEN, rate=RateLimit(1, 3600.0), wait=timedelta(seconds=61))
    assert comment_texts.refusal(hourly, t=EN) == (
        "You are commenting too often (at most 1 comment an hour). You can comment again in "
        "2 minutes."
    )
    odd = Refused(Refusal.TOO_OFTEN, rate=RateLimit(5, 7200.0), wait=timedelta(hours=1))
    assert "(at most 5 comments in 2 hours)" in comment_texts.refusal(odd, t=EN)
    # Sorani: the locale's own digits, isolated so they keep their place in the sentence.
    long = Refused(Refusal.TOO_LONG, length=5000, limit=2000)
    assert "\u2068٥٬٠٠٠\u2069" in comment_texts.refusal(long, t=texts("ckb"))


def test_relay_reasons_are_codes_worded_when_shown_and_old_words_still_show() -> None:
    from bot.comment_texts import relay_reason
    from news.outlet_answers import REASON_REFUSED, parse_reason, reason_code

    code = reason_code(REASON_REFUSED, status=418)
    assert code == "relay:refused?status=418"
    assert parse_reason(code) == ("refused", {"status": 418})
    assert relay_reason(code, t=EN) == "The news site refused this comment (HTTP 418)."
    assert relay_reason("relay:unreachable?minutes=1440", t=EN) == (
        "The news site could not be reached for 24 hours."
    )
    assert relay_reason("relay:unreachable?minutes=90", t=EN).endswith("for 90 minutes.")
    # Stored before codes existed, or the outlet's own words: shown as they are, escaped.
    old = "The news site could not be reached for 1.5 hours."
    assert relay_reason(old, t=EN) == old
    assert relay_reason("Off <topic> & rude", t=EN) == "Off &lt;topic&gt; &amp; rude"
    assert parse_reason("relay:refused?status=x") is None
    assert relay_reason("relay:no-such-code", t=EN) == "relay:no-such-code"


def test_a_card_names_its_comment_in_any_language() -> None:
    card = comment_texts.moderation_card(_held(42), t=EN)
    assert card.startswith("<b>🛡 Comment #42 to review</b>\n")
    assert "<b>Held because</b> it contains a link" in card
    assert comment_texts.card_comment_id("🛡 Comment #42 to review\nStory: Erbil") == 42
    # A translated title keeps the id in ASCII digits, wherever the words put it.
    assert comment_texts.card_comment_id("🛡 بۆچوونی \u2068#42\u2069 بۆ پێداچوونەوە\nx 7") == 42
    assert comment_texts.card_comment_id("Comment #42 to review") is None
    ckb = comment_texts.moderation_card(_held(42), t=texts("ckb"))
    assert comment_texts.card_comment_id(ckb.replace("<b>", "").replace("</b>", "")) == 42
