"""Readers' comments: replies to story messages, the 💬 buttons, edits, /name, /mycomments and
/comments.

A reply in a private chat to a message that shows a story is a comment on that story (in
groups people reply to pushes to talk to each other, so there the 💬 button leads to a
private chat). Every comment is checked before anything is stored (``bot.comment_rules``),
answered at once, and that answer is edited when the moderators or the outlet decide.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from telegram import CallbackQuery, ForceReply, Message, Update
from telegram.constants import MessageEntityType, ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import comment_texts
from bot.callbacks import MAX_OFFSET, parse_id
from bot.comment_rules import (
    Accepted,
    CommentRules,
    Refused,
    check_comment,
    check_edit,
    check_name,
    rate_lookback,
)
from bot.deps import Deps, deps
from bot.handlers import latest, moderation, site_comments
from bot.handlers.common import (
    NO_PREVIEW,
    Context,
    chat_texts,
    is_private,
    keyboard,
    known_chat,
    redraw,
    remember_chat,
    remember_shown,
    texts_for,
    texts_of,
    zone_of,
)
from bot.i18n import Texts
from bot.render import Button, shown_order
from news.clock import utcnow
from storage import bot_state, published_comments, story_messages
from storage import comments as comment_store
from storage import stories as story_store
from storage.comments import (
    CHOOSING,
    EDITABLE,
    FINAL,
    HELD,
    QUEUED,
    RELAYED,
    CommentDraft,
    CommentView,
)
from storage.engine import writing
from storage.records import StoryView

log = logging.getLogger(__name__)

PAGE_SIZE = 5  # published comments per /comments page
MAX_CHOICES = 10  # stories offered when a reply does not say which one it is about
# After a tap on "✍️ Write a comment", the reader's next plain message within this time is the
# comment (the prompt says so).
COMMENT_TAP_WINDOW = timedelta(minutes=5)


def _retry_for(d: Deps) -> timedelta:
    return timedelta(hours=d.settings.comment_retry_hours)


def entity_types(message: Message) -> list[str]:
    return [str(entity.type) for entity in message.entities]


# Story buttons under a message: "✍️ Write a comment", "💬 Read comments", "More like this".
_STORY_BUTTON = re.compile(r"^(?:cm|cl|mo):(\d{1,12})(?::|$)")


def stories_named_in(message: Message) -> tuple[list[int], list[str]]:
    """What a bot message itself says it shows: the story ids its buttons carry, and the
    links its text carries (a grouped push has no buttons, one link per story)."""
    ids: list[int] = []
    if message.reply_markup is not None:
        for row in message.reply_markup.inline_keyboard:
            for button in row:
                found = _STORY_BUTTON.match(str(button.callback_data or ""))
                if found:
                    ids.append(int(found.group(1)))
    entities = (*message.entities, *message.caption_entities)
    links = [e.url for e in entities if e.type == MessageEntityType.TEXT_LINK and e.url]
    return list(dict.fromkeys(ids)), list(dict.fromkeys(links))


async def _stories_of_reply(context: Context, message: Message) -> list[int]:
    """The stories shown by the bot message ``message`` replies to (none for other messages).

    The record of what a message showed is written just after it is sent (in batches during
    a broadcast), so a reader quick enough can reply before it exists: then the message's
    own buttons and links say which story it is. When both exist the record wins (it also
    knows the order of a list), and a disagreement is logged.
    """
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return []
    named, links = stories_named_in(replied)
    async with deps(context).sessions() as session:
        kind, recorded = await story_messages.stories_of_message(
            session, message.chat_id, replied.message_id
        )
        if kind == "push" and len(recorded) > 1:
            # A grouped push's record has no order: number the stories as the push does.
            found = await story_store.get_stories(session, recorded)
            recorded = [s.id for s in shown_order(list(found.values()))]
        if recorded:
            if named and not set(named) <= set(recorded):
                log.warning(
                    "chat=%s message=%s shows stories %s by its buttons, %s by its record",
                    message.chat_id,
                    replied.message_id,
                    named,
                    recorded,
                )
            return recorded
        if named:
            return named
        return await story_store.story_ids_for_links(session, links) if links else []


async def _waits_for_site(d: Deps, comment: CommentView) -> bool:
    """A comment on its way to the outlet while relaying is paused: the reader is told that
    the site refuses comments for now, not that moderation is under way."""
    return comment.status == QUEUED and d.relay is not None and await d.relay.is_paused()


async def send_prompt(context: Context, chat_id: int, story: StoryView, t: Texts) -> None:
    """Ask for a comment with a ForceReply prompt (in the chat's texts ``t``), remembered as
    showing the story."""
    sent = await context.bot.send_message(
        chat_id,
        comment_texts.prompt(story.title, t=t),
        parse_mode=ParseMode.HTML,
        reply_markup=ForceReply(input_field_placeholder=t._(comment_texts.PROMPT_PLACEHOLDER)),
    )
    await remember_shown(context, sent, [story.id], story_messages.PROMPT)


# --- a new comment ---------------------------------------------------------------------------


async def reply_to_bot(update: Update, context: Context) -> None:
    """A reply in a private chat: a comment when it answers a story message."""
    message = update.effective_message
    assert message is not None
    story_ids = await _stories_of_reply(context, message)
    if story_ids:
        in_reply_to = await _site_reply_target(context, message)
        t = await texts_for(update, context)
        await _submit(context, message, story_ids, t, in_reply_to=in_reply_to)
    elif deps(context).settings.comments_enabled:
        t = await texts_for(update, context)
        await message.reply_text(t._(comment_texts.HOW_TO_COMMENT), do_quote=True)
    else:
        await latest.stray_text(update, context)


async def _site_reply_target(context: Context, message: Message) -> str | None:
    """A reply to a reply notice or its prompt answers that site comment (issue 17)."""
    replied = message.reply_to_message
    if replied is None:
        return None
    async with deps(context).sessions() as session:
        return await published_comments.reply_target(session, message.chat_id, replied.message_id)


async def after_prompt(update: Update, context: Context) -> None:
    """A private message that is not a reply: the comment the reader was asked for, when
    they tapped "✍️ Write a comment" a moment ago (many type it as a plain message instead of
    a reply); anything else gets the usual hint."""
    message = update.effective_message
    d = deps(context)
    if message is None or not is_private(update.effective_chat) or not d.settings.comments_enabled:
        await latest.stray_text(update, context)
        return
    since = utcnow() - COMMENT_TAP_WINDOW
    async with d.sessions() as session:
        story_id = await story_messages.pending_prompt(session, message.chat_id, since)
    if story_id is None:
        await latest.stray_text(update, context)
        return
    stored = await _submit(context, message, [story_id], await texts_for(update, context))
    if stored is not None:
        # Answered: the next plain message is a message again, not a second comment.
        async with writing(d.sessions) as session:
            await story_messages.settle_prompts(session, message.chat_id)


@dataclass(frozen=True, slots=True)
class _Submission:
    """What a new comment is checked and answered with, read in one session."""

    stories: list[StoryView]  # the stories it may be about, at most MAX_CHOICES
    relay_paused: bool  # relaying is paused: a queued comment waits for the site

    @property
    def story(self) -> StoryView | None:
        """The story it is about, when there is just one to choose from."""
        return self.stories[0] if len(self.stories) == 1 else None


@dataclass(frozen=True, slots=True)
class _Stored:
    """The write's result: the verdict, and for an accepted comment the row and whether the
    reader is to hear (once) that their name is public."""

    verdict: Accepted | Refused
    comment: CommentView | None = None
    first_time: bool = False


async def _submit(
    context: Context,
    message: Message,
    story_ids: Sequence[int],
    t: Texts,
    *,
    in_reply_to: str | None = None,
) -> CommentView | None:
    """Check a comment, store it, and answer: refused, which story, or received. Returns the
    stored comment (None when refused)."""
    user = message.from_user
    assert user is not None
    d = deps(context)
    rules = CommentRules.from_settings(d.settings)
    submission = await _read_submission(d, story_ids)
    if rules.enabled and not submission.stories:
        await message.reply_text(t._(comment_texts.STORY_GONE), do_quote=True)
        return None
    stored = await check_and_store(d, message, rules, submission.story, in_reply_to=in_reply_to)
    if isinstance(stored.verdict, Refused):
        log.info("reader=%s comment refused: %s", user.id, stored.verdict.reason)
        await message.reply_html(comment_texts.refusal(stored.verdict, t=t), do_quote=True)
        return None
    comment = stored.comment
    assert comment is not None
    log.info("comment=%s story=%s stored as %s", comment.id, comment.story_id, comment.status)
    if submission.story is None:
        await _ask_which_story(message, comment, submission.stories, t)
        return comment
    paused = comment.status == QUEUED and submission.relay_paused
    sent = await message.reply_html(
        comment_texts.received(comment.article_title, t=t, paused=paused),
        link_preview_options=NO_PREVIEW,
        do_quote=True,
    )
    await _tell_name_is_public(context, comment, stored.first_time, t)
    await _follow_up(context, comment, sent.message_id)
    return comment


async def _read_submission(d: Deps, story_ids: Sequence[int]) -> _Submission:
    """The stories a comment may be about, and whether relaying is paused, in one read."""
    async with d.sessions() as session:
        found = await story_store.get_stories(session, list(story_ids))
        paused = d.relay is not None and await bot_state.relay_paused(session)
    stories = [found[i] for i in story_ids if i in found][:MAX_CHOICES]
    return _Submission(stories, paused)


async def check_and_store(
    d: Deps,
    message: Message,
    rules: CommentRules,
    story: StoryView | None,
    *,
    in_reply_to: str | None = None,
    parent_id: int | None = None,
    language: str | None = None,
    in_group: bool = False,
) -> _Stored:
    """One transaction: the reader's history (locked, so comments sent at once see each
    other), the checks, and for an accepted comment the comment with its outbox row.

    A private comment is in the reader's language and tells them once that their name is
    public; one in a channel's discussion (``in_group``) is in the story's edition's
    (``language``) and answers ``parent_id``, another comment there."""
    user = message.from_user
    assert user is not None
    now = utcnow()
    lookback, most = rate_lookback(rules.rate)
    async with writing(d.sessions) as session:
        history = await comment_store.commenter_history(
            session, user.id, since=now - lookback, limit=most
        )
        verdict = check_comment(
            message.text,
            entity_types(message),
            rules,
            banned=history.commenter is not None and history.commenter.banned,
            previous=history.previous,
            recent=history.recent,
            now=now,
        )
        if isinstance(verdict, Refused):
            return _Stored(verdict)
        # A group message's sender language is no choice of theirs: it does not set theirs.
        reader_language = None if in_group else user.language_code
        commenter = await comment_store.touch_commenter(
            session, user.id, telegram_name=user.full_name, language=reader_language, now=now
        )
        draft = CommentDraft(
            user_id=user.id,
            chat_id=message.chat_id,
            message_id=message.message_id,
            author_name=commenter.name,
            text=verdict.text,
            language=language if in_group else user.language_code,
            parent_id=parent_id,
            in_reply_to=in_reply_to,
        )
        comment = await comment_store.add_comment(
            session,
            draft,
            story,
            status=verdict.status if story is not None else CHOOSING,
            now=now,
            retry_for=_retry_for(d),
            held_for=verdict.held_for,
        )
        first_time = (
            story is not None
            and not in_group
            and await comment_store.mark_notified(session, user.id, now)
        )
    return _Stored(verdict, comment, first_time)


async def _ask_which_story(
    message: Message, comment: CommentView, stories: Sequence[StoryView], t: Texts
) -> None:
    """A reply to a list or a grouped push: one numbered button per story it showed."""
    buttons = [
        [
            Button(
                comment_texts.choice_label(number, s.title, t=t),
                callback=f"ck:{comment.id}:{s.id}",
            )
        ]
        for number, s in enumerate(stories, start=1)
    ]
    await message.reply_html(
        t._(comment_texts.CHOOSE_STORY), reply_markup=keyboard(buttons), do_quote=True
    )


async def _tell_name_is_public(
    context: Context, comment: CommentView, first_time: bool, t: Texts
) -> None:
    """The one-time notice, as a message of its own: the confirmation above it is edited
    when the comment's fate is known, and the notice must not vanish with that edit."""
    if first_time:
        await context.bot.send_message(
            comment.chat_id,
            comment_texts.public_notice(comment.author_name, t=t).strip(),
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
        )


