"""/settings, /timezone, /quiet and /forget: a chat's preferences and deleting them."""

from __future__ import annotations

import asyncio
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatType
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import comment_texts
from bot.arguments import parse_quiet_hours
from bot.deps import deps
from bot.handlers.common import (
    Context,
    chat_texts,
    echo,
    header_names,
    is_private,
    keyboard,
    known_chat,
    may_manage,
    redraw,
    remember_chat,
    texts_for,
    thread_of,
    zone_of,
)
from bot.handlers.subscriptions import describe
from bot.i18n import N_, Texts
from bot.render import Button, escape
from bot.site_comment_texts import replies_button
from bot.time_zones import COMMON_ZONES, MAX_CHOICES, canonical_zone, find_zones, zone_city
from news.clock import utcnow
from news.quiet_hours import quiet_until
from news.search_words import query_terms
from storage import chats as chat_store
from storage import comments as comment_store
from storage import deliveries as delivery_store
from storage.chats import DELIVERY_MODES, ChatView, DeliveryPrefs
from storage.engine import writing

# What each delivery mode means, as the settings message and its buttons say it.
MODE_BUTTONS = {
    "instant": N_("Instant"),
    "breaking": N_("Breaking news only"),
    "hourly": N_("Hourly digest"),
    "daily": N_("Daily digest"),
}
MODE_DESCRIPTIONS = {
    "instant": N_("every story as it is published"),
    "breaking": N_("breaking news only, as it happens"),
    "hourly": N_("one message an hour listing the hour's stories"),
    "daily": N_("one message a day listing the day's stories"),
}
# The /settings switches for pictures and sound, showing their state (a tap turns it over).
PICTURES_ON = N_("🖼 Pictures: on")
PICTURES_OFF = N_("🖼 Pictures: off, text only")
SILENT_ON = N_("🔕 Silent pushes: on")
SILENT_OFF = N_("🔔 Silent pushes: off")
GROUP_ADMINS_SETTINGS = N_("In groups, only admins can change how this chat receives news.")
GROUP_ADMINS_TIME_ZONE = N_("In groups, only admins can change the time zone.")
QUIET_USAGE = N_(
    "Send <code>/quiet 23:00-07:00</code> to hold pushes during those hours (in this chat's "
    "time zone), or <code>/quiet off</code> to receive them at any hour."
)


def _zone_buttons(t: Texts, zones: Sequence[str] = COMMON_ZONES) -> list[list[Button]]:
    """A button per zone, named by its city in the reader's language, four to a row (two
    when the names are long, as country names in Sorani are)."""
    buttons = [Button(zone_city(t, z), callback=f"tz:{z}") for z in zones]
    per_row = 4 if all(len(b.text) <= 12 for b in buttons) else 2
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


def _mode_buttons(t: Texts, current: str) -> list[list[Button]]:
    buttons = [
        Button(("✅ " if mode == current else "") + t._(MODE_BUTTONS[mode]), callback=f"dm:{mode}")
        for mode in DELIVERY_MODES
    ]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def settings_buttons(
    t: Texts,
    mode: str,
    replies: bool | None = None,
    *,
    images: bool = True,
    silent: bool = False,
) -> list[list[Button]]:
    """The delivery modes (the current one ticked), the pictures and sound switches, then
    the common time zones; with ``replies`` (a private chat, comments going to the site),
    the reply notices switch."""
    switches = [
        [
            Button(t._(PICTURES_ON if images else PICTURES_OFF), callback=f"pi:{int(not images)}"),
            Button(t._(SILENT_ON if silent else SILENT_OFF), callback=f"sn:{int(not silent)}"),
        ]
    ]
    if replies is not None:
        switches.append([replies_button(t, replies)])
    return _mode_buttons(t, mode) + switches + _zone_buttons(t)


@dataclass(frozen=True, slots=True)
class SettingsView:
    """The settings message's HTML text and the state its buttons show."""

    text: str
    mode: str
    images: bool
    silent: bool

    def buttons(self, t: Texts, replies: bool | None) -> list[list[Button]]:
        """The buttons under the settings message."""
        return settings_buttons(t, self.mode, replies, images=self.images, silent=self.silent)


def _replies(context: Context, chat: ChatView) -> bool | None:
    """The reply notices switch's state, where it applies (issue 17)."""
    if chat.type != ChatType.PRIVATE or not deps(context).settings.comments_url:
        return None
    return chat.comment_replies


