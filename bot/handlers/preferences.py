"""/settings, /timezone, /quiet and /forget: a chat's preferences and deleting them."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from telegram import CallbackQuery, Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import comment_texts
from bot.deps import deps
from bot.handlers.common import (
    Context,
    is_private,
    keyboard,
    may_manage,
    redraw,
    remember_chat,
    section_names,
    thread_of,
    zone_of,
)
from bot.handlers.subscriptions import describe
from bot.render import Button, escape
from jobs.delivery_policy import parse_quiet_hours
from storage import chats as chat_store
from storage import comments as comment_store
from storage.chats import DELIVERY_MODES, DeliveryPrefs
from storage.clock import utcnow
from storage.engine import writing

# Where the outlet's readers mostly live: the region and its diaspora.
COMMON_ZONES = (
    "Asia/Baghdad",
    "Asia/Tehran",
    "Europe/Istanbul",
    "Europe/Berlin",
    "Europe/Stockholm",
    "Europe/London",
    "America/New_York",
    "UTC",
)


# What each delivery mode means, as the settings message and its buttons say it.
MODE_BUTTONS = {
    "instant": "Instant",
    "breaking": "Breaking news only",
    "hourly": "Hourly digest",
    "daily": "Daily digest",
}
MODE_DESCRIPTIONS = {
    "instant": "every story as it is published",
    "breaking": "breaking news only, as it happens",
    "hourly": "one message an hour listing the hour's stories",
    "daily": "one message a day listing the day's stories",
}
GROUP_ADMINS_ONLY = "In groups, only admins can change how this chat receives news."
QUIET_USAGE = (
    "Send <code>/quiet 23:00-07:00</code> to hold pushes during those hours (in this chat's "
    "time zone), or <code>/quiet off</code> to receive them at any hour."
)


def _zone_buttons() -> list[list[Button]]:
    buttons = [
        Button(z.split("/")[-1].replace("_", " "), callback=f"tz:{z}") for z in COMMON_ZONES
    ]
    return [buttons[i : i + 4] for i in range(0, len(buttons), 4)]


def _mode_buttons(current: str) -> list[list[Button]]:
    buttons = [
        Button(("✅ " if mode == current else "") + MODE_BUTTONS[mode], callback=f"dm:{mode}")
        for mode in DELIVERY_MODES
    ]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def settings_buttons(mode: str) -> list[list[Button]]:
    """The delivery modes (the current one ticked), then the common time zones."""
    return _mode_buttons(mode) + _zone_buttons()


def quiet_label(prefs: DeliveryPrefs | None) -> str:
    """Quiet hours as the reader sees them: "23:00–07:00" or "off"."""
    if prefs is None or not (prefs.quiet_start and prefs.quiet_end):
        return "off"
    return f"{prefs.quiet_start}–{prefs.quiet_end}"


async def _settings_view(context: Context, chat_id: int, thread: int) -> tuple[str, str]:
    """The settings message's HTML text and the chat's delivery mode."""
    names = await section_names(context)
    async with deps(context).sessions() as session:
        chat = await chat_store.get_chat(session, chat_id)
        prefs = await chat_store.delivery_prefs(session, chat_id)
        subscribed = await chat_store.subscriptions(session, chat_id, thread)
    zone = zone_of(chat, deps(context))
    local = datetime.now(zone)
    mode = prefs.mode if prefs is not None and prefs.mode in DELIVERY_MODES else "instant"
    quiet = quiet_label(prefs)
    quiet_note = " (breaking news still comes at once)" if quiet != "off" else ""
    text = (
        "<b>Settings</b>\n"
        f"<b>Sections:</b> {describe(subscribed, names)}\n"
        f"<b>Delivery:</b> {MODE_BUTTONS[mode]} — {MODE_DESCRIPTIONS[mode]}\n"
        f"<b>Quiet hours:</b> {quiet}{quiet_note}\n"
        f"<b>Time zone:</b> {escape(zone.key)} (now {local:%H:%M})\n\n"
        "Tap how news should reach you, or a time zone (/timezone Europe/Berlin sets any "
        "other). /sections chooses sections; <code>/quiet 23:00-07:00</code> holds pushes "
        "at night."
    )
    return text, mode


async def _redraw_settings(query: CallbackQuery, context: Context, chat_id: int) -> None:
    """Edit the settings message a button sits under to show the new state."""
    if not isinstance(query.message, Message):
        return
    text, mode = await _settings_view(context, chat_id, thread_of(query.message))
    await redraw(query, text, settings_buttons(mode))


async def settings_command(update: Update, context: Context) -> None:
    """/settings: sections, delivery mode, quiet hours and time zone, with buttons."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    await remember_chat(update, context)
    text, mode = await _settings_view(context, update.effective_chat.id, thread_of(message))
    await message.reply_html(text, reply_markup=keyboard(settings_buttons(mode)))


