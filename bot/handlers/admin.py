"""The bot administrators' commands (ADMIN_IDS): /breaking pushes a story, /stats shows health."""

from __future__ import annotations

import logging
from datetime import datetime

from telegram import Update
from telegram.ext import CommandHandler

from bot.deps import deps
from bot.handlers.common import NO_PREVIEW, Context, remember_chat
from bot.render import escape, time_ago, trim, utf16_len
from jobs.fanout import Broadcaster
from storage import chats as chat_store
from storage import deliveries as delivery_store
from storage import feeds as feed_store
from storage import stories as story_store
from storage.clock import utcnow
from storage.feeds import FeedView
from storage.models import PRIORITY_EDIT

log = logging.getLogger(__name__)

ADMINS_ONLY = "Sorry, {command} is only for the bot's administrators."
BREAKING_USAGE = (
    "Send /breaking with a story's link or id, for example <code>/breaking 42</code>, to push "
    "it to every subscriber at once as breaking news."
)
NOT_RUNNING = "Pushes are not running in this instance of the bot, so nothing was sent."
# A message holds 4,096 characters: an outlet with many feeds sees the first ones and a count.
MESSAGE_BUDGET = 3800
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "skipped")


def _is_bot_admin(update: Update, context: Context) -> bool:
    user = update.effective_user
    return user is not None and user.id in deps(context).settings.admin_ids


async def _refused(update: Update, context: Context, command: str) -> bool:
    """Tell anyone but the bot's administrators no (in groups too); True when refused."""
    message = update.effective_message
    assert message is not None
    if _is_bot_admin(update, context):
        return False
    await message.reply_text(ADMINS_ONLY.format(command=command))
    return True


async def breaking_command(update: Update, context: Context) -> None:
    """/breaking LINK|ID: push a stored story to every subscriber now, as breaking news."""
    message = update.effective_message
    assert message is not None
    await remember_chat(update, context)
    if await _refused(update, context, "/breaking"):
        return
    if not context.args:
        await message.reply_html(BREAKING_USAGE)
        return
    reference = " ".join(context.args)[:2000]
    async with deps(context).sessions() as session:
        story = await story_store.find_story(session, reference)
    if story is None:
        await message.reply_html(
            f"I have no story with the link or id “{escape(trim(reference, 200))}”. "
            "/latest shows recent stories; a story's id is the number in its "
            "<code>/start s_…</code> link.",
            link_preview_options=NO_PREVIEW,
        )
        return
    broadcaster = deps(context).broadcaster
    if broadcaster is None:
        await message.reply_text(NOT_RUNNING)
        return
    await broadcaster.push_now(story.id)
    user = update.effective_user
    log.info("story=%s pushed as breaking news by admin=%s", story.id, user.id if user else None)
    await message.reply_html(
        f"🔴 Pushing as breaking news: <b>{escape(story.title)}</b>\n"
        "It goes ahead of every other push; /stats shows the progress.",
        link_preview_options=NO_PREVIEW,
    )


def _feed_line(feed: FeedView, now: datetime) -> str:
    name = escape(trim(feed.url, 120))
    polled = (
        f"last success {time_ago(feed.last_success_at, now)}"
        if feed.last_success_at
        else "never polled successfully"
    )
    line = f"• {name} — {polled}"
    if feed.consecutive_failures:
        failures = feed.consecutive_failures
        line += f"; {failures} failure{'s' if failures != 1 else ''} in a row"
        if feed.last_error:
            line += f"; last error: {escape(trim(feed.last_error, 160))}"
    return line


def _sender_lines(broadcaster: Broadcaster | None, now: datetime) -> list[str]:
    if broadcaster is None:
        return ["<b>Sender:</b> pushes are not running in this instance."]
    limiter = broadcaster.limiter
    rate = limiter.current_rate() / limiter.window
    limit = limiter.rate / limiter.window
    paused = ", paused after a 429" if limiter.paused_until is not None else ""
    stats = broadcaster.stats
    lines = [
        f"<b>Sending now:</b> {rate:g}/s (limit {limit:g}/s{paused})",
        f"<b>Since start</b> ({time_ago(stats.started_at, now)}): {stats.sent} sent, "
        f"{stats.failed} failed, {stats.retried} retried, {stats.rate_limited} × 429, "
        f"{stats.grouped} grouped",
    ]
    if stats.last_error:
        lines.append(f"<b>Last send error:</b> {escape(trim(stats.last_error, 200))}")
    return lines


async def stats_command(update: Update, context: Context) -> None:
    """/stats: chats, the delivery queue, the sender's pace and every feed's last poll."""
    message = update.effective_message
    assert message is not None
    await remember_chat(update, context)
    if await _refused(update, context, "/stats"):
        return
    async with deps(context).sessions() as session:
        active, inactive = await chat_store.chat_counts(session)
        counts = await delivery_store.delivery_counts(session)
        now = utcnow()
        backlog = await delivery_store.backlog_size(session, now, PRIORITY_EDIT)
        feeds = await feed_store.list_feeds(session)
    pushes = ", ".join(
        f"{counts.get(status, 0)} {status}"
        for status in DELIVERY_STATUSES
        if status != "sending" or counts.get(status)
    )
    lines = [
        "<b>Stats</b>",
        f"<b>Chats:</b> {active} active, {inactive} inactive",
        f"<b>Pushes:</b> {pushes}",
        f"<b>Send queue:</b> {backlog} waiting (pushes and corrections)",
        *_sender_lines(deps(context).broadcaster, now),
        "",
        f"<b>Feeds</b> ({len(feeds)})",
    ]
    used = utf16_len("\n".join(lines))
    shown = 0
    for feed in feeds:
        line = _feed_line(feed, now)
        if used + utf16_len(line) + 1 > MESSAGE_BUDGET:
            break
        lines.append(line)
        used += utf16_len(line) + 1
        shown += 1
    if shown < len(feeds):
        lines.append(f"… and {len(feeds) - shown} more")
    if not feeds:
        lines.append("No feeds yet.")
    await message.reply_html("\n".join(lines), link_preview_options=NO_PREVIEW)


HANDLERS = [
    CommandHandler("breaking", breaking_command),
    CommandHandler("stats", stats_command),
]