def _mode_of(prefs: DeliveryPrefs | None) -> str:
    """The chat's delivery mode: "instant" until it chose one it may keep."""
    return prefs.mode if prefs is not None and prefs.mode in DELIVERY_MODES else "instant"


def has_quiet_hours(prefs: DeliveryPrefs | None) -> bool:
    return prefs is not None and bool(prefs.quiet_start and prefs.quiet_end)


def quiet_label(t: Texts, prefs: DeliveryPrefs | None) -> str:
    """Quiet hours as the reader sees them: "23:00–07:00" or "off"."""
    if prefs is None or not has_quiet_hours(prefs):
        # Translators: quiet hours are switched off ("Quiet hours: off").
        return t._("off")
    return f"{t.isolate(prefs.quiet_start or '')}–{t.isolate(prefs.quiet_end or '')}"


async def _settings_view(context: Context, t: Texts, chat: ChatView, thread: int) -> SettingsView:
    """The settings message: its text and the state of its buttons."""
    names = header_names(context, t)
    async with deps(context).sessions() as session:
        prefs = await chat_store.delivery_prefs(session, chat.id)
        subscribed = await chat_store.subscriptions(session, chat.id, thread)
    zone = zone_of(chat, deps(context))
    mode = _mode_of(prefs)
    quiet = quiet_label(t, prefs)
    images = deps(context).settings.push_images
    if prefs is not None and prefs.images is not None:
        images = prefs.images
    silent = prefs is not None and prefs.silent
    group = chat.type != ChatType.PRIVATE
    described = describe(t, subscribed, names, group=group)
    hint = (
        t._(
            "Tap how news should reach this chat, or a time zone (/timezone Berlin sets any "
            "other). /sections chooses sections; <code>/quiet 23:00-07:00</code> holds pushes "
            "at night."
        )
        if group
        else t._(
            "Tap how news should reach you, or a time zone (/timezone Berlin sets any "
            "other). /sections chooses sections; <code>/quiet 23:00-07:00</code> holds pushes "
            "at night."
        )
    )
    lines = [
        t._("<b>Settings</b>"),
        t._("<b>Sections:</b> {sections}").format(sections=described),
        t._("<b>Delivery:</b> {mode} — {description}").format(
            mode=t._(MODE_BUTTONS[mode]), description=t._(MODE_DESCRIPTIONS[mode])
        ),
        (
            t._("<b>Quiet hours:</b> {hours} (breaking news still comes at once)")
            if has_quiet_hours(prefs)
            else t._("<b>Quiet hours:</b> {hours}")
        ).format(hours=quiet),
        t._("<b>Time zone:</b> {zone} (now {time})").format(
            zone=t.isolate(escape(zone.key)), time=t.isolate(t.time(utcnow(), zone))
        ),
        t._("<b>Pictures:</b> {pictures}").format(
            pictures=t._("stories with a picture come as a photo") if images else t._("text only")
        ),
        t._("<b>Sound:</b> {sound}").format(
            sound=t._("only for breaking news") if silent else t._("for every push")
        ),
        "",
        hint,
    ]
    return SettingsView("\n".join(lines), mode, images, silent)


async def redraw_settings(
    query: CallbackQuery, context: Context, t: Texts, chat: ChatView
) -> None:
    """Edit the settings message a button sits under to show the new state."""
    if not isinstance(query.message, Message):
        return
    view = await _settings_view(context, t, chat, thread_of(query.message))
    await redraw(query, view.text, view.buttons(t, _replies(context, chat)))


async def settings_command(update: Update, context: Context) -> None:
    """/settings: sections, delivery mode, quiet hours and time zone, with buttons."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    chat = await remember_chat(update, context)
    t = chat_texts(update, context, chat)
    view = await _settings_view(context, t, chat, thread_of(message))
    buttons = view.buttons(t, _replies(context, chat))
    await message.reply_html(view.text, reply_markup=keyboard(buttons))


async def delivery_mode_button(update: Update, context: Context) -> None:
    """A delivery-mode button under /settings: store the mode and redraw the message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    mode = query.data.removeprefix("dm:")
    known = await known_chat(update, context)
    t = chat_texts(update, context, known)
    if update.effective_chat is None or mode not in DELIVERY_MODES:
        await query.answer(t._("Unknown delivery mode."))
        return
    if not await may_manage(update, context):
        await query.answer(t._(GROUP_ADMINS_SETTINGS), show_alert=True)
        return
    chat = await remember_chat(update, context)
    async with writing(deps(context).sessions) as session:
        prefs = await chat_store.delivery_prefs(session, chat.id)
        current = _mode_of(prefs)
        if mode != current:
            await chat_store.set_delivery_mode(session, chat.id, mode, utcnow())
    await query.answer(t._("Delivery: {mode}").format(mode=t._(MODE_BUTTONS[mode])))
    if mode != current:  # the ticked mode again: the message already says so
        await redraw_settings(query, context, t, chat)