async def _follow_up(context: Context, comment: CommentView, answer_message_id: int) -> None:
    """After the confirmation: remember it, start the comment on its way, and catch up with
    a relay that was faster than the confirmation."""
    d = deps(context)
    try:
        async with writing(d.sessions) as session:
            current = await comment_store.answered(session, comment.id, answer_message_id)
    finally:
        # Woken only now, so that the relay's verdict usually finds the confirmation to edit.
        if comment.status == QUEUED and d.relay is not None:
            d.relay.wake()
    if comment.status == HELD:
        await moderation.send_cards(context.bot, d, comment)
    if current is not None and current.status in (*FINAL, RELAYED):
        await d.notifier.comment_changed(current)


async def pick_story(update: Update, context: Context) -> None:
    """A numbered story button under "Which story is your comment about?"."""
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    comment_id = parse_id(parts[1]) if len(parts) == 3 else None
    story_id = parse_id(parts[2]) if len(parts) == 3 else None
    if comment_id is None or story_id is None or not isinstance(query.message, Message):
        await query.answer()
        return
    d = deps(context)
    t = await texts_for(update, context)
    async with d.sessions() as session:
        comment = await comment_store.get_comment(session, comment_id)
        story = await story_store.get_story(session, story_id)
    if comment is None:
        await query.answer(t._(comment_texts.COMMENT_GONE))
        return
    if comment.user_id != query.from_user.id:
        await query.answer(t._(comment_texts.NOT_YOUR_COMMENT), show_alert=True)
        return
    if story is None:
        await query.answer(t._(comment_texts.STORY_GONE), show_alert=True)
        return
    now = utcnow()
    first_time = False
    async with writing(d.sessions) as session:
        chosen = await comment_store.choose_story(
            session,
            comment_id,
            story,
            # Where it goes was decided when it was checked: held_for says why it waits.
            status=HELD if comment.held_for else QUEUED,
            now=now,
            retry_for=_retry_for(d),
            held_for=comment.held_for,
        )
        if chosen is not None:
            first_time = await comment_store.mark_notified(session, comment.user_id, now)
    if chosen is None:
        await query.answer(t._(comment_texts.ALREADY_CHOSEN))
        return
    await query.answer()
    await redraw(
        query,
        comment_texts.received(
            chosen.article_title, t=t, paused=await _waits_for_site(deps(context), chosen)
        ),
        [],
        link_preview_options=NO_PREVIEW,
    )
    await _tell_name_is_public(context, chosen, first_time, t)
    await _follow_up(context, chosen, query.message.message_id)


