"""Webhook memory: what forged and oversized POSTs cost the webhook server's process.

Full run (about 30 s; both servers, four concurrent 40 MB bodies)::

    python benchmarks/webhook_memory.py

Smoke run (CI; a few seconds; newsbot's server, four 8 MB bodies)::

    python benchmarks/webhook_memory.py --smoke

Each server runs alone in a child process (``--serve newsbot`` or ``--serve ptb``: PTB's
tornado server, as ``Updater.start_webhook`` builds it), so its resident memory (VmRSS,
sampled every 5 ms from /proc) is the server's own. Four clients stream their bodies at
once: one without the secret, one with a wrong secret sent chunked, one with the secret and a
Content-Length past the cap, one with the secret sent chunked past the cap. It prints the
growth of the server's RSS over its idle size, each answer and how much of each body had been
sent when the answer came. It prints figures and never fails on them.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.auxil.raw_http import Answer, raw_post

SECRET = "benchmark-Secret"
PATH = "/telegram/hook"
TOKEN = "123456:BENCHMARK-token"


async def _serve(kind: str, port: int) -> None:
    """The child: one webhook server on 127.0.0.1:port until stdin closes."""
    from telegram import Bot

    queue: asyncio.Queue[object] = asyncio.Queue()
    bot = Bot(TOKEN)  # never initialised: nothing here talks to Telegram
    if kind == "ptb":
        from telegram.ext._utils.webhookhandler import WebhookAppClass, WebhookServer

        ptb = WebhookServer("127.0.0.1", port, WebhookAppClass(PATH, bot, queue, SECRET), None)
        await ptb.serve_forever()
    else:
        from bot.webhook_server import WebhookServer as NewsbotServer

        ours = NewsbotServer(bot, queue, listen="127.0.0.1", port=port, path=PATH, secret=SECRET)
        await ours.start()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _attack(port: int, size: int) -> list[tuple[str, Answer]]:
    def headers(secret: str | None) -> dict[str, str]:
        named = {"Content-Type": "application/json"}
        if secret is not None:
            named["X-Telegram-Bot-Api-Secret-Token"] = secret
        return named

    scenarios = [
        ("no secret, Content-Length", headers(None), True),
        ("wrong secret, chunked", headers("wrong"), False),
        ("secret, Content-Length", headers(SECRET), True),
        ("secret, chunked", headers(SECRET), False),
    ]
    answers = await asyncio.gather(
        *(
            raw_post(port, PATH, total=size, headers=h, declare=declare)
            for _, h, declare in scenarios
        ),
        return_exceptions=True,
    )
    results = []
    for (name, _, _), answer in zip(scenarios, answers, strict=True):
        if isinstance(answer, BaseException):
            answer = Answer(0, -1, size)  # the server dropped the connection without answer
        results.append((name, answer))
    return results


async def _measure(kind: str, size: int) -> None:
    port = _free_port()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        kind,
        "--port",
        str(port),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        ready = await child.stdout.readline()
        assert ready.strip() == b"ready", f"the {kind} server did not start"
        await asyncio.sleep(0.3)
        idle = peak = _rss(child.pid)
        done = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _rss(child.pid))
                await asyncio.sleep(0.005)

        sampler = asyncio.create_task(sample())
        started = time.perf_counter()
        results = await _attack(port, size)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(0.2)  # whatever the server still does with the bodies
        done.set()
        await sampler
        print(
            f"{kind:8} idle {idle / 2**20:6.1f} MB, peak {peak / 2**20:6.1f} MB, "
            f"growth {(peak - idle) / 2**20:6.1f} MB, all answered in {elapsed:.2f} s"
        )
        for name, answer in results:
            shown = f"{answer.sent / 2**20:.1f} MB" if answer.sent >= 0 else "?"
            print(
                f"    {name:26} → {answer.status or 'no answer'}, "
                f"{shown} of {size / 2**20:.0f} MB sent by then"
            )
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), timeout=10)
        except TimeoutError:
            child.kill()
            await child.wait()


def main() -> None:
    """Parse the arguments and run the child server or the measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=40, help="size of each body in MB")
    parser.add_argument("--server", choices=["newsbot", "ptb", "both"], default="both")
    parser.add_argument("--smoke", action="store_true", help="newsbot's server, 8 MB bodies")
    parser.add_argument("--serve", choices=["newsbot", "ptb"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve, args.port))
        return
    if args.smoke:
        args.server, args.mb = "newsbot", 8
    kinds = ["newsbot", "ptb"] if args.server == "both" else [args.server]
    print(f"four concurrent {args.mb} MB POSTs to the webhook server (RSS of its process):")
    for kind in kinds:
        asyncio.run(_measure(kind, args.mb * 2**20))


if __name__ == "__main__":
    main()
