"""Push retries: the back-off a failed send waits."""

from __future__ import annotations

import random

import pytest

from news.retry_timing import MAX_SEND_ATTEMPTS, backoff

# --- send retries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 1.0), (2, 2.0), (3, 4.0), (8, 128.0), (9, 256.0), (10, 300.0), (10_000, 300.0)],
)
def test_send_retry_delay_doubles_up_to_the_cap(attempt: int, expected: float) -> None:
    assert backoff(attempt, first=1.0, cap=300.0) == expected


def test_send_retry_delay_jitter_shortens_by_up_to_half() -> None:
    assert backoff(3, first=1.0, cap=300.0, spread=(1.0, 0.5), draw=1.0) == 2.0
    assert backoff(3, first=1.0, cap=300.0, spread=(1.0, 0.5), draw=0.5) == 3.0
    assert backoff(20, first=0.5, cap=10.0, spread=(1.0, 0.5), draw=1.0) == 5.0
    rng = random.Random(7)
    for attempt in range(1, MAX_SEND_ATTEMPTS):
        full = backoff(attempt, first=1.0, cap=300.0)
        assert (
            full / 2
            <= backoff(attempt, first=1.0, cap=300.0, spread=(1.0, 0.5), draw=rng.random())
            <= full
        )


def test_backoff_rejects_a_draw_outside_zero_to_one() -> None:
    assert backoff(0, first=1.0, cap=300.0) == 1.0  # no failure yet: the first wait
    with pytest.raises(ValueError, match="draw"):
        backoff(1, first=1.0, cap=300.0, draw=1.5)
    with pytest.raises(ValueError, match="draw"):
        backoff(1, first=1.0, cap=300.0, draw=-0.1)


def test_max_send_attempts() -> None:
    assert MAX_SEND_ATTEMPTS == 8