async def push_switch_button(update: Update, context: Context) -> None:
    """The pictures (``pi:1``/``pi:0``) and silent pushes (``sn:1``/``sn:0``) switches under
    /settings: store the choice and redraw the message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    known = await known_chat(update, context)
    t = chat_texts(update, context, known)
    switch, _, value = query.data.partition(":")
    if update.effective_chat is None or value not in ("0", "1"):
        await query.answer()
        return
    if not await may_manage(update, context):
        await query.answer(t._(GROUP_ADMINS_SETTINGS), show_alert=True)
        return
    chat = await remember_chat(update, context)
    on = value == "1"
    async with writing(deps(context).sessions) as session:
        if switch == "pi":
            await chat_store.set_push_images(session, chat.id, on, utcnow())
        else:
            await chat_store.set_silent_pushes(session, chat.id, on, utcnow())
    if switch == "pi":
        answer = PICTURES_ON if on else PICTURES_OFF
    else:
        answer = SILENT_ON if on else SILENT_OFF
    await query.answer(t._(answer))
    await redraw_settings(query, context, t, chat)


async def quiet_command(update: Update, context: Context) -> None:
    """/quiet 23:00-07:00 or /quiet off: hours in which non-breaking pushes wait."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    chat = await remember_chat(update, context)
    t = chat_texts(update, context, chat)
    if not context.args:
        async with deps(context).sessions() as session:
            prefs = await chat_store.delivery_prefs(session, update.effective_chat.id)
        await message.reply_html(
            t._("<b>Quiet hours:</b> {hours}").format(hours=quiet_label(t, prefs))
            + "\n"
            + t._(QUIET_USAGE)
        )
        return
    if not await may_manage(update, context):
        await message.reply_text(t._(GROUP_ADMINS_SETTINGS))
        return
    try:
        value = " ".join(context.args)
        # "off" in the reader's language works too (a Turkish reader may well type "kapalı"),
        # compared as search compares words: "girti" matches "girtî", "KAPALI" "kapalı".
        # Translators: a word readers may type after /quiet to switch quiet hours off.
        if query_terms(value) == query_terms(t.pgettext("typed", "off")):
            value = "off"
        hours = parse_quiet_hours(value)
    except ValueError as exc:
        # bot.arguments raises marked sentences; this shows their translation.
        await message.reply_text(t._(str(exc)))
        return
    start, end = (f"{hours[0]:%H:%M}", f"{hours[1]:%H:%M}") if hours else (None, None)
    zone = zone_of(chat, deps(context))
    now = utcnow()
    # What the old hours held waits for the new ones only if they hold it now too.
    until = quiet_until(now, hours[0], hours[1], zone) if hours else None
    async with writing(deps(context).sessions) as session:
        await chat_store.set_quiet_hours(session, update.effective_chat.id, start, end, now)
        released = await delivery_store.reschedule_held(
            session, update.effective_chat.id, until, now
        )
    broadcaster = deps(context).broadcaster
    if released and until is None and broadcaster is not None:
        broadcaster.wake()
    arriving = (" " + t._("What they held arrives now.")) if released and until is None else ""
    if start is None or end is None:
        await message.reply_text(
            "🔔 " + t._("Quiet hours are off: pushes arrive at any hour.") + arriving
        )
        return
    await message.reply_html(
        "🌙 "
        + t._(
            "Quiet hours: <b>{start}–{end}</b> ({zone}). Pushes that arrive then wait until "
            "{end}; breaking news still comes at once. /quiet off ends this."
        ).format(
            start=t.isolate(start),
            end=t.isolate(end),
            zone=t.isolate(escape(zone.key)),
        )
        + arriving
    )