async def delivery_mode_button(update: Update, context: Context) -> None:
    """A delivery-mode button under /settings: store the mode and redraw the message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    chat = update.effective_chat
    mode = query.data.removeprefix("dm:")
    if chat is None or mode not in DELIVERY_MODES:
        await query.answer("Unknown delivery mode.")
        return
    if not await may_manage(update, context):
        await query.answer(GROUP_ADMINS_ONLY, show_alert=True)
        return
    await remember_chat(update, context)
    async with writing(deps(context).sessions) as session:
        await chat_store.set_delivery_mode(session, chat.id, mode, utcnow())
    await query.answer(f"Delivery: {MODE_BUTTONS[mode]}")
    await _redraw_settings(query, context, chat.id)


async def quiet_command(update: Update, context: Context) -> None:
    """/quiet 23:00-07:00 or /quiet off: hours in which non-breaking pushes wait."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    await remember_chat(update, context)
    if not context.args:
        async with deps(context).sessions() as session:
            prefs = await chat_store.delivery_prefs(session, update.effective_chat.id)
        await message.reply_html(f"<b>Quiet hours:</b> {quiet_label(prefs)}\n{QUIET_USAGE}")
        return
    if not await may_manage(update, context):
        await message.reply_text(GROUP_ADMINS_ONLY)
        return
    try:
        hours = parse_quiet_hours(" ".join(context.args))
    except ValueError as exc:
        await message.reply_text(str(exc))
        return
    start, end = (f"{hours[0]:%H:%M}", f"{hours[1]:%H:%M}") if hours else (None, None)
    async with writing(deps(context).sessions) as session:
        await chat_store.set_quiet_hours(session, update.effective_chat.id, start, end, utcnow())
        chat = await chat_store.get_chat(session, update.effective_chat.id)
    if hours is None:
        await message.reply_text("🔔 Quiet hours are off: pushes arrive at any hour.")
        return
    zone = zone_of(chat, deps(context))
    await message.reply_html(
        f"🌙 Quiet hours: <b>{start}–{end}</b> ({escape(zone.key)}). Pushes that arrive then "
        f"wait until {end}; breaking news still comes at once. /quiet off ends this."
    )


def _valid_zone(name: str) -> str | None:
    name = name.strip()
    if not name or ".." in name or name.startswith("/"):
        return None
    try:
        return zoneinfo.ZoneInfo(name).key
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        # Readers type "europe/berlin"; find the canonical spelling.
        lowered = {z.lower(): z for z in zoneinfo.available_timezones()}
        return lowered.get(name.lower())


