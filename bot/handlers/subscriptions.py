"""/subscribe, /unsubscribe and /sections with its toggle keyboard that edits itself in place."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

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
    resolve_sections,
    section_names,
    thread_of,
)
from bot.i18n import N_, Texts
from bot.render import Button, escape
from news.clock import utcnow
from storage import chats as chat_store
from storage.engine import writing
from storage.models import ALL_SECTIONS

GROUP_ADMINS_SUBSCRIPTIONS = N_("In groups, only admins can change what this chat receives.")


# The source texts, for callers that render no chat's message (tests of the layout).

# Sections come from the operator (a handful), but a message holds 4,096 characters and a
# keyboard 100 buttons: the lists stay capped whatever the configuration.
MAX_LISTED = 25
MAX_TOGGLES = 60


def describe(t: Texts, subscribed: set[str], names: dict[str, str], *, group: bool) -> str:
    """The resulting state in one sentence; ``names``: every offered section's name
    (header_names), so a subscription to a section no longer offered, which brings nothing,
    is not counted as one. A ``group`` is spoken of as the chat ("This chat receives…"), not
    as the member who asked."""
    if ALL_SECTIONS in subscribed:
        if group:
            return t._("This chat receives <b>all news</b> as it is published.")
        return t._("You receive <b>all news</b> as it is published.")
    chosen = [slug for slug in names if slug in subscribed]
    if not chosen:
        if group:
            return t._(
                "This chat receives no pushes. Send /subscribe to get all news, or /sections "
                "to choose."
            )
        return t._(
            "You receive no pushes. Send /subscribe to get all news, or /sections to choose."
        )
    listed = t.join(f"<b>{t.isolate(escape(names[s]))}</b>" for s in chosen[:MAX_LISTED])
    if len(chosen) <= MAX_LISTED:
        if group:
            return t._("This chat receives new stories from: {sections}.").format(sections=listed)
        return t._("You receive new stories from: {sections}.").format(sections=listed)
    more = len(chosen) - MAX_LISTED
    if group:
        text = t.ngettext(
            "This chat receives new stories from: {sections} … and {num} more.",
            "This chat receives new stories from: {sections} … and {num} more.",
            more,
        )
    else:
        text = t.ngettext(
            "You receive new stories from: {sections} … and {num} more.",
            "You receive new stories from: {sections} … and {num} more.",
            more,
        )
    return text.format(sections=listed, num=t.number(more))


def valid_sections_text(t: Texts, names: dict[str, str], *, configured: bool = True) -> str:
    """The list of sections a reader can name (by their names in the reader's language, which
    /subscribe and /latest understand as well as the slugs); ``configured``: whether the
    outlet offers any section at all."""
    if not configured:
        return t._("This bot offers no sections: /subscribe brings you all news.")
    if not names:
        return t._(
            "No sections are known yet; the first feed poll brings them. Try again shortly."
        )
    items = t.join(
        f"<code>{t.isolate(escape(name))}</code>" for name in list(names.values())[:MAX_LISTED]
    )
    if len(names) <= MAX_LISTED:
        return t._("Valid sections: {sections}. /sections shows them all.").format(sections=items)
    more = len(names) - MAX_LISTED
    return t.ngettext(
        "Valid sections: {sections} … and {num} more. /sections shows them all.",
        "Valid sections: {sections} … and {num} more. /sections shows them all.",
        more,
    ).format(sections=items, num=t.number(more))


async def reply_unknown(
    t: Texts, message: Message, unknown: list[str], names: dict[str, str], *, configured: bool
) -> None:
    """Tell the reader which words named no section, and which sections exist."""
    # Translators: quotation marks around a word the reader typed.
    quoted = [t._("“{word}”").format(word=echo(t, w)) for w in unknown[:5]]
    not_known = t.ngettext(
        "I don't know the section {sections}.",
        "I don't know the sections {sections}.",
        len(quoted),
    ).format(sections=t.join(quoted))
    await message.reply_html(f"{not_known} {valid_sections_text(t, names, configured=configured)}")


@dataclass(frozen=True, slots=True)
class Change:
    """A /subscribe or /unsubscribe that may go ahead: where, and which sections it names."""

    message: Message
    texts: Texts
    chat_id: int
    thread: int
    names: dict[str, str]  # the sections this chat may choose (its editions')
    described: dict[str, str]  # every offered section, to describe what the chat receives
    sections: list[str] | None  # None: the command named no section
    group: bool = False  # a group (or channel), spoken of as "this chat"


async def _change_request(update: Update, context: Context, *, reactivate: bool) -> Change | None:
    """Check rights and section names; None once the reader was told why not."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    chat = await remember_chat(update, context, reactivate=reactivate)
    t = chat_texts(update, context, chat)
    if not await may_manage(update, context):
        await message.reply_text(t._(GROUP_ADMINS_SUBSCRIPTIONS))
        return None
    names = await section_names(context, t, chat)
    sections = None
    if context.args:
        catalogue = deps(context).sections
        sections, unknown = resolve_sections(context.args, names, catalogue.find)
        if unknown:
            configured = bool(catalogue.offered)
            await reply_unknown(t, message, unknown, names, configured=configured)
            return None
    return Change(
        message,
        t,
        update.effective_chat.id,
        thread_of(message),
        names,
        header_names(context, t),
        sections,
        not is_private(update.effective_chat),
    )