async def comment_button(update: Update, context: Context) -> None:
    """ "✍️ Write a comment" under a story: a prompt in private chats, a private-chat link in
    groups."""
    query = update.callback_query
    assert query is not None and query.data is not None
    story_id = parse_id(query.data.removeprefix("cm:"))
    chat = update.effective_chat
    if story_id is None or chat is None:
        await query.answer()
        return
    if not deps(context).settings.comments_enabled:
        t = await texts_for(update, context)
        await query.answer(t._(comment_texts.NOT_ENABLED), show_alert=True)
        return
    if not is_private(chat):
        # Telegram opens this link for the reader: a private chat started with c_<story>.
        await query.answer(url=f"https://t.me/{context.bot.username}?start=c_{story_id}")
        return
    t = await texts_for(update, context)
    async with deps(context).sessions() as session:
        story = await story_store.get_story(session, story_id)
    if story is None:
        await query.answer(t._(comment_texts.STORY_GONE), show_alert=True)
        return
    await send_prompt(context, chat.id, story, t)
    await query.answer()


# --- edits -----------------------------------------------------------------------------------


async def comment_edited(update: Update, context: Context) -> None:
    """An edited message: update the comment while it is still here, else say it is too late.

    An edited reply that was refused before (too long, say) is a new attempt.
    """
    message = update.edited_message
    if message is None or message.from_user is None:
        return
    d = deps(context)
    async with d.sessions() as session:
        comment = await comment_store.find_by_source(session, message.chat_id, message.message_id)
    if comment is None:
        story_ids = await _stories_of_reply(context, message)
        if story_ids:
            await _submit(context, message, story_ids, await texts_for(update, context))
        return
    if comment.user_id != message.from_user.id:
        return
    t = await texts_for(update, context)
    if comment.status not in EDITABLE:
        await message.reply_text(comment_texts.too_late(comment, t=t), do_quote=True)
        return
    verdict = check_edit(
        message.text,
        entity_types(message),
        CommentRules.from_settings(d.settings),
        status=comment.status,
        held_for=comment.held_for,
    )
    if isinstance(verdict, Refused):
        await message.reply_html(
            f"{comment_texts.refusal(verdict, t=t)} {t._(comment_texts.EDIT_KEPT)}",
            link_preview_options=NO_PREVIEW,
            do_quote=True,
        )
        return
    async with writing(d.sessions) as session:
        changed = await comment_store.edit_comment(session, comment.id, verdict.text, utcnow())
        current = changed or await comment_store.get_comment(session, comment.id)
    if changed is None:
        await message.reply_text(comment_texts.too_late(current or comment, t=t), do_quote=True)
        return
    log.info("comment=%s edited by its author", changed.id)
    await message.reply_html(comment_texts.updated(changed.article_title, t=t), do_quote=True)
    if changed.status == HELD:
        await moderation.send_cards(context.bot, d, changed, edited=True)


