"""Parsing a big feed document in a child process (``python -m jobs.parse_process``).

feedparser is pure Python, and parts of it run long C calls over the whole document: in a
thread of the bot, a feed of tens of thousands of items holds the GIL against the event loop
for seconds (readers' commands wait behind it), and its peak memory is the bot's. In a child
process it has a core of its own, its memory goes back to the system when it exits, and a
stop kills it at once. Starting one costs about 0.1 s, so only documents of at least
``CHILD_PROCESS_BYTES`` go there; the others parse in a thread.

The parent writes the pickled arguments of ``parse_feed`` to the child's stdin and reads a
pickled ``("ok", ParsedFeed)`` or ``("not a feed", reason)`` from its stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import sys
from datetime import datetime

from news.feed_parsing import NotAFeedError, ParsedFeed, parse_feed

log = logging.getLogger(__name__)

CHILD_PROCESS_BYTES = 1_000_000


class ParseProcessError(Exception):
    """The child process failed (it crashed, or could not start)."""


async def parse_in_child_process(
    body: bytes,
    *,
    url: str,
    content_type: str | None,
    now: datetime,
    max_items: int | None,
) -> ParsedFeed:
    """``parse_feed`` in a child process; raises NotAFeedError as it does. Cancelled, the
    child is killed."""
    request = pickle.dumps((body, url, content_type, now, max_items), pickle.HIGHEST_PROTOCOL)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "jobs.parse_process",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise ParseProcessError(f"could not start: {exc}") from exc
    try:
        output, errors = await process.communicate(request)
    finally:
        if process.returncode is None:  # cancelled: nobody wants its answer any more
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.shield(process.wait())
    if errors.strip():  # what parse_feed logged there (entries it skipped)
        log.warning("feed=%s parser process said: %s", url, errors.decode(errors="replace"))
    if process.returncode != 0:
        raise ParseProcessError(f"exited with {process.returncode}")
    kind, value = pickle.loads(output)  # our own child's answer: trusted as our own code
    if kind == "not a feed":
        raise NotAFeedError(value)
    assert isinstance(value, ParsedFeed)
    return value


def main() -> None:
    """The child: one request from stdin, its answer to stdout."""
    body, url, content_type, now, max_items = pickle.load(sys.stdin.buffer)
    answer: tuple[str, object]
    try:
        parsed = parse_feed(body, url=url, content_type=content_type, now=now, max_items=max_items)
        answer = ("ok", parsed)
    except NotAFeedError as exc:
        answer = ("not a feed", exc.reason)
    sys.stdout.buffer.write(pickle.dumps(answer, pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