async def timezone_command(update: Update, context: Context) -> None:
    """/timezone CITY: set the chat's time zone by a city or country in any of the bot's
    languages, or an IANA name; several matches are offered as buttons."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    t = chat_texts(update, context, await remember_chat(update, context))
    if not context.args:
        await message.reply_html(
            t._(
                "Send /timezone with your city, for example <code>/timezone Berlin</code>, "
                "or pick one:"
            ),
            reply_markup=keyboard(_zone_buttons(t)),
        )
        return
    if not await may_manage(update, context):
        await message.reply_text(t._(GROUP_ADMINS_TIME_ZONE))
        return
    typed = " ".join(context.args)
    # The first call builds the names' index (a fifth of a second): off the event loop.
    zones = await asyncio.to_thread(find_zones, typed[:100])
    if not zones:
        await message.reply_html(
            t._(
                "I know no time zone or city called “{zone}”. Send a city, such as "
                "<code>/timezone Berlin</code>, or a time zone such as "
                "<code>Europe/Berlin</code>."
            ).format(zone=echo(t, typed))
        )
        return
    if len(zones) > 1:
        await message.reply_html(
            t._("Several time zones match “{zone}”. Pick one, or type more of the name:").format(
                zone=echo(t, typed)
            ),
            reply_markup=keyboard(_zone_buttons(t, zones[:MAX_CHOICES])),
        )
        return
    zone = zones[0]
    async with writing(deps(context).sessions) as session:
        await chat_store.set_timezone(session, update.effective_chat.id, zone, utcnow())
    local = t.time(utcnow(), zoneinfo.ZoneInfo(zone))
    await message.reply_html(
        "🕒 "
        + t._("Time zone set to <b>{zone}</b> (now {time}).").format(
            zone=t.isolate(escape(zone)), time=t.isolate(local)
        )
    )


async def timezone_button(update: Update, context: Context) -> None:
    """A time-zone button (under /settings, a bare /timezone, or the zones a name matched)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    zone = canonical_zone(query.data.removeprefix("tz:"))
    known = await known_chat(update, context)
    t = chat_texts(update, context, known)
    if update.effective_chat is None or zone is None:
        await query.answer(t._("Unknown time zone."))
        return
    if not await may_manage(update, context):
        await query.answer(t._(GROUP_ADMINS_TIME_ZONE), show_alert=True)
        return
    chat = await remember_chat(update, context)
    unchanged = zone_of(chat, deps(context)).key == zone
    if chat.timezone != zone:  # the default zone tapped becomes the chat's own choice
        async with writing(deps(context).sessions) as session:
            await chat_store.set_timezone(session, chat.id, zone, utcnow())
    await query.answer(t._("Time zone: {zone}").format(zone=t.isolate(zone)))
    if not unchanged:  # the zone the message already shows: nothing to redraw
        await redraw_settings(query, context, t, replace(chat, timezone=zone))


async def forget_command(update: Update, context: Context) -> None:
    """/forget: ask for confirmation before deleting everything about the chat."""
    message = update.effective_message
    assert message is not None
    t = await texts_for(update, context)
    if not await may_manage(update, context):
        await message.reply_text(t._("In groups, only admins can delete the chat's data."))
        return
    parts = [
        t._(
            "This deletes everything I store about this chat: its sections, time zone and "
            "settings."
        )
    ]
    if is_private(update.effective_chat):
        parts.append(t._(comment_texts.FORGET).strip())
    parts.append(t._("Pushes stop. Are you sure?"))
    await message.reply_html(
        " ".join(parts),
        reply_markup=keyboard(
            [
                [
                    Button(t.pgettext("button", "Yes, delete it"), callback="fg:yes"),
                    Button(t.pgettext("button", "No, keep it"), callback="fg:no"),
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
    # Read before the chat's record (and its chosen language) is deleted.
    t = await texts_for(update, context)
    if not await may_manage(update, context):
        await query.answer(t._("Only admins can do this."), show_alert=True)
        return
    await query.answer()
    if query.data != "fg:yes":
        await query.edit_message_text(t._("Nothing was deleted."))
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
    parts = ["🗑 " + t._("Done: everything stored about this chat is deleted.")]
    if withdrawn:
        parts.append(t._(comment_texts.FORGOTTEN_ON_SITE).strip())
    parts.append(t._("Send /start to begin again."))
    await query.edit_message_text(" ".join(parts))


HANDLERS = [
    CommandHandler("settings", settings_command),
    CommandHandler("timezone", timezone_command),
    CommandHandler("quiet", quiet_command),
    CommandHandler("forget", forget_command),
    CallbackQueryHandler(timezone_button, pattern=r"^tz:"),
    CallbackQueryHandler(delivery_mode_button, pattern=r"^dm:"),
    CallbackQueryHandler(push_switch_button, pattern=r"^(pi|sn):"),
    CallbackQueryHandler(forget_button, pattern=r"^fg:"),
]