# --- /name and /mycomments ---------------------------------------------------------------


async def name_command(update: Update, context: Context) -> None:
    """/name shows the name under the reader's comments; /name NEW NAME or /name reset sets it."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    t = await texts_for(update, context)
    if user is None or not is_private(update.effective_chat):
        await message.reply_text(t._(comment_texts.NAME_PRIVATE_ONLY))
        return
    parts = (message.text or "").split(maxsplit=1)
    raw = parts[1].strip() if len(parts) > 1 else ""
    d = deps(context)
    if not raw:
        async with d.sessions() as session:
            commenter = await comment_store.get_commenter(session, user.id)
        shown = commenter.name if commenter else user.full_name
        chosen = commenter is not None and commenter.chosen_name is not None
        await message.reply_html(comment_texts.name_shown(shown, chosen, t=t))
        return
    chosen_name: str | None = None
    if raw.lower() not in ("-", "reset"):
        checked = check_name(raw)
        if isinstance(checked, Refused):
            await message.reply_html(comment_texts.name_refused(checked, t=t))
            return
        chosen_name = checked
    async with writing(d.sessions) as session:
        commenter = await comment_store.set_display_name(
            session, user.id, chosen_name, telegram_name=user.full_name, now=utcnow()
        )
    await message.reply_html(comment_texts.name_set(commenter.name, t=t))


async def mycomments_command(update: Update, context: Context) -> None:
    """/mycomments: the reader's last comments, each with what became of it."""
    message, user = update.effective_message, update.effective_user
    assert message is not None
    if user is None or not is_private(update.effective_chat):
        t = await texts_for(update, context)
        await message.reply_text(t._(comment_texts.MY_COMMENTS_PRIVATE_ONLY))
        return
    chat = await remember_chat(update, context)
    t = texts_of(chat, deps(context), user.language_code)
    async with deps(context).sessions() as session:
        comments = await comment_store.user_comments(session, user.id, limit=10)
        links = await published_comments.shown_urls(
            session, [c.id for c in comments if c.status == comment_texts.PUBLISHED]
        )
    text = comment_texts.my_comments(comments, zone_of(chat, deps(context)), t=t, links=links)
    await message.reply_html(text, link_preview_options=NO_PREVIEW)


