"""The bot administrators' commands (ADMIN_IDS): /breaking pushes a story, /stats shows health."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import CommandHandler

from bot.deps import Deps, deps
from bot.handlers.common import (
    BOT_ADMINS_ONLY,
    NO_PREVIEW,
    Context,
    chat_texts,
    echo,
    remember_chat,
)
from bot.i18n import N_, Texts
from bot.logs import redact_url
from bot.render import escape, trim, utf16_len
from news.clock import utcnow
from storage import chats as chat_store
from storage import deliveries as delivery_store
from storage import feeds as feed_store
from storage import stories as story_store
from storage.feeds import FeedView
from storage.models import PRIORITY_EDIT

log = logging.getLogger(__name__)
# How long /breaking waits for the audience to be counted before it answers what it knows.
BREAKING_COUNT_WAIT = 20.0

BREAKING_USAGE = N_(
    "Send /breaking with a story's link or id, for example <code>/breaking 42</code>, to push "
    "it to every subscriber at once as breaking news."
)
NOT_RUNNING = N_("Pushes are not running in this instance of the bot, so nothing was sent.")
# A message holds 4,096 characters: an outlet with many feeds sees the first ones and a count.
MESSAGE_BUDGET = 3800
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "skipped")

# "{num} pending" and the like: how many deliveries are in each state, in /stats.
_DELIVERY_COUNTS: dict[str, Callable[[Texts, int], str]] = {
    # Translators: deliveries waiting to be sent, in /stats ("3 pending").
    "pending": lambda t, n: t.ngettext("{num} pending", "{num} pending", n),
    # Translators: deliveries being sent right now, in /stats.
    "sending": lambda t, n: t.ngettext("{num} sending", "{num} sending", n),
    # Translators: deliveries sent, in /stats ("120 sent").
    "sent": lambda t, n: t.ngettext("{num} sent", "{num} sent", n),
    # Translators: deliveries that failed, in /stats.
    "failed": lambda t, n: t.ngettext("{num} failed", "{num} failed", n),
    # Translators: deliveries skipped (the chat left, the story was withdrawn), in /stats.
    "skipped": lambda t, n: t.ngettext("{num} skipped", "{num} skipped", n),
}


def _delivery_count(t: Texts, status: str, n: int) -> str:
    """ "120 sent", "3 pending"… in this language."""
    return _DELIVERY_COUNTS[status](t, n).format(num=t.number(n))


def _is_bot_admin(update: Update, context: Context) -> bool:
    user = update.effective_user
    return user is not None and user.id in deps(context).settings.admin_ids


async def _refused(update: Update, context: Context, t: Texts, command: str) -> bool:
    """Tell anyone but the bot's administrators no (in groups too); True when refused."""
    message = update.effective_message
    assert message is not None
    if _is_bot_admin(update, context):
        return False
    await message.reply_text(t._(BOT_ADMINS_ONLY).format(command=command))
    return True


async def breaking_command(update: Update, context: Context) -> None:
    """/breaking LINK|ID: push a stored story to every subscriber now, as breaking news."""
    message = update.effective_message
    assert message is not None
    t = chat_texts(update, context, await remember_chat(update, context))
    if await _refused(update, context, t, "/breaking"):
        return
    if not context.args:
        await message.reply_html(t._(BREAKING_USAGE))
        return
    reference = " ".join(context.args)[:2000]
    async with deps(context).sessions() as session:
        story = await story_store.find_story(session, reference)
    if story is None:
        await message.reply_html(
            t._(
                "I have no story with the link or id “{reference}”. /latest shows recent "
                "stories; a story's id is the number in its <code>/start s_…</code> link."
            ).format(reference=echo(t, reference)),
            link_preview_options=NO_PREVIEW,
        )
        return
    broadcaster = deps(context).broadcaster
    if broadcaster is None:
        await message.reply_text(t._(NOT_RUNNING))
        return
    since = utcnow()
    async with deps(context).sessions() as session:
        before = await delivery_store.push_tally(session, story.id, since)
    await broadcaster.push_now(story.id)
    user = update.effective_user
    log.info("story=%s pushed as breaking news by admin=%s", story.id, user.id if user else None)
    title = t.isolate(escape(story.title))
    sent = await message.reply_html(
        "🔴 "
        + t._(
            "Pushing as breaking news: <b>{title}</b>\n"
            "Already had it: {already}. Counting who gets it now…"
        ).format(title=title, already=t.number(before.already)),
        link_preview_options=NO_PREVIEW,
    )
    # The leader counts the audience in batches; an admin waits a few seconds at most for the
    # truth, then hears what is known.
    tally = before
    deadline = asyncio.get_running_loop().time() + BREAKING_COUNT_WAIT
    while asyncio.get_running_loop().time() < deadline:
        async with deps(context).sessions() as session:
            tally = await delivery_store.push_tally(session, story.id, since)
        if tally.counted:
            break
        await asyncio.sleep(1.0)  # a read a second, not four: the count is not urgent
    if tally.counted and tally.since == 0:
        text = t._(
            "<b>{title}</b> is now marked as breaking news, but every reader it goes to already "
            "had it ({already}): nobody gets it twice."
        ).format(title=title, already=t.number(tally.already))
    elif tally.counted:
        text = t._(
            "Breaking news: <b>{title}</b>\nAlready had it: {already}. Getting it now: {new}. "
            "It goes ahead of every other push; /stats shows the progress."
        ).format(title=title, already=t.number(tally.already), new=t.number(tally.since))
    else:
        text = t._(
            "Breaking news: <b>{title}</b>\nAlready had it: {already}. Getting it now: {new} so "
            "far, still counting; /stats shows the progress."
        ).format(title=title, already=t.number(tally.already), new=t.number(tally.since))
    await sent.edit_text("🔴 " + text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)


