"""/settings, /timezone and /forget: a chat's preferences and deleting them."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from telegram import Message, Update
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.deps import deps
from bot.handlers.common import (
    Context,
    keyboard,
    may_manage,
    remember_chat,
    section_names,
    thread_of,
    zone_of,
)
from bot.handlers.subscriptions import describe
from bot.render import Button, escape
from storage import chats as chat_store
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


def _zone_buttons() -> list[list[Button]]:
    buttons = [
        Button(z.split("/")[-1].replace("_", " "), callback=f"tz:{z}") for z in COMMON_ZONES
    ]
    return [buttons[i : i + 4] for i in range(0, len(buttons), 4)]


async def _settings_text(context: Context, chat_id: int, thread: int) -> str:
    names = await section_names(context)
    async with deps(context).sessions() as session:
        chat = await chat_store.get_chat(session, chat_id)
        subscribed = await chat_store.subscriptions(session, chat_id, thread)
    zone = zone_of(chat, deps(context))
    local = datetime.now(zone)
    return (
        "<b>Settings</b>\n"
        f"<b>Sections:</b> {describe(subscribed, names)}\n"
        f"<b>Time zone:</b> {escape(zone.key)} (now {local:%H:%M})\n\n"
        "Choose sections with /sections. Set another time zone with a button below, "
        "or send /timezone with a name such as Europe/Berlin."
    )


async def settings_command(update: Update, context: Context) -> None:
    """/settings: sections and time zone, with buttons to change them."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    await remember_chat(update, context)
    text = await _settings_text(context, update.effective_chat.id, thread_of(message))
    await message.reply_html(text, reply_markup=keyboard(_zone_buttons()))


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
    if isinstance(query.message, Message):
        text = await _settings_text(context, chat.id, thread_of(query.message))
        try:
            await query.edit_message_text(
                text, parse_mode="HTML", reply_markup=keyboard(_zone_buttons())
            )
        except BadRequest as exc:
            if "not modified" not in exc.message:
                raise


async def forget_command(update: Update, context: Context) -> None:
    """/forget: ask for confirmation before deleting everything about the chat."""
    message = update.effective_message
    assert message is not None
    if not await may_manage(update, context):
        await message.reply_text("In groups, only admins can delete the chat's data.")
        return
    await message.reply_html(
        "This deletes everything I store about this chat: its sections, time zone and "
        "settings. Pushes stop. Are you sure?",
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
    async with writing(deps(context).sessions) as session:
        await chat_store.forget_chat(session, chat.id)
    await query.edit_message_text(
        "🗑 Done: everything stored about this chat is deleted. Send /start to begin again."
    )


HANDLERS = [
    CommandHandler("settings", settings_command),
    CommandHandler("timezone", timezone_command),
    CommandHandler("forget", forget_command),
    CallbackQueryHandler(timezone_button, pattern=r"^tz:"),
    CallbackQueryHandler(forget_button, pattern=r"^fg:"),
]
