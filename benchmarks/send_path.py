"""Send path: the lean Bot API client against PTB's ``Bot.send_message``, on the fake Bot API.

Smoke run (CI; about 10 s)::

    python benchmarks/send_path.py --messages 300

Full run (about 40 s on a 2-core machine)::

    python benchmarks/send_path.py --messages 3000 --concurrency 40

The fake Bot API (``tests.fake_bot_api``) runs in a separate process, so this process's CPU
time (``time.process_time``) is the client's own cost. Each scenario gets a fresh fake:

* no limit: how many sendMessage calls per second each client reaches and its CPU seconds per
  1,000 messages. The lean client encodes each body as it goes, as the sender does. PTB runs
  with ``--concurrency`` requests in flight and with ``--ptb-concurrency`` (its best here:
  httpx's pool costs more per request the more requests wait on it);
* paid broadcast: a ``SlidingWindowLimiter(1000)`` paces each client against a fake allowing
  30/s, plus 1,000/s with ``allow_paid_broadcast``. The lean client is paced once with
  ``slot()`` (a send counts until its answer) and once with ``acquire()`` (until its grant
  plus 10 ms): the fake's garbage-collection stalls squeeze the latter's sends into too few
  windows now and then, and each 429 costs a second of pause;
* 30/s: the lean client paced by ``SlidingWindowLimiter(30)`` against a fake enforcing exactly
  30/s, the ordinary limit: the achieved rate ÷ 30 and the 429s (there must be none).

Every 429 pauses the limiter for its retry_after and the message is retried. It prints figures
and never fails on them; "fake CPU" tells whether the fake server was the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from jobs.clients.telegram import BotApiClient, SendKind, encode_send_message
from news.send_rate import SlidingWindowLimiter

STORY_URL = "https://www.rudaw.net/english/middleeast/iraq/250520261"
# A realistic push: a marker, a bold title, a two-line summary, a link and two buttons.
PUSH_TEXT = (
    "🔴 <b>Iraq and Kurdistan Region agree to resume oil exports through Ceyhan</b>\n\n"
    "ERBIL, Kurdistan Region - Baghdad and Erbil reached a deal on Tuesday to restart exports "
    "halted for more than two years, officials from both governments said after talks.\n\n"
    f'<a href="{STORY_URL}">Read on Rudaw</a>'
)
PUSH_MARKUP: dict[str, Any] = {
    "inline_keyboard": [
        [{"text": "Read on Rudaw", "url": STORY_URL}],
        [{"text": "💬 Comment", "callback_data": "c:250520261"}],
    ]
}
SendOne = Callable[[int], Awaitable[float | None]]  # chat id -> None, or a 429's retry_after


# --- the fake Bot API in its own process --------------------------------------------------


def _serve_fake(conn: Connection, global_rate: float | None, paid_rate: float, users: int) -> None:
    """Child process: run a FakeBotApi until told to stop; answer "stats" requests."""
    asyncio.run(_serve_fake_async(conn, global_rate, paid_rate, users))


async def _serve_fake_async(
    conn: Connection, global_rate: float | None, paid_rate: float, users: int
) -> None:
    from tests.fake_bot_api import FakeBotApi  # the child needs it; the parent never does

    async with FakeBotApi(global_rate=global_rate, paid_rate=paid_rate) as api:
        chat_ids = [api.add_user(f"Reader {n}").id for n in range(users)]
        conn.send((api.url, api.token, chat_ids))
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, conn.recv) == "stats":
            conn.send(
                {
                    "sent": api.stats.sent,
                    "rate_limited": api.stats.rate_limited,
                    "peak_per_second": api.stats.peak_sends_per_second,
                    "cpu": time.process_time(),
                }
            )


class FakeServerProcess:
    """A FakeBotApi in a spawned process, with ``users`` private chats ready to receive."""

    def __init__(self, *, global_rate: float | None, paid_rate: float, users: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve_fake, args=(child, global_rate, paid_rate, users), daemon=True
        )
        self.url = self.token = ""
        self.chat_ids: list[int] = []

    async def __aenter__(self) -> FakeServerProcess:
        self._process.start()
        self.url, self.token, self.chat_ids = await asyncio.to_thread(self._conn.recv)
        return self

    async def stats(self) -> dict[str, Any]:
        """The fake's counters and its process's CPU seconds so far."""
        self._conn.send("stats")
        stats: dict[str, Any] = await asyncio.to_thread(self._conn.recv)
        return stats

    async def __aexit__(self, *exc_info: object) -> None:
        self._conn.send("stop")
        await asyncio.to_thread(self._process.join, 10)
        if self._process.is_alive():
            self._process.kill()


# --- the two clients ----------------------------------------------------------------------


@dataclass
class Outcome:
    """One scenario's figures."""

    name: str
    rate: int | None
    concurrency: int
    sent: int = 0
    retries_429: int = 0
    errors: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    fake_cpu: float = 0.0
    fake_429: int = 0
    fake_peak: int = 0
    done_at: list[float] = field(default_factory=list)