# --- reading comments ----------------------------------------------------------------------


async def _comment_page(
    context: Context,
    story_id: int,
    offset: int,
    t: Texts,
    zone: ZoneInfo,
    viewer: int | None = None,
) -> tuple[str, list[list[Button]]] | None:
    """One page of a story's published comments with its paging buttons; None: no story."""
    if deps(context).settings.comments_url:  # the site's own conversation (issue 17)
        return await site_comments.story_comment_page(context, story_id, offset, t, zone, viewer)
    async with deps(context).sessions() as session:
        story = await story_store.get_story(session, story_id)
        comments = await comment_store.story_comments(
            session, story_id, limit=PAGE_SIZE + 1, offset=offset
        )
    if story is None:
        return None
    text, shown = comment_texts.comment_list(
        story.title, comments[:PAGE_SIZE], zone, offset=offset, t=t
    )
    row: list[Button] = []
    if offset > 0:
        # Translators: pages back to newer comments; the arrow points back in reading order.
        newer = t.pgettext("button", "‹ Newer")
        row.append(Button(newer, callback=f"cl:{story_id}:{max(0, offset - PAGE_SIZE)}:e"))
    # Long comments may leave room for fewer than a page: the next page starts after the
    # last one shown, so none is skipped.
    if len(comments) > shown and shown and offset + shown <= MAX_OFFSET:
        # Translators: pages on to older comments; the arrow points forward in reading order.
        older = t.pgettext("button", "Older ›")
        row.append(Button(older, callback=f"cl:{story_id}:{offset + shown}:e"))
    return text, [row] if row else []


