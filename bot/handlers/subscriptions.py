"""/subscribe, /unsubscribe and /sections with its toggle keyboard that edits itself in place."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.deps import deps
from bot.handlers.common import (
    Context,
    keyboard,
    may_manage,
    redraw,
    remember_chat,
    resolve_sections,
    section_names,
    thread_of,
)
from bot.render import Button, escape
from storage import chats as chat_store
from storage.clock import utcnow
from storage.engine import writing
from storage.models import ALL_SECTIONS

ADMINS_ONLY = "In groups, only admins can change what this chat receives."


# A feed rich in categories can bring hundreds of sections; a message holds 4,096
# characters and a keyboard 100 buttons.
MAX_LISTED = 25
MAX_TOGGLES = 60


def _more(total: int, shown: int) -> str:
    return f" … and {total - shown} more" if total > shown else ""


def describe(subscribed: set[str], names: dict[str, str]) -> str:
    """The resulting state in one sentence."""
    if ALL_SECTIONS in subscribed:
        return "You receive <b>all news</b> as it is published."
    if not subscribed:
        return "You receive no pushes. Send /subscribe to get all news, or /sections to choose."
    chosen = sorted(subscribed, key=lambda s: (names.get(s) or s).lower())
    listed = ", ".join(f"<b>{escape(names.get(s, s))}</b>" for s in chosen[:MAX_LISTED])
    return f"You receive new stories from: {listed}{_more(len(chosen), MAX_LISTED)}."


def valid_sections_text(names: dict[str, str]) -> str:
    """The list of sections a reader can name."""
    if not names:
        return "No sections are known yet; the first feed poll brings them. Try again shortly."
    items = ", ".join(
        f"<code>{escape(slug)}</code> ({escape(name)})"
        for slug, name in list(names.items())[:MAX_LISTED]
    )
    return f"Valid sections: {items}{_more(len(names), MAX_LISTED)}. /sections shows them all."


async def reply_unknown(message: Message, unknown: list[str], names: dict[str, str]) -> None:
    """Tell the reader which words named no section, and which sections exist."""
    unknown_list = ", ".join(f"“{escape(w[:60])}”" for w in unknown[:5])
    await message.reply_html(
        f"I don't know the section {unknown_list}. {valid_sections_text(names)}"
    )


@dataclass(frozen=True, slots=True)
class Change:
    """A /subscribe or /unsubscribe that may go ahead: where, and which sections it names."""

    message: Message
    chat_id: int
    thread: int
    names: dict[str, str]
    sections: list[str] | None  # None: the command named no section


async def _change_request(update: Update, context: Context, *, reactivate: bool) -> Change | None:
    """Check rights and section names; None once the reader was told why not."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    await remember_chat(update, context, reactivate=reactivate)
    if not await may_manage(update, context):
        await message.reply_text(ADMINS_ONLY)
        return None
    names = await section_names(context)
    sections = None
    if context.args:
        sections, unknown = resolve_sections(context.args, names)
        if unknown:
            await reply_unknown(message, unknown, names)
            return None
    return Change(message, update.effective_chat.id, thread_of(message), names, sections)


async def subscribe_command(update: Update, context: Context) -> None:
    """/subscribe [sections…]: all news, or the named sections."""
    change = await _change_request(update, context, reactivate=True)
    if change is None:
        return
    message, chat_id, thread, names = change.message, change.chat_id, change.thread, change.names
    wanted = change.sections or [ALL_SECTIONS]
    async with writing(deps(context).sessions) as session:
        current = await chat_store.subscriptions(session, chat_id, thread)
        if ALL_SECTIONS in current and wanted != [ALL_SECTIONS]:
            result = current
            note = (
                " That already includes the sections you named;"
                " use /sections to receive only some."
            )
        else:
            result = await chat_store.subscribe(session, chat_id, wanted, utcnow(), thread)
            note = ""
    await message.reply_html(
        f"✅ {describe(result, names)}{note}\n"
        "/unsubscribe stops pushes; /sections lets you choose."
    )


