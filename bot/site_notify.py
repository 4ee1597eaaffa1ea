"""Telling readers what the site did: their comment published (with a link) or refused, and
replies to their comments. The bot side of ``jobs.outlet_inbox.InboxNotifier``; never raises.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

import telegram
from telegram.constants import ParseMode
from telegram.error import Forbidden

from bot.comment_notify import ReaderCommentNotifier, chat_texts_by_id
from bot.config import Settings
from bot.site_comment_texts import published_status, reply_notice
from news.clock import utcnow
from storage import chats as chat_store
from storage import published_comments as site
from storage.comments import PUBLISHED, CommentView
from storage.engine import SessionFactory, writing
from storage.published_comments import ReplyNotice

log = logging.getLogger(__name__)

REPLY_BUTTON = "sr"  # callback prefix of "↩️ Reply" under a reply notice


class SiteNotifier:
    """Implements ``InboxNotifier`` with the comment notifier's edits and the bot's messages."""

    def __init__(
        self,
        bot: telegram.Bot,
        settings: Settings,
        sessions: SessionFactory,
        comments: ReaderCommentNotifier,
    ) -> None:
        self._bot = bot
        self._settings = settings
        self._sessions = sessions
        self._comments = comments

    async def comment_changed(
        self, comment: CommentView, *, still_trying: bool = False, paused: bool = False
    ) -> None:
        """Published: "✅ published" with a link to it; otherwise the relay's own wording."""
        if comment.status != PUBLISHED or still_trying:
            await self._comments.comment_changed(comment, still_trying=still_trying, paused=paused)
            return
        url = comment.article_url
        try:
            async with self._sessions() as session:
                shown = await site.shown_for_comment(session, comment.id)
            url = (shown.url if shown is not None else None) or url
        except Exception as exc:
            log.warning("comment=%s link unknown: %s", comment.id, exc)
        t = await self._comments.reader_texts(comment)
        await self._comments.show(comment, published_status(comment.article_title, url, t=t))

    async def reply_received(self, notice: ReplyNotice) -> bool:
        """The reply, with "↩️ Reply"; a reply to this message answers on the site."""
        chat_id = notice.user_id
        try:
            t = await chat_texts_by_id(self._sessions, self._settings.default_edition, chat_id)
            async with self._sessions() as session:
                chat = await chat_store.get_chat(session, chat_id)
            zone = ZoneInfo((chat.timezone if chat else None) or self._settings.default_timezone)
            # Translators: the button under a reply notice: answer the comment on the site.
            button = telegram.InlineKeyboardButton(
                t.pgettext("button", "↩️ Reply"), callback_data=f"{REPLY_BUTTON}:{notice.reply.id}"
            )
            sent = await self._bot.send_message(
                chat_id,
                reply_notice(notice, zone, t=t),
                parse_mode=ParseMode.HTML,
                reply_markup=telegram.InlineKeyboardMarkup([[button]]),
                link_preview_options=telegram.LinkPreviewOptions(is_disabled=True),
            )
        except Forbidden as exc:
            log.info("reader=%s not told of a reply (%s)", chat_id, exc)
            return False
        except Exception as exc:
            log.warning("reader=%s not told of a reply: %s", chat_id, exc)
            return False
        try:
            async with writing(self._sessions) as session:
                await site.add_reply_prompt(
                    session,
                    chat_id,
                    sent.message_id,
                    story_id=notice.reply.story_id,
                    in_reply_to=notice.reply.outlet_id,
                    now=utcnow(),
                )
        except Exception as exc:  # the button still works: it asks anew
            log.warning("reader=%s reply notice not remembered: %s", chat_id, exc)
        return True
