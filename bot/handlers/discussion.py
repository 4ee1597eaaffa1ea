"""The discussion under each channel post becomes comments on its article.

In a channel's linked discussion group (``bot.channels.ChannelWatch`` knows which groups
those are), Telegram forwards every channel post automatically; the forward starts the post's
thread, and its ``forward_origin`` names the post, whose delivery row names the story
(``storage.channels``). A text message in that thread — a reply to the forward, or to another
message of the thread — is a comment on the story: the same checks as a private comment
(``bot.comment_rules``), the same outbox and relay, moderation when MODERATION_CHAT_ID is set.
A reply to a comment the bot took is relayed as a reply to it (``comment.parent_id``).

The group is a public place, so the bot never floods it: an accepted comment gets a 👍
reaction and no message; a refused one gets one short reply in its thread saying why, and a
reader refused again soon after gets none (``bot.channels.QUIET_AFTER_REFUSAL``, kept in the
database so every instance keeps the same quiet); what the
moderators or the outlet decide later is never announced there. Messages outside story
threads, service messages, anonymous admins and channels, and bots (this one included) are
not comments.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import Message, MessageOriginChannel, ReactionTypeEmoji, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import MessageHandler, filters

from bot import comment_texts
from bot.comment_rules import (
    Accepted,
    CommentRules,
    Refused,
    check_comment,
    check_edit,
    rate_lookback,
)
from bot.deps import Deps, deps
from bot.handlers import moderation
from bot.handlers.common import NO_PREVIEW, Context
from bot.i18n import Texts, chat_locale, texts
from news.clock import utcnow
from storage import channels as channel_store
from storage import comments as comment_store
from storage import stories as story_store
from storage.comments import EDITABLE, HELD, QUEUED, CommentDraft
from storage.engine import writing

log = logging.getLogger(__name__)

ACCEPTED_REACTION = "👍"
THREAD_LIFETIME = channel_store.THREAD_LIFETIME


def _edition_texts(d: Deps, channel_id: int) -> Texts:
    """The texts of the channel's edition: the group reads the channel's language."""
    edition = d.channels.edition_of(channel_id) if d.channels is not None else None
    default = d.settings.default_edition
    return texts(chat_locale(edition, edition, default))


def _entity_types(message: Message) -> list[str]:
    return [str(entity.type) for entity in message.entities]


def _comment_author(message: Message) -> bool:
    """A person writing as themself: not a bot, not a channel or an anonymous admin."""
    user = message.from_user
    return user is not None and not user.is_bot and message.sender_chat is None


async def discussion_message(update: Update, context: Context) -> None:
    """A new message in a channel's discussion group: a forward to remember, a comment, or
    nothing at all."""
    message = update.message
    d = deps(context)
    if message is None or d.channels is None:
        return
    channel_id = d.channels.channel_of_group(message.chat_id)
    if channel_id is None:
        return
    if message.is_automatic_forward:
        await _remember_thread(d, message, channel_id)
        return
    if not d.settings.channel_comments or not _comment_author(message):
        return
    thread = message.message_thread_id
    if thread is None:
        return  # outside every post's thread: people talking to each other
    async with writing(d.sessions) as session:
        story_id = await channel_store.thread_story(session, message.chat_id, thread)
    if story_id is None:
        return  # the thread of a post that shows no story (an editor's own post)
    await _submit(context, message, story_id, channel_id)


async def _remember_thread(d: Deps, message: Message, channel_id: int) -> None:
    origin = message.forward_origin
    if not isinstance(origin, MessageOriginChannel) or origin.chat.id != channel_id:
        return
    async with writing(d.sessions) as session:
        story_id = await channel_store.record_thread(
            session,
            message.chat_id,
            message.message_id,
            channel_id=channel_id,
            post_id=origin.message_id,
            now=utcnow(),
        )
    log.info(
        "chat=%s thread=%s is channel=%s post=%s story=%s",
        message.chat_id,
        message.message_id,
        channel_id,
        origin.message_id,
        story_id,
    )


async def _parent_comment(d: Deps, message: Message) -> int | None:
    """The comment this message replies to, when it replies to one the bot took."""
    replied = message.reply_to_message
    if replied is None or replied.message_id == message.message_thread_id:
        return None
    async with d.sessions() as session:
        parent = await comment_store.find_by_source(session, message.chat_id, replied.message_id)
    return parent.id if parent is not None else None


async def _submit(context: Context, message: Message, story_id: int, channel_id: int) -> None:
    """Check a thread comment, store it with its outbox row, and acknowledge it quietly."""
    user = message.from_user
    assert user is not None
    d = deps(context)
    rules = CommentRules.from_settings(d.settings)
    now = utcnow()
    lookback, most = rate_lookback(rules.rate)
    parent_id = await _parent_comment(d, message)
    comment = None
    async with writing(d.sessions) as session:
        story = await story_store.get_story(session, story_id)
        if story is None or story.first_seen_at < now - THREAD_LIFETIME:
            return
        history = await comment_store.commenter_history(
            session, user.id, since=now - lookback, limit=most
        )
        verdict = check_comment(
            message.text,
            _entity_types(message),
            rules,
            banned=history.commenter is not None and history.commenter.banned,
            previous=history.previous,
            recent=history.recent,
            now=now,
        )
        if isinstance(verdict, Accepted):
            commenter = await comment_store.touch_commenter(
                session, user.id, telegram_name=user.full_name, language=None, now=now
            )
            draft = CommentDraft(
                user_id=user.id,
                chat_id=message.chat_id,
                message_id=message.message_id,
                author_name=commenter.name,
                text=verdict.text,
                language=story.edition,
                parent_id=parent_id,
            )
            comment = await comment_store.add_comment(
                session,
                draft,
                story,
                status=verdict.status,
                now=now,
                retry_for=timedelta(hours=d.settings.comment_retry_hours),
                held_for=verdict.held_for,
            )
    if isinstance(verdict, Refused):
        log.info("reader=%s group comment refused: %s", user.id, verdict.reason)
        await _tell_refusal(d, message, verdict, channel_id)
        return
    assert comment is not None
    log.info(
        "comment=%s story=%s from chat=%s stored as %s",
        comment.id,
        comment.story_id,
        message.chat_id,
        comment.status,
    )
    try:
        await message.set_reaction(ReactionTypeEmoji(ACCEPTED_REACTION))
    except TelegramError as exc:  # reactions off in the group: the comment stands all the same
        log.info("chat=%s no reaction on message=%s: %s", message.chat_id, message.id, exc)
    if comment.status == QUEUED and d.relay is not None:
        d.relay.wake()
    if comment.status == HELD:
        await moderation.send_cards(context.bot, d, comment)


async def _tell_refusal(d: Deps, message: Message, verdict: Refused, channel_id: int) -> None:
    """One short reply in the thread; none when this reader was told a moment ago."""
    assert message.from_user is not None and d.channels is not None
    if not await d.channels.may_explain(message.chat_id, message.from_user.id):
        return
    t = _edition_texts(d, channel_id)
    try:
        await message.reply_text(
            comment_texts.refusal(verdict, t=t),
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
            do_quote=True,
        )
    except TelegramError as exc:
        log.info("chat=%s refusal not told: %s", message.chat_id, exc)


async def discussion_edit(update: Update, context: Context) -> None:
    """An edited thread comment: the comment takes the new text while it has not gone out;
    an edited message that was refused before is a new attempt. Nothing is said in the
    group either way."""
    message = update.edited_message
    d = deps(context)
    if message is None or d.channels is None or not d.settings.channel_comments:
        return
    channel_id = d.channels.channel_of_group(message.chat_id)
    if channel_id is None or not _comment_author(message) or message.message_thread_id is None:
        return
    async with d.sessions() as session:
        comment = await comment_store.find_by_source(session, message.chat_id, message.message_id)
    if comment is None:
        async with writing(d.sessions) as session:
            story_id = await channel_store.thread_story(
                session, message.chat_id, message.message_thread_id
            )
        if story_id is not None:
            await _submit(context, message, story_id, channel_id)
        return
    assert message.from_user is not None
    if comment.user_id != message.from_user.id or comment.status not in EDITABLE:
        return
    verdict = check_edit(
        message.text,
        _entity_types(message),
        CommentRules.from_settings(d.settings),
        status=comment.status,
        held_for=comment.held_for,
    )
    if isinstance(verdict, Refused):
        return
    async with writing(d.sessions) as session:
        changed = await comment_store.edit_comment(session, comment.id, verdict.text, utcnow())
    if changed is not None:
        log.info("comment=%s edited by its author in chat=%s", changed.id, message.chat_id)
        if changed.status == HELD:
            await moderation.send_cards(context.bot, d, changed, edited=True)


_IN_GROUPS = filters.ChatType.SUPERGROUP & ~filters.StatusUpdate.ALL & ~filters.COMMAND

# Registered in a group of their own: they look at every message of the discussion groups
# and never keep other handlers from theirs.
HANDLERS = [
    MessageHandler(_IN_GROUPS & filters.UpdateType.MESSAGE, discussion_message),
    MessageHandler(_IN_GROUPS & filters.UpdateType.EDITED_MESSAGE, discussion_edit),
]