async def unsubscribe_command(update: Update, context: Context) -> None:
    """/unsubscribe [sections…]: stop everything, or just the named sections."""
    change = await _change_request(update, context, reactivate=False)
    if change is None:
        return
    message, chat_id, thread, names = change.message, change.chat_id, change.thread, change.names
    sections = change.sections
    async with writing(deps(context).sessions) as session:
        current = await chat_store.subscriptions(session, chat_id, thread)
        if sections and ALL_SECTIONS in current:
            # Leaving one section of "all news" means following every other one.
            keep = [s for s in names if s not in sections]
            result = await chat_store.replace_all_with(session, chat_id, keep, utcnow(), thread)
        else:
            result = await chat_store.unsubscribe(session, chat_id, sections, thread)
    prefix = "🔕 " if not result else "✅ "
    await message.reply_html(prefix + describe(result, names))


def sections_keyboard(subscribed: set[str], names: dict[str, str]) -> list[list[Button]]:
    """One toggle per section (✅ followed / ➕ not), two per row, and "All news" on top."""
    everything = ALL_SECTIONS in subscribed
    rows = [[Button(("✅ " if everything else "➕ ") + "All news", callback="tg:*")]]
    row: list[Button] = []
    shown = list(names.items())
    if len(shown) > MAX_TOGGLES:
        # Followed sections first, so that a long list never hides what the reader chose;
        # a short list keeps its order so buttons do not move under the reader's finger.
        shown = sorted(shown, key=lambda item: item[0] not in subscribed)[:MAX_TOGGLES]
    for slug, name in shown:
        on = everything or slug in subscribed
        row.append(Button(("✅ " if on else "➕ ") + name[:40], callback=f"tg:{slug}"))
        if len(row) == 2:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return rows


def sections_text(subscribed: set[str], names: dict[str, str]) -> str:
    """The text above the toggles."""
    extra = (
        f"\nShowing {MAX_TOGGLES} of {len(names)} sections; /subscribe NAME follows any other."
        if len(names) > MAX_TOGGLES
        else ""
    )
    return (
        f"<b>Sections</b>\n{describe(subscribed, names)}\n"
        f"Tap a section to follow or leave it.{extra}"
    )


async def sections_command(update: Update, context: Context) -> None:
    """/sections: every section with a toggle."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    await remember_chat(update, context)
    names = await section_names(context)
    async with deps(context).sessions() as session:
        current = await chat_store.subscriptions(
            session, update.effective_chat.id, thread_of(message)
        )
    if not names:
        await message.reply_html(valid_sections_text(names))
        return
    await message.reply_html(
        sections_text(current, names), reply_markup=keyboard(sections_keyboard(current, names))
    )


async def toggle_section(update: Update, context: Context) -> None:
    """A tap on a section toggle: flip it and redraw the same message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    message = query.message
    if message is None or update.effective_chat is None:
        await query.answer("This message is too old; send /sections again.")
        return
    if not await may_manage(update, context):
        await query.answer(ADMINS_ONLY, show_alert=True)
        return
    slug = query.data.removeprefix("tg:")
    names = await section_names(context)
    if slug != ALL_SECTIONS and slug not in names:
        await query.answer("That section no longer exists.")
        return
    chat_id = update.effective_chat.id
    thread = thread_of(message) if isinstance(message, Message) else 0
    now = utcnow()
    async with writing(deps(context).sessions) as session:
        current = await chat_store.subscriptions(session, chat_id, thread)
        if slug == ALL_SECTIONS:
            if ALL_SECTIONS in current:
                result = await chat_store.unsubscribe(session, chat_id, None, thread)
            else:
                result = await chat_store.subscribe(session, chat_id, [ALL_SECTIONS], now, thread)
        elif ALL_SECTIONS in current:
            keep = [s for s in names if s != slug]
            result = await chat_store.replace_all_with(session, chat_id, keep, now, thread)
        elif slug in current:
            result = await chat_store.unsubscribe(session, chat_id, [slug], thread)
        else:
            result = await chat_store.subscribe(session, chat_id, [slug], now, thread)
    label = names.get(slug, "All news")
    followed = ALL_SECTIONS in result or slug in result
    await query.answer(f"{'Following' if followed else 'Left'}: {label}")
    await redraw(query, sections_text(result, names), sections_keyboard(result, names))


HANDLERS = [
    CommandHandler("subscribe", subscribe_command),
    CommandHandler("unsubscribe", unsubscribe_command),
    CommandHandler("sections", sections_command),
    CallbackQueryHandler(toggle_section, pattern=r"^tg:"),
]