async def timezone_command(update: Update, context: Context) -> None:
    """/timezone NAME: set the chat's time zone."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    await remember_chat(update, context)
    if not context.args:
        await message.reply_html(
            "Send /timezone with a time zone name, for example "
            "<code>/timezone Europe/Berlin</code>, or pick one:",
            reply_markup=keyboard(_zone_buttons()),
        )
        return
    if not await may_manage(update, context):
        await message.reply_text("In groups, only admins can change the time zone.")
        return
    zone = _valid_zone(" ".join(context.args))
    if zone is None:
        await message.reply_html(
            f"“{escape(' '.join(context.args))}” is not a time zone I know. Use a name such as "
            "<code>Asia/Baghdad</code> or <code>Europe/Berlin</code>."
        )
        return
    async with writing(deps(context).sessions) as session:
        await chat_store.set_timezone(session, update.effective_chat.id, zone, utcnow())
    local = datetime.now(zoneinfo.ZoneInfo(zone))
    await message.reply_html(f"🕒 Time zone set to <b>{escape(zone)}</b> (now {local:%H:%M}).")


async def timezone_button(update: Update, context: Context) -> None:
    """A time-zone button under /settings."""
    query = update.callback_query
    assert query is not None and query.data is not None
    chat = update.effective_chat
    zone = _valid_zone(query.data.removeprefix("tz:"))
    if chat is None or zone is None:
        await query.answer("Unknown time zone.")
        return
    if not await may_manage(update, context):
        await query.answer("In groups, only admins can change the time zone.", show_alert=True)
        return
    await remember_chat(update, context)
    async with writing(deps(context).sessions) as session:
        await chat_store.set_timezone(session, chat.id, zone, utcnow())
    await query.answer(f"Time zone: {zone}")
    await _redraw_settings(query, context, chat.id)


async def forget_command(update: Update, context: Context) -> None:
    """/forget: ask for confirmation before deleting everything about the chat."""
    message = update.effective_message
    assert message is not None
    if not await may_manage(update, context):
        await message.reply_text("In groups, only admins can delete the chat's data.")
        return
    comments = comment_texts.FORGET if is_private(update.effective_chat) else ""
    await message.reply_html(
        "This deletes everything I store about this chat: its sections, time zone and "
        f"settings. {comments}Pushes stop. Are you sure?",
        reply_markup=keyboard(
            [
                [
                    Button("Yes, delete it", callback="fg:yes"),
                    Button("No, keep it", callback="fg:no"),
                ]
            ]
        ),
    )


async def forget_button(update: Update, context: Context) -> None:
    """The /forget confirmation buttons."""
    query = update.callback_query
    assert query is not None and query.data is not None
    chat = update.effective_chat
    if chat is None:
        await query.answer()
        return
    if not await may_manage(update, context):
        await query.answer("Only admins can do this.", show_alert=True)
        return
    await query.answer()
    if query.data != "fg:yes":
        await query.edit_message_text("Nothing was deleted.")
        return
    d = deps(context)
    user = query.from_user
    withdrawn = 0
    async with writing(d.sessions) as session:
        await chat_store.forget_chat(session, chat.id)
        if is_private(chat):
            # The reader's comments go too; the outlet is asked to delete those it received.
            withdrawn = await comment_store.forget_commenter(
                session,
                user.id,
                pseudonym=d.relay.pseudonym(user.id) if d.relay is not None else "",
                now=utcnow(),
                retry_for=timedelta(hours=d.settings.comment_retry_hours),
            )
    if withdrawn and d.relay is not None:
        d.relay.wake()
    await query.edit_message_text(
        "🗑 Done: everything stored about this chat is deleted. "
        f"{comment_texts.FORGOTTEN_ON_SITE if withdrawn else ''}Send /start to begin again."
    )


HANDLERS = [
    CommandHandler("settings", settings_command),
    CommandHandler("timezone", timezone_command),
    CommandHandler("quiet", quiet_command),
    CommandHandler("forget", forget_command),
    CallbackQueryHandler(timezone_button, pattern=r"^tz:"),
    CallbackQueryHandler(delivery_mode_button, pattern=r"^dm:"),
    CallbackQueryHandler(forget_button, pattern=r"^fg:"),
]