async def drive(
    send_one: SendOne,
    chat_ids: Sequence[int],
    messages: int,
    concurrency: int,
    limiter: SlidingWindowLimiter | None,
    outcome: Outcome,
    *,
    slot: bool = True,
) -> None:
    """``concurrency`` workers send ``messages`` messages round-robin over the chats.

    Paced sends go through ``limiter.slot()`` (counted until answered) or, with ``slot=False``,
    ``limiter.acquire()`` (counted until the grant plus the margin).
    """
    next_index = iter(range(messages))

    async def paced(chat_id: int) -> float | None:
        if limiter is None:
            return await send_one(chat_id)
        if slot:
            async with limiter.slot():
                return await send_one(chat_id)
        await limiter.acquire()
        return await send_one(chat_id)

    async def worker() -> None:
        for index in next_index:
            chat_id = chat_ids[index % len(chat_ids)]
            while True:
                retry_after = await paced(chat_id)
                if retry_after is None:
                    break
                outcome.retries_429 += 1
                if limiter is not None:
                    limiter.pause(retry_after)
            outcome.done_at.append(time.monotonic())

    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    outcome.cpu = time.process_time() - cpu
    outcome.wall = time.monotonic() - wall
    outcome.done_at = [t - wall for t in sorted(outcome.done_at)]


async def run_lean(
    fake: FakeServerProcess,
    outcome: Outcome,
    args: argparse.Namespace,
    limiter: SlidingWindowLimiter | None,
    paid: bool,
    messages: int,
    slot: bool,
) -> None:
    """The lean path: a body encoded per message, POSTed over one keep-alive session."""
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        client = BotApiClient(http, fake.url, fake.token)
        # Open the connections first (getMe is not metered), as a running bot has them open.
        await asyncio.gather(*(client.send("getMe", b"{}") for _ in range(args.concurrency)))

        async def send_one(chat_id: int) -> float | None:
            body = encode_send_message(
                chat_id,
                PUSH_TEXT,
                reply_markup=PUSH_MARKUP,
                link_preview_url=STORY_URL,
                allow_paid_broadcast=paid,
            )
            result = await client.send("sendMessage", body)
            if result.kind is SendKind.RETRY_AFTER:
                return result.retry_after or 1.0
            if result.kind is not SendKind.SENT:
                outcome.errors += 1
            return None

        await drive(
            send_one, fake.chat_ids, messages, args.concurrency, limiter, outcome, slot=slot
        )


async def run_ptb(
    fake: FakeServerProcess,
    outcome: Outcome,
    args: argparse.Namespace,
    limiter: SlidingWindowLimiter | None,
    paid: bool,
    messages: int,
    slot: bool,
) -> None:
    """What a PTB user writes: ``await bot.send_message(...)`` per subscriber."""
    from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
    from telegram.constants import ParseMode
    from telegram.error import RetryAfter, TelegramError
    from telegram.request import HTTPXRequest

    request = HTTPXRequest(connection_pool_size=args.concurrency)
    markup = InlineKeyboardMarkup.de_json(PUSH_MARKUP, None)
    preview = LinkPreviewOptions(url=STORY_URL)
    async with Bot(fake.token, base_url=f"{fake.url}/bot", request=request) as bot:
        await asyncio.gather(*(bot.get_me() for _ in range(args.concurrency)))

        async def send_one(chat_id: int) -> float | None:
            try:
                await bot.send_message(
                    chat_id,
                    PUSH_TEXT,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    link_preview_options=preview,
                    allow_paid_broadcast=paid or None,
                )
            except RetryAfter as exc:
                wait = exc.retry_after
                return wait if isinstance(wait, int | float) else wait.total_seconds()
            except TelegramError:
                outcome.errors += 1
            return None

        await drive(
            send_one, fake.chat_ids, messages, args.concurrency, limiter, outcome, slot=slot
        )


# --- scenarios and the report -------------------------------------------------------------


async def scenario(
    name: str,
    runner: Callable[..., Awaitable[None]],
    args: argparse.Namespace,
    *,
    messages: int,
    global_rate: float | None = None,
    paid_rate: float = 1000,
    pace: int | None = None,
    paid: bool = False,
    slot: bool = True,
    concurrency: int | None = None,
) -> Outcome:
    """Run one client against a fresh fake in its own process."""
    if concurrency is not None:
        args = argparse.Namespace(**{**vars(args), "concurrency": concurrency})
    outcome = Outcome(name, pace, args.concurrency)
    users = min(messages, 1000)
    async with FakeServerProcess(
        global_rate=global_rate, paid_rate=paid_rate, users=users
    ) as fake:
        before = await fake.stats()
        limiter = SlidingWindowLimiter(pace) if pace else None
        await runner(fake, outcome, args, limiter, paid, messages, slot)
        after = await fake.stats()
    outcome.sent = after["sent"] - before["sent"]
    outcome.fake_cpu = after["cpu"] - before["cpu"]
    outcome.fake_429 = after["rate_limited"]
    outcome.fake_peak = after["peak_per_second"]
    return outcome