async def subscribe_command(update: Update, context: Context) -> None:
    """/subscribe [sections…]: all news, or the named sections."""
    change = await _change_request(update, context, reactivate=True)
    if change is None:
        return
    message, chat_id, thread = change.message, change.chat_id, change.thread
    t = change.texts
    wanted = change.sections or [ALL_SECTIONS]
    async with writing(deps(context).sessions) as session:
        current = await chat_store.subscriptions(session, chat_id, thread)
        if ALL_SECTIONS in current and wanted != [ALL_SECTIONS]:
            result = current
            note = " " + t._(
                "That already includes the sections you named; use /sections to receive only some."
            )
        else:
            result = await chat_store.subscribe(session, chat_id, wanted, utcnow(), thread)
            note = ""
    await message.reply_html(
        f"✅ {describe(t, result, change.described, group=change.group)}{note}\n"
        + t._("/unsubscribe stops pushes; /sections lets you choose.")
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
    # A subscription to a section no longer offered brings nothing: it counts as none.
    receives = ALL_SECTIONS in result or any(s in change.described for s in result)
    prefix = "✅ " if receives else "🔕 "
    described = describe(change.texts, result, change.described, group=change.group)
    await message.reply_html(prefix + described)


def sections_keyboard(subscribed: set[str], names: dict[str, str], t: Texts) -> list[list[Button]]:
    """One toggle per section (✅ followed / ➕ not), two per row, and "All news" on top."""
    everything = ALL_SECTIONS in subscribed
    all_news = t.pgettext("button", "All news")
    rows = [[Button(("✅ " if everything else "➕ ") + all_news, callback="tg:*")]]
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


def sections_text(
    t: Texts,
    subscribed: set[str],
    names: dict[str, str],
    described: dict[str, str],
    *,
    group: bool,
) -> str:
    """The text above the toggles (``names``: the toggles; ``described``: header_names)."""
    lines = [
        t._("<b>Sections</b>"),
        describe(t, subscribed, described, group=group),
        t._("Tap a section to follow or leave it."),
    ]
    if len(names) > MAX_TOGGLES:
        lines[-1] += "\n" + t.ngettext(
            "Showing {shown} of {num} section; /subscribe NAME follows any other.",
            "Showing {shown} of {num} sections; /subscribe NAME follows any other.",
            len(names),
        ).format(shown=t.number(MAX_TOGGLES), num=t.number(len(names)))
    return "\n".join(lines)


async def sections_command(update: Update, context: Context) -> None:
    """/sections: every section with a toggle."""
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    chat = await remember_chat(update, context)
    t = chat_texts(update, context, chat)
    names = await section_names(context, t, chat)
    async with deps(context).sessions() as session:
        current = await chat_store.subscriptions(
            session, update.effective_chat.id, thread_of(message)
        )
    if not names:
        configured = bool(deps(context).sections.offered)
        await message.reply_html(valid_sections_text(t, names, configured=configured))
        return
    await message.reply_html(
        sections_text(
            t,
            current,
            names,
            header_names(context, t),
            group=not is_private(update.effective_chat),
        ),
        reply_markup=keyboard(sections_keyboard(current, names, t)),
    )


async def toggle_section(update: Update, context: Context) -> None:
    """A tap on a section toggle: flip it and redraw the same message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    message = query.message
    chat = await known_chat(update, context)
    t = chat_texts(update, context, chat)
    if message is None or update.effective_chat is None:
        await query.answer(t._("This message is too old; send /sections again."))
        return
    if not await may_manage(update, context):
        await query.answer(t._(GROUP_ADMINS_SUBSCRIPTIONS), show_alert=True)
        return
    slug = query.data.removeprefix("tg:")
    # The sections /sections offered this chat (its editions'), as the keyboard shows them.
    names = await section_names(context, t, chat)
    if slug != ALL_SECTIONS and slug not in names:
        await query.answer(t._("That section no longer exists."))
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
    label = names.get(slug) or t.pgettext("button", "All news")
    followed = ALL_SECTIONS in result or slug in result
    toast = (
        # Translators: a toast after tapping a section toggle; {section} is its name.
        t._("Following: {section}")
        if followed
        # Translators: a toast after tapping a section toggle (the chat left that section).
        else t._("Left: {section}")
    )
    await query.answer(toast.format(section=t.isolate(label)))
    text = sections_text(
        t, result, names, header_names(context, t), group=not is_private(update.effective_chat)
    )
    await redraw(query, text, sections_keyboard(result, names, t))


HANDLERS = [
    CommandHandler("subscribe", subscribe_command),
    CommandHandler("unsubscribe", unsubscribe_command),
    CommandHandler("sections", sections_command),
    CallbackQueryHandler(toggle_section, pattern=r"^tg:"),
]