def _feed_line(t: Texts, feed: FeedView, now: datetime) -> str:
    name = t.isolate(escape(trim(redact_url(feed.url), 120)))
    parts = [
        t._("last success {ago}").format(ago=t.ago(feed.last_success_at, now))
        if feed.last_success_at
        else t._("never polled successfully")
    ]
    if feed.consecutive_failures:
        failures = feed.consecutive_failures
        parts.append(
            t.ngettext("{num} failure in a row", "{num} failures in a row", failures).format(
                num=t.number(failures)
            )
        )
        if feed.last_error:
            parts.append(
                t._("last error: {error}").format(
                    error=t.isolate(escape(trim(feed.last_error, 160)))
                )
            )
    # Translators: separates the parts of a feed's line in /stats.
    separator = t._("; ")
    return f"• {name} — {separator.join(parts)}"


def _sender_lines(t: Texts, services: Deps, now: datetime) -> list[str]:
    broadcaster = services.broadcaster
    if broadcaster is None:
        return [t._("<b>Sender:</b> pushes are not running in this instance.")]
    limiter = broadcaster.limiter
    rate = t.number(limiter.current_rate() / limiter.window)
    limit = t.number(limiter.rate / limiter.window)
    sending = (
        t._("<b>Sending now:</b> {rate}/s (limit {limit}/s, paused after a 429)")
        if limiter.paused_until is not None
        else t._("<b>Sending now:</b> {rate}/s (limit {limit}/s)")
    )
    stats = broadcaster.stats
    counts = t.join(
        [
            _delivery_count(t, "sent", stats.sent),
            _delivery_count(t, "failed", stats.failed),
            t.ngettext("{num} retried", "{num} retried", stats.retried).format(
                num=t.number(stats.retried)
            ),
            # Translators: sends Telegram refused with 429 Too Many Requests, in /stats.
            t._("{num} × 429").format(num=t.number(stats.rate_limited)),
            t.ngettext("{num} grouped message", "{num} grouped messages", stats.grouped).format(
                num=t.number(stats.grouped)
            ),
        ]
    )
    lines = [
        sending.format(rate=rate, limit=limit),
        t._("<b>Since this instance started</b> ({ago}): {counts}").format(
            ago=t.ago(stats.started_at, now), counts=counts
        ),
    ]
    if stats.last_error:
        lines.append(
            t._("<b>Last send error:</b> {error}").format(
                error=t.isolate(escape(trim(stats.last_error, 200)))
            )
        )
    return lines


async def stats_command(update: Update, context: Context) -> None:
    """/stats: chats, the delivery queue, the sender's pace and every feed's last poll."""
    message = update.effective_message
    assert message is not None
    t = chat_texts(update, context, await remember_chat(update, context))
    if await _refused(update, context, t, "/stats"):
        return
    async with deps(context).sessions() as session:
        active, inactive = await chat_store.chat_counts(session)
        counts = await delivery_store.delivery_counts(session)
        now = utcnow()
        backlog = await delivery_store.backlog_size(session, now, PRIORITY_EDIT)
        feeds = await feed_store.list_feeds(session)
    pushes = t.join(
        _delivery_count(t, status, counts.get(status, 0))
        for status in DELIVERY_STATUSES
        if status != "sending" or counts.get(status)
    )
    chats = t.join(
        [
            t.ngettext("{num} active", "{num} active", active).format(num=t.number(active)),
            t.ngettext("{num} inactive", "{num} inactive", inactive).format(
                num=t.number(inactive)
            ),
        ]
    )
    lines = [
        t._("<b>Stats</b>"),
        t._("<b>Chats:</b> {counts}").format(counts=chats),
        t._("<b>Pushes:</b> {counts}").format(counts=pushes),
        t.ngettext(
            "<b>Send queue:</b> {num} waiting (pushes and corrections)",
            "<b>Send queue:</b> {num} waiting (pushes and corrections)",
            backlog,
        ).format(num=t.number(backlog)),
        *_sender_lines(t, deps(context), now),
        "",
        t._("<b>Feeds</b> ({num})").format(num=t.number(len(feeds))),
    ]
    used = utf16_len("\n".join(lines))
    shown = 0
    for feed in feeds:
        line = _feed_line(t, feed, now)
        if used + utf16_len(line) + 1 > MESSAGE_BUDGET:
            break
        lines.append(line)
        used += utf16_len(line) + 1
        shown += 1
    if shown < len(feeds):
        more = len(feeds) - shown
        lines.append(
            t.ngettext("… and {num} more", "… and {num} more", more).format(num=t.number(more))
        )
    if not feeds:
        lines.append(t._("No feeds yet."))
    await message.reply_html("\n".join(lines), link_preview_options=NO_PREVIEW)


HANDLERS = [
    CommandHandler("breaking", breaking_command),
    CommandHandler("stats", stats_command),
]