def sustained_ratio(outcome: Outcome) -> str:
    """Achieved rate ÷ R after the first window, whose burst would flatter the figure."""
    rate, done = outcome.rate, outcome.done_at
    if not rate:
        return "-"
    if len(done) <= 2 * rate:
        return "n/a"  # too few messages to see past the first window
    return f"{(len(done) - rate) / (done[-1] - done[rate - 1]) / rate:.3f}"


def report(outcomes: Sequence[Outcome]) -> None:
    print(
        "\nsendMessage on loopback. CPU: this process's time.process_time per 1,000 messages;"
        "\nfake CPU: the server process's; rate/R: achieved rate after the first window ÷ R;"
        "\n429s: received by the client (each paused the limiter and was retried); peak/s: the"
        "\nmost sends the fake counted in any sliding second, at arrival\n"
    )
    header = (
        f"{'scenario':<34} {'flight':>6} {'sent':>6} {'msgs/s':>7} {'rate/R':>9}"
        f" {'CPU s/1k':>9} {'fake CPU':>9} {'429s':>5} {'peak/s':>7} {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    for o in outcomes:
        per_k = 1000 / max(o.sent, 1)
        print(
            f"{o.name:<34} {o.concurrency:>6} {o.sent:>6} {o.sent / o.wall:>7.0f}"
            f" {sustained_ratio(o):>9} {o.cpu * per_k:>9.3f} {o.fake_cpu * per_k:>9.3f}"
            f" {o.retries_429:>5} {o.fake_peak:>7} {o.errors:>6}"
        )
    lean = [o for o in outcomes if o.name.startswith("lean") and o.rate is None]
    ptb = [o for o in outcomes if o.name.startswith("PTB") and o.rate is None]
    if lean and ptb:
        a = min(lean, key=lambda o: o.cpu / o.sent)
        b = min(ptb, key=lambda o: o.cpu / o.sent)
        print(
            f"\nno limit, each at its best: lean {a.sent / a.wall:.0f} msgs/s,"
            f" {a.cpu * 1000 / a.sent:.3f} CPU s per 1,000; PTB {b.sent / b.wall:.0f} msgs/s,"
            f" {b.cpu * 1000 / b.sent:.3f} CPU s per 1,000"
            f" ({b.cpu / b.sent / (a.cpu / a.sent):.1f}x the lean client's CPU per message)"
        )


async def run(args: argparse.Namespace) -> None:
    n, paid_rate, slow_rate, ptb_c = (
        args.messages,
        args.paid_rate,
        args.slow_rate,
        args.ptb_concurrency,
    )
    paid = {"global_rate": 30, "paid_rate": paid_rate, "pace": paid_rate, "paid": True}
    outcomes = [
        await scenario("lean, no limit", run_lean, args, messages=n),
        await scenario("PTB, no limit", run_ptb, args, messages=n),
        # httpx's pool costs more per request the more requests wait on it: PTB does best
        # with few in flight, so it is measured that way too.
        await scenario(
            "PTB, no limit",
            run_ptb,
            args,
            messages=n,
            concurrency=ptb_c,
        ),
        await scenario(f"lean, paid {paid_rate}/s, slot()", run_lean, args, messages=n, **paid),
        await scenario(
            f"lean, paid {paid_rate}/s, acquire()+10ms",
            run_lean,
            args,
            messages=n,
            slot=False,
            **paid,
        ),
        await scenario(
            f"PTB, paid {paid_rate}/s, slot()",
            run_ptb,
            args,
            messages=n,
            concurrency=ptb_c,
            **paid,
        ),
    ]
    if args.slow_messages:
        outcomes.append(
            await scenario(
                f"lean, {slow_rate}/s, slot()",
                run_lean,
                args,
                messages=args.slow_messages,
                global_rate=slow_rate,
                pace=slow_rate,
            )
        )
    report(outcomes)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000, help="messages per scenario")
    parser.add_argument("--concurrency", type=int, default=40, help="requests in flight")
    parser.add_argument(
        "--ptb-concurrency", type=int, default=4, help="requests in flight for PTB's best runs"
    )
    parser.add_argument("--paid-rate", type=int, default=1000, help="the paid broadcast limit")
    parser.add_argument("--slow-rate", type=int, default=30, help="the ordinary bulk limit")
    parser.add_argument(
        "--slow-messages",
        type=int,
        default=90,
        help="messages at the ordinary limit (3 s at 30/s); 0 skips that scenario",
    )
    args = parser.parse_args(argv)
    if min(args.messages, args.concurrency, args.ptb_concurrency) < 1:
        parser.error("--messages and the concurrencies must be positive")
    if min(args.paid_rate, args.slow_rate) < 1 or args.slow_messages < 0:
        parser.error("the rates must be positive and --slow-messages not negative")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
