"""What the outlet's answer to a comment webhook means (news.outlet_answers): pure, with no
HTTP client, no database and no clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.comment_texts import relay_reason
from bot.i18n import texts
from news.admin_alerts import RELAY_BAD_SECRET, RELAY_MOVED, RELAY_NO_ENDPOINT, RELAY_PAUSED
from news.outlet_answers import (
    CREATED_EVENT,
    REASON_REFUSED,
    Outcome,
    classify_answer,
    json_object,
    outlet_reason,
    parse_reason,
    pause_alert,
    reason_code,
)
from storage.comments import CREATED

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event_type", "status", "kind"),
    [
        ("comment.created", 201, "delivered"),
        ("comment.created", 404, "pause"),
        ("comment.created", 401, "pause"),
        ("comment.created", 301, "pause"),
        ("comment.created", 408, "retry"),
        ("comment.created", 409, "retry"),
        ("comment.created", 429, "retry"),
        ("comment.created", 502, "retry"),
        ("comment.created", 405, "rejected"),
        ("comment.deleted", 404, "delivered"),
        ("comment.deleted", 410, "delivered"),
        ("comment.deleted", 401, "pause"),
    ],
)
def test_what_each_answer_means(event_type: str, status: int, kind: str) -> None:
    assert classify_answer(event_type, status, b"", {}, NOW).kind == kind


@pytest.mark.parametrize(
    ("status", "body", "published", "outlet_id"),
    [
        (201, b'{"id": 42, "status": "approved"}', True, "42"),
        (201, b'{"id": "c1", "status": "pending"}', False, "c1"),
        (200, b"", True, None),
        (202, b'{"id": "c7"}', False, "c7"),
        (202, b'{"id": "c8", "status": "approved"}', True, "c8"),
    ],
)
def test_2xx_bodies(status: int, body: bytes, published: bool, outlet_id: str | None) -> None:
    outcome = classify_answer("comment.created", status, body, {}, NOW)
    assert (outcome.kind, outcome.published, outcome.outlet_id) == (
        "delivered",
        published,
        outlet_id,
    )


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (403, b'{"error": {"message": "Author  blocked\\n"}}', "Author blocked"),
        (
            403,
            b"",
            "The news site does not accept this comment (comments may be closed on the article).",
        ),
        (400, b"not json", "The news site could not read this comment."),
        (422, b'{"message": "Too\\u0007 rude"}', "Too rude"),
        (451, b'{"detail": "' + b"x" * 500 + b'"}', "x" * 199 + "…"),
        (418, b"[]", "The news site refused this comment (HTTP 418)."),
    ],
)
def test_rejection_reasons_are_short_plain_words(status: int, body: bytes, reason: str) -> None:
    outcome = classify_answer("comment.created", status, body, {}, NOW)
    # Our own reasons are stored as codes and worded in the reader's language when shown.
    assert outcome.kind == "rejected"
    assert relay_reason(outcome.reason, t=texts("en")) == reason.replace("&", "&amp;")


def test_retry_after_is_read_whatever_the_case_of_its_name() -> None:
    for name in ("Retry-After", "retry-after", "RETRY-AFTER"):
        outcome = classify_answer("comment.created", 503, b"", {name: "120"}, NOW)
        assert (outcome.kind, outcome.retry_after) == ("retry", 120.0)
    assert classify_answer("comment.created", 503, b"", {}, NOW).retry_after is None


def test_only_an_answer_to_the_comment_says_the_endpoint_works() -> None:
    assert classify_answer("comment.created", 201, b"", {}, NOW).endpoint_works
    assert classify_answer("comment.created", 422, b"", {}, NOW).endpoint_works
    assert not classify_answer("comment.deleted", 404, b"", {}, NOW).endpoint_works
    assert not Outcome("retry", 503).endpoint_works
    assert not Outcome("pause", 401).endpoint_works


def test_the_event_a_new_comment_is_sent_as_is_storages() -> None:
    assert CREATED_EVENT == CREATED


def test_reason_codes_round_trip_and_words_are_not_codes() -> None:
    code = reason_code(REASON_REFUSED, status=418)
    assert code == "relay:refused?status=418"
    assert parse_reason(code) == ("refused", {"status": 418})
    assert reason_code("unreachable", minutes=90, tries=3) == (
        "relay:unreachable?minutes=90&tries=3"
    )
    assert parse_reason("relay:too_long") == ("too_long", {})
    assert parse_reason("relay:refused?status=x") is None
    assert parse_reason("relay:no-such-code") is None
    assert parse_reason("The outlet's own words") is None
    assert parse_reason(None) is None


def test_the_outlets_own_reason_is_one_short_line_from_a_json_object() -> None:
    assert json_object(b'{"a": 1}') == {"a": 1}
    assert json_object(b"[1]") == json_object(b"not json") == json_object(b"\xff") == {}
    assert outlet_reason({"error": {"reason": "Closed"}}) == "Closed"
    assert outlet_reason({"reason": "  ", "message": "Off\ntopic"}) == "Off topic"
    assert outlet_reason({"status": "rejected"}) is None


@pytest.mark.parametrize(
    ("status", "cause"),
    [
        (401, RELAY_BAD_SECRET),
        (301, RELAY_MOVED),
        (404, RELAY_NO_ENDPOINT),
        (None, RELAY_NO_ENDPOINT),
    ],
)
def test_a_pause_alert_says_what_to_mend(status: int | None, cause: str) -> None:
    alert = pause_alert(status)
    assert alert.code == RELAY_PAUSED
    assert alert.params == ({"cause": cause} | ({"status": status} if status else {}))
