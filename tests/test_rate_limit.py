"""The send pacers on virtual time: an event loop whose clock jumps to its next timer."""

from __future__ import annotations

import asyncio
import itertools
import random
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from news.send_rate import PerChatLimiter, SlidingWindowLimiter

T = TypeVar("T")
MARGIN = 0.01
EPS = 1e-6


class _JumpingSelector(selectors.SelectSelector):
    """A selector that, instead of blocking until the next timer, moves the clock to it."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise AssertionError("every task waits and no timer is due: a deadlock")
        self.now += timeout
        return super().select(0)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """asyncio with virtual time: ``asyncio.sleep(3600)`` returns at once, ``time()`` says 3600."""

    def __init__(self) -> None:
        self._jumping = _JumpingSelector()
        super().__init__(self._jumping)

    def time(self) -> float:
        return self._jumping.now


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` to completion on a fresh virtual-time loop."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main())
    finally:
        # A failed run leaves tasks behind: end them here rather than in the garbage collector.
        leftovers = asyncio.all_tasks(loop)
        for task in leftovers:
            task.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.wait(leftovers))
        loop.close()


def now() -> float:
    return asyncio.get_running_loop().time()


def limiter(rate: int, window: float = 1.0, burst: int | None = None) -> SlidingWindowLimiter:
    """A limiter on the virtual loop's clock, sleeping with (virtual) asyncio.sleep.

    By default bursts are allowed up to the whole window, so these tests exercise the window
    rule alone; the even spacing has its own test.
    """
    return SlidingWindowLimiter(
        rate,
        window,
        margin=MARGIN,
        burst=rate if burst is None else burst,
        clock=now,
        sleep=asyncio.sleep,
    )


async def arrive_and_acquire(
    pacer: SlidingWindowLimiter, at: float, grants: list[tuple[float, Any]], tag: Any = None
) -> None:
    """A sender that shows up at virtual time ``at`` and notes when it was let through."""
    await asyncio.sleep(at - now())
    await pacer.acquire()
    grants.append((now(), tag))


def max_in_any_window(times: list[float], window: float) -> int:
    """The most events any closed interval of length ``window`` holds."""
    times = sorted(times)
    most, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] > window:
            first += 1
        most = max(most, last - first + 1)
    return most


# --- SlidingWindowLimiter ------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "count"), [(30, 3000), (1000, 6000)])
def test_no_window_holds_more_than_rate_and_nobody_waits_needlessly(rate: int, count: int) -> None:
    rng = random.Random(rate)
    # Bursts well above the rate, lulls well below it, and single stragglers in between.
    arrivals: list[float] = []
    t = 0.0
    while len(arrivals) < count:
        burst = rng.choice([1, 1, 5, rate // 2, rate * 3])
        arrivals += sorted(t + rng.uniform(0, 0.5) for _ in range(burst))
        t = arrivals[-1] + rng.expovariate(2.0)
    arrivals = arrivals[:count]

    async def main() -> list[tuple[float, Any]]:
        pacer = limiter(rate)
        grants: list[tuple[float, Any]] = []
        await asyncio.gather(*(arrive_and_acquire(pacer, a, grants, a) for a in arrivals))
        return grants

    grants = run_virtual(main)
    times = [g for g, _ in grants]
    assert len(times) == count
    assert max_in_any_window(times, 1.0) == rate  # full windows, never one more
    # With the margin, even windows stretched by 10 ms of jitter hold no more than `rate`.
    assert max_in_any_window(times, 1.0 + MARGIN - EPS) <= rate
    # Served in order of arrival, each as early as the window allows: a work-conserving FIFO.
    assert [tag for _, tag in grants] == sorted(arrivals)
    for k, (granted, arrived) in enumerate(grants):
        earliest = max(arrived, grants[k - 1][0] if k else 0.0)
        if k >= rate:
            earliest = max(earliest, grants[k - rate][0] + 1.0 + MARGIN)
        assert granted == pytest.approx(earliest, abs=EPS), k


@pytest.mark.parametrize("rate", [25, 30, 1000])
def test_a_backlog_is_sent_at_95_percent_of_the_rate_or_better(rate: int) -> None:
    count = rate * 20

    async def main() -> list[float]:
        pacer = limiter(rate)
        grants: list[tuple[float, Any]] = []
        await asyncio.gather(*(arrive_and_acquire(pacer, 0.0, grants) for _ in range(count)))
        return [g for g, _ in grants]

    times = run_virtual(main)
    # The first window's `rate` go at once; after that the pace is rate / (1 s + margin).
    sustained = (count - rate) / (times[-1] - times[rate - 1])
    assert sustained >= 0.95 * rate
    assert sustained <= rate
    assert max_in_any_window(times, 1.0) == rate


def test_waiters_are_served_first_come_first_served() -> None:
    async def main() -> list[tuple[float, Any]]:
        pacer = limiter(2)
        grants: list[tuple[float, Any]] = []
        first = [asyncio.create_task(arrive_and_acquire(pacer, 0.0, grants, n)) for n in range(6)]
        # A latecomer arrives while four wait: it must not overtake them.
        late = asyncio.create_task(arrive_and_acquire(pacer, 0.5, grants, "late"))
        await asyncio.gather(*first, late)
        return grants

    grants = run_virtual(main)
    assert [tag for _, tag in grants] == [0, 1, 2, 3, 4, 5, "late"]
    assert [round(g, 6) for g, _ in grants] == [0, 0, 1.01, 1.01, 2.02, 2.02, 3.03]


def test_pause_holds_every_acquisition_until_its_deadline() -> None:
    async def main() -> tuple[list[tuple[float, Any]], list[float | None]]:
        pacer = limiter(1)
        grants: list[tuple[float, Any]] = []
        await pacer.acquire()  # t=0; the next one would be allowed at 1.01
        waiting = asyncio.create_task(arrive_and_acquire(pacer, 0.0, grants, "waiting"))
        late = asyncio.create_task(arrive_and_acquire(pacer, 2.0, grants, "late"))
        await asyncio.sleep(0.5)
        pacer.pause(3)  # a 429 with retry_after=3 at t=0.5, from any chat
        pacer.pause_until(1.0)  # an earlier deadline never shortens the pause
        paused = [pacer.paused_until]
        await asyncio.gather(waiting, late)
        paused.append(pacer.paused_until)
        return grants, paused

    grants, paused = run_virtual(main)
    # The sender that was already waiting for the window waits for the pause too.
    assert grants == [(pytest.approx(3.5), "waiting"), (pytest.approx(4.51), "late")]
    assert paused == [pytest.approx(3.5), None]


def test_pause_with_room_in_the_window_still_holds_everyone() -> None:
    recorded: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        recorded.append(seconds)
        await asyncio.sleep(seconds)

    async def main() -> list[tuple[float, Any]]:
        pacer = SlidingWindowLimiter(100, burst=100, clock=now, sleep=recording_sleep)
        grants: list[tuple[float, Any]] = []
        pacer.pause(2)
        await asyncio.gather(*(arrive_and_acquire(pacer, t, grants) for t in (0.0, 0.5, 1.9)))
        await arrive_and_acquire(pacer, 2.5, grants)
        return grants

    grants = run_virtual(main)
    assert [round(g, 6) for g, _ in grants] == [2.0, 2.0, 2.0, 2.5]
    assert recorded == [pytest.approx(2.0)]  # one sleeper; the others queue behind it


def test_a_cancelled_waiter_gives_up_its_turn() -> None:
    async def main() -> tuple[list[tuple[float, Any]], int]:
        pacer = limiter(1)
        grants: list[tuple[float, Any]] = []
        await pacer.acquire()
        gives_up = asyncio.create_task(arrive_and_acquire(pacer, 0.0, grants, "gives up"))
        patient = asyncio.create_task(arrive_and_acquire(pacer, 0.0, grants, "patient"))
        await asyncio.sleep(0.5)
        gives_up.cancel()
        await patient
        return grants, pacer.current_rate()

    grants, rate_now = run_virtual(main)
    assert grants == [(pytest.approx(1.01), "patient")]
    assert rate_now == 1  # the t=0 grant left the window; only the patient one counts


def test_current_rate_counts_grants_in_the_last_window() -> None:
    async def main() -> list[int]:
        pacer = limiter(50)
        seen = [pacer.current_rate()]
        for _ in range(5):
            await pacer.acquire()
        await asyncio.sleep(0.5)
        for _ in range(3):
            await pacer.acquire()
        seen.append(pacer.current_rate())  # t=0.5
        await asyncio.sleep(0.7)
        seen.append(pacer.current_rate())  # t=1.2: the five from t=0 have left
        await asyncio.sleep(1)
        seen.append(pacer.current_rate())
        return seen

    assert run_virtual(main) == [0, 8, 3, 0]


@pytest.mark.parametrize(
    "make",
    [
        lambda: SlidingWindowLimiter(0),
        lambda: SlidingWindowLimiter(30, 0),
        lambda: SlidingWindowLimiter(30, margin=-1),
        lambda: PerChatLimiter(group_limit=0),
    ],
)
def test_nonsense_limits_are_refused(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        make()


# --- PerChatLimiter ------------------------------------------------------------------------

USER, OTHER_USER, GROUP = 7_100_000_001, 7_100_000_002, -1_002_100_000_001


def test_a_private_chat_takes_one_message_a_second() -> None:
    chats = PerChatLimiter()
    assert chats.ready_at(USER, False, 10.0) == 10.0
    chats.record(USER, False, 10.0)
    assert chats.ready_at(USER, False, 10.5) == pytest.approx(11.01)
    assert chats.ready_at(USER, False, 12.0) == 12.0
    assert chats.ready_at(OTHER_USER, False, 10.5) == 10.5  # chats are independent


def test_a_group_takes_twenty_messages_a_rolling_minute() -> None:
    chats = PerChatLimiter()
    for second in range(20):
        assert chats.ready_at(GROUP, True, float(second)) == float(second)
        chats.record(GROUP, True, float(second))
    # The 21st waits for the first to leave the minute, not for a fixed minute boundary.
    assert chats.ready_at(GROUP, True, 20.0) == pytest.approx(60.01)
    chats.record(GROUP, True, 60.01)
    assert chats.ready_at(GROUP, True, 60.01) == pytest.approx(61.01)
    assert chats.ready_at(USER, False, 20.0) == 20.0


def test_sending_whenever_ready_never_breaks_a_per_chat_limit() -> None:
    chats = PerChatLimiter()
    rng = random.Random(4)
    sends: dict[int, list[float]] = {USER: [], GROUP: []}
    t = 0.0
    while t < 300:
        t += rng.expovariate(5.0)  # a story every 0.2 s on average, for both chats
        for chat_id, is_group in ((USER, False), (GROUP, True)):
            at = chats.ready_at(chat_id, is_group, t)
            if at == t:
                chats.record(chat_id, is_group, t)
                sends[chat_id].append(t)
    assert max_in_any_window(sends[USER], 1.0 + MARGIN - EPS) == 1
    assert max_in_any_window(sends[GROUP], 60.0 + MARGIN - EPS) == 20
    assert len(sends[USER]) > 200  # and it did send, about once a second


def test_memory_follows_the_send_rate_not_the_audience() -> None:
    chats = PerChatLimiter()
    largest = 0
    # 100,000 private chats at 1,000/s and 20,000 groups at 100/s, each sent to once.
    for n in range(100_000):
        t = n / 1000
        chats.record(7_000_000_000 + n, False, t)
        if n % 10 == 0 and n // 10 < 20_000:
            chats.record(-1_000_000_000 - n, True, t)
        largest = max(largest, len(chats))
    # About one second of private chats plus one minute of groups.
    assert largest <= 1000 * 1.01 + 100 * 60.01 + 2
    # Forgetting idle chats never forgets a limit still in force.
    chats.record(GROUP, True, 100.0)
    for second in range(19):
        chats.record(GROUP, True, 101.0 + second)
    for n in range(5000):
        chats.record(8_000_000_000 + n, False, 110.0 + n / 100)
        chats.record(-2_000_000_000 - n, True, 110.0 + n / 100)
    assert chats.ready_at(GROUP, True, 150.0) == pytest.approx(160.01)


def test_virtual_time_detects_a_deadlock() -> None:
    async def main() -> None:
        await asyncio.Event().wait()

    # The helper itself: a test that would hang fails at once instead.
    with pytest.raises(AssertionError, match="deadlock"):
        run_virtual(main)


def test_grants_are_spread_evenly_by_default() -> None:
    # Bursts are legal for Telegram, but every message sent and not yet recorded is one a
    # crash would repeat: by default grants come one every window/rate.
    async def main() -> list[float]:
        pacer = SlidingWindowLimiter(30, margin=MARGIN, clock=now, sleep=asyncio.sleep)
        grants: list[tuple[float, Any]] = []
        await asyncio.gather(*(arrive_and_acquire(pacer, 0.0, grants) for _ in range(10)))
        return [g for g, _ in grants]

    times = run_virtual(main)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 10
    assert min(gaps) >= 1 / 30 - 1e-9
    assert times[-1] == pytest.approx(9 / 30)


# --- slot(): a send counts until its answer is back -----------------------------------------

ONE_WAY = 0.0002  # loopback, each way


async def hold_slot(
    pacer: SlidingWindowLimiter, at: float, answer_after: float, grants: list[tuple[float, Any]]
) -> None:
    """A sender that shows up at ``at`` and gets its answer ``answer_after`` after its grant."""
    await asyncio.sleep(at - now())
    async with pacer.slot():
        grants.append((now(), answer_after))
        await asyncio.sleep(answer_after)


def test_a_slot_counts_until_its_answer_comes_back() -> None:
    async def main() -> list[tuple[float, Any]]:
        pacer = limiter(2)
        grants: list[tuple[float, Any]] = []
        await asyncio.gather(
            hold_slot(pacer, 0.0, 3.0, grants),
            hold_slot(pacer, 0.0, 3.0, grants),
            hold_slot(pacer, 0.1, 0.001, grants),
        )
        return grants

    # Both places are held by requests still in flight: Telegram may count them as late as their
    # answers (t=3), so the third waits for those and then a whole window.
    assert run_virtual(main) == [(0.0, 3.0), (0.0, 3.0), (pytest.approx(4.0), 0.001)]


def test_a_slot_left_by_an_error_counts_until_then() -> None:
    async def main() -> list[tuple[float, Any]]:
        pacer = limiter(1)
        grants: list[tuple[float, Any]] = []

        async def fails() -> None:
            async with pacer.slot():
                await asyncio.sleep(0.5)
                raise ConnectionResetError

        with pytest.raises(ConnectionResetError):
            await fails()
        await arrive_and_acquire(pacer, 0.6, grants, "next")
        return grants

    assert run_virtual(main) == [(pytest.approx(1.5), "next")]


class StallingServer:
    """Counts each request when it handles it, like the fake Bot API; stalls now and then.

    A request that arrives during a stall (the fake's garbage collection, a busy Telegram
    front end) is handled, and counted, when the stall ends.
    """

    def __init__(self, stalls: list[tuple[float, float]]) -> None:
        self.stalls = stalls
        self.counted: list[float] = []

    async def request(self) -> None:
        await asyncio.sleep(ONE_WAY)
        arrived = now()
        for start, end in self.stalls:
            if start <= arrived < end:
                await asyncio.sleep(end - arrived)
                break
        self.counted.append(now())
        await asyncio.sleep(ONE_WAY)


def broadcast_through_stalls(use_slot: bool) -> list[float]:
    """5,000 sends at 1,000/s by 40 workers; the server stalls for 30 ms six times."""

    async def main() -> list[float]:
        server = StallingServer([(t, t + 0.03) for t in (0.37, 1.21, 2.05, 2.9, 3.6, 4.4)])
        pacer = SlidingWindowLimiter(1000, margin=MARGIN, clock=now, sleep=asyncio.sleep)
        todo = iter(range(5000))

        async def worker() -> None:
            for _ in todo:
                if use_slot:
                    async with pacer.slot():
                        await server.request()
                else:
                    await pacer.acquire()
                    await server.request()

        await asyncio.gather(*(worker() for _ in range(40)))
        return server.counted

    return run_virtual(main)


def test_slots_keep_the_servers_count_within_the_rate_through_stalls() -> None:
    counted = broadcast_through_stalls(use_slot=True)
    assert len(counted) == 5000
    assert max_in_any_window(counted, 1.0) <= 1000
    sustained = (5000 - 1000) / (counted[-1] - counted[999])
    assert sustained >= 0.95 * 1000


def test_a_margin_alone_is_beaten_by_a_stall_longer_than_it() -> None:
    # Why slot() exists: the requests held up by a 30 ms stall are counted together with those
    # sent a window after them, and a 10 ms margin cannot absorb that.
    counted = broadcast_through_stalls(use_slot=False)
    assert max_in_any_window(counted, 1.0) > 1000
