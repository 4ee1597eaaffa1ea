"""The flood rules (bot.flood), without Telegram or a clock: which requests a chat gets
answered, and when the next message to a chat may leave."""

from __future__ import annotations

import pytest

from bot.flood import REPEATS_ALLOWED, WINDOW, ChatPace, FloodGate, Verdict

READER, GROUP = 42, -100123


def test_a_double_tap_is_answered_once() -> None:
    gate = FloodGate()
    assert gate.admit(READER, "/latest ", 0.0) is Verdict.ANSWER
    assert gate.admit(READER, "/latest ", 0.3) is Verdict.DUPLICATE  # a double tap
    gate.done(READER, "/latest ")
    assert gate.admit(READER, "/latest ", 0.9) is Verdict.DUPLICATE  # within a second
    # A reader who read the answer may want it afresh: two seconds later it is answered.
    assert gate.admit(READER, "/latest ", 2.0) is Verdict.ANSWER
    gate.done(READER, "/latest ")
    assert gate.admit(READER, "/latest ", 5.0) is Verdict.ANSWER
    gate.done(READER, "/latest ")
    # Something else between two identical requests: the second is a new question.
    assert gate.admit(READER, "/follow kirkuk", 5.5) is Verdict.ANSWER
    gate.done(READER, "/follow kirkuk")
    assert gate.admit(READER, "/latest ", 6.0) is Verdict.ANSWER


def test_two_hundred_identical_commands_are_one_answer_and_one_warning() -> None:
    gate = FloodGate()
    verdicts = [gate.admit(READER, "/latest ", i * 0.01) for i in range(200)]
    assert verdicts[0] is Verdict.ANSWER
    assert verdicts.count(Verdict.ANSWER) == 1
    assert verdicts.count(Verdict.WARN) == 1
    # The warning comes once the chat has asked more than it could be answered.
    first_warning = verdicts.index(Verdict.WARN)
    assert first_warning == int(WINDOW) + REPEATS_ALLOWED
    assert set(verdicts[first_warning + 1 :]) == {Verdict.DROP}


def test_distinct_commands_are_answered_at_the_chats_pace_then_the_flood_is_dropped() -> None:
    gate = FloodGate(private=(1, 1.0), group=(20, 60.0))
    verdicts = []
    for i in range(1000):
        verdict = gate.admit(READER, f"/follow word{i}", i * 0.001)
        if verdict is Verdict.ANSWER:
            gate.done(READER, f"/follow word{i}")
        verdicts.append(verdict)
    assert verdicts.count(Verdict.ANSWER) == int(WINDOW)  # ten answers in ten seconds at 1/s
    assert verdicts.count(Verdict.WARN) == 1
    # A group, metered at 20 a minute, gets fewer.
    group = [gate.admit(GROUP, f"/latest {i}", 0.0) for i in range(10)]
    assert group.count(Verdict.ANSWER) == 3


def test_too_many_answers_under_way_is_a_flood() -> None:
    gate = FloodGate(private=(1000, 1.0))
    assert [gate.admit(READER, f"/search w{i}", 0.0) for i in range(4)] == [
        Verdict.ANSWER,
        Verdict.ANSWER,
        Verdict.ANSWER,
        Verdict.WARN,
    ]


def test_a_flood_ends_after_a_quiet_window_and_is_told_again_next_time() -> None:
    gate = FloodGate()
    for i in range(30):
        gate.admit(READER, "/latest ", i * 0.1)
    # Still sending: the flood goes on, silently.
    assert gate.admit(READER, "/help ", 5.0) is Verdict.DROP
    # A whole quiet window later the reader is answered again.
    assert gate.admit(READER, "/help ", 5.0 + WINDOW + 0.1) is Verdict.ANSWER
    gate.done(READER, "/help ")
    for i in range(30):
        gate.admit(READER, "/latest ", 20.0 + i * 0.1)
    verdicts = [gate.admit(READER, "/latest ", 24.0)]
    assert verdicts == [Verdict.DROP]


def test_other_chats_are_not_affected_and_idle_chats_are_forgotten() -> None:
    gate = FloodGate()
    for i in range(100):
        gate.admit(READER, "/latest ", i * 0.01)
    gate.done(READER, "/latest ")
    assert gate.admit(READER + 1, "/latest ", 1.0) is Verdict.ANSWER
    gate.done(READER + 1, "/latest ")
    assert len(gate) == 2
    gate.forget_idle(100.0)
    assert len(gate) == 0


@pytest.mark.parametrize(("chat", "spacing"), [(READER, 1.0), (GROUP, 3.0)])
def test_pace_spaces_new_messages_by_the_chats_limit(chat: int, spacing: float) -> None:
    pace = ChatPace(private=(1, 1.0), group=(20, 60.0))
    now = 0.0
    for _ in range(20 if chat < 0 else 1):
        assert pace.delay(chat, now) == 0
        pace.sent(chat, now)
    assert pace.delay(chat, now) == pytest.approx(60.0 if chat < 0 else spacing)
    # Edits are not new messages: Telegram meters them per bot, not per chat.
    assert pace.delay(chat, now, new_message=False) == 0


def test_retry_after_holds_every_message_to_the_chat_and_only_that_chat() -> None:
    pace = ChatPace(private=(1000, 1.0), group=(1000, 1.0))
    pace.block(READER, 7.0, now=10.0)
    assert pace.delay(READER, 10.0) == pytest.approx(7.0)
    assert pace.delay(READER, 12.0, new_message=False) == pytest.approx(5.0)
    assert pace.delay(READER, 17.0) == 0
    assert pace.delay(READER + 1, 10.0) == 0
    # A shorter wait named later never cuts a longer one short.
    pace.block(READER, 1.0, now=11.0)
    assert pace.delay(READER, 11.0) == pytest.approx(6.0)
    pace.forget_idle(30.0)
    assert pace.delay(READER, 30.0) == 0