async def _send_page(
    context: Context, message: Message, story_id: int, t: Texts, zone: ZoneInfo
) -> None:
    viewer = message.from_user.id if message.from_user else None
    page = await _comment_page(context, story_id, 0, t, zone, viewer)
    if page is None:
        await message.reply_text(t._(comment_texts.STORY_GONE))
        return
    text, buttons = page
    await message.reply_html(text, reply_markup=keyboard(buttons), link_preview_options=NO_PREVIEW)


async def comments_command(update: Update, context: Context) -> None:
    """/comments as a reply to a story message, or /comments <story id>."""
    message = update.effective_message
    assert message is not None
    chat = await remember_chat(update, context)
    t = chat_texts(update, context, chat)
    zone = zone_of(chat, deps(context))
    if context.args:
        story_id = parse_id(context.args[0])
        if story_id is None:
            await message.reply_html(t._(comment_texts.COMMENTS_USAGE))
            return
        await _send_page(context, message, story_id, t, zone)
        return
    story_ids = await _stories_of_reply(context, message)
    if len(story_ids) == 1:
        await _send_page(context, message, story_ids[0], t, zone)
        return
    if not story_ids:
        await message.reply_html(t._(comment_texts.COMMENTS_USAGE))
        return
    async with deps(context).sessions() as session:
        found = await story_store.get_stories(session, story_ids)
    stories = [found[i] for i in story_ids if i in found][:MAX_CHOICES]
    buttons = [
        [Button(comment_texts.choice_label(n, s.title, t=t), callback=f"cl:{s.id}:0")]
        for n, s in enumerate(stories, start=1)
    ]
    await message.reply_html(
        t._(comment_texts.WHICH_STORY_COMMENTS), reply_markup=keyboard(buttons)
    )


def _thread_of_query(query: CallbackQuery) -> int | None:
    message = query.message
    if isinstance(message, Message) and message.is_topic_message:
        return message.message_thread_id
    return None


async def comments_button(update: Update, context: Context) -> None:
    """ "💬 Read comments" under a story sends the first page; ‹ Newer / Older › turn it in
    place."""
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    story_id = parse_id(parts[1]) if len(parts) in (3, 4) else None
    offset = parse_id(parts[2]) if len(parts) in (3, 4) else None
    chat = update.effective_chat
    known = await known_chat(update, context)
    t = chat_texts(update, context, known)
    if story_id is None or offset is None or chat is None:
        await query.answer(t._(comment_texts.LIST_TOO_OLD))
        return
    zone = zone_of(known, deps(context))
    offset = min(offset, MAX_OFFSET)
    page = await _comment_page(context, story_id, offset, t, zone, query.from_user.id)
    if page is None:
        await query.answer(t._(comment_texts.STORY_GONE), show_alert=True)
        return
    text, buttons = page
    await query.answer()
    if len(parts) == 4:
        await redraw(query, text, buttons, link_preview_options=NO_PREVIEW)
        return
    await context.bot.send_message(
        chat.id,
        text,
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard(buttons),
        link_preview_options=NO_PREVIEW,
        message_thread_id=_thread_of_query(query),
    )


HANDLERS = [
    CommandHandler("name", name_command),
    CommandHandler("mycomments", mycomments_command),
    CommandHandler("comments", comments_command),
    CallbackQueryHandler(comment_button, pattern=r"^cm:"),
    CallbackQueryHandler(pick_story, pattern=r"^ck:"),
    CallbackQueryHandler(comments_button, pattern=r"^cl:"),
    # Before the stray-text fallback: a private reply is a comment or gets told how to make one.
    MessageHandler(
        filters.ChatType.PRIVATE & filters.REPLY & ~filters.COMMAND & filters.UpdateType.MESSAGE,
        reply_to_bot,
    ),
    MessageHandler(
        filters.ChatType.PRIVATE & filters.UpdateType.EDITED_MESSAGE & ~filters.COMMAND,
        comment_edited,
    ),
]

# Registered after every other module: private messages nothing else took.
FALLBACK_HANDLERS = [
    MessageHandler(
        filters.ChatType.PRIVATE & ~filters.COMMAND & ~filters.REPLY & filters.UpdateType.MESSAGE,
        after_prompt,
    ),
]
