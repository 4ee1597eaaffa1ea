"""Telling readers what became of their comments: the reader-facing side of the relay's
notifier, and of the moderators' decisions.

The reader's confirmation ("Comment received …") is edited in place when the outlet or the
moderators decide; when that message is gone or can no longer be edited, a fresh message
says it instead. It is worded in the reader's language: their private chat's choice, else
its Telegram language (both from the chat's record), else the default edition's. Nothing
here raises: a reader who blocked the bot must never stall the relay or a moderator's button.
Admins' alerts are ``bot.admin_alerter``'s; ``RelayNotifier`` hands the relay both.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import telegram
from telegram import LinkPreviewOptions, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter

from bot import comment_texts
from bot.config import Settings
from bot.i18n import Texts, chat_locale, texts
from storage import chats as chat_store
from storage.comments import CommentView
from storage.engine import SessionFactory

if TYPE_CHECKING:
    from bot.admin_alerter import AdminAlerter
    from news.admin_alerts import AdminAlert

log = logging.getLogger(__name__)

_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
_ATTEMPTS = 4  # tries when Telegram answers 429 (Too Many Requests)


async def chat_texts_by_id(
    sessions: SessionFactory | None, default_edition: str, chat_id: int
) -> Texts:
    """A chat's texts from its own record: its choice, else its Telegram language, else the
    default edition's (also without ``sessions`` or when the database fails: never raises).
    For a group, never the language of whoever pressed a button, so a redrawn moderation card
    keeps the language it was sent in."""
    chat = None
    if sessions is not None:
        try:
            async with sessions() as session:
                chat = await chat_store.get_chat(session, chat_id)
        except Exception as exc:  # a database hiccup must not keep anyone untold
            log.warning("chat=%s language unknown: %s", chat_id, exc)
    return texts(
        chat_locale(
            chat.locale if chat else None,
            chat.language if chat else None,
            default_edition,
        )
    )


class ReaderCommentNotifier:
    """Tells a reader, in their language, what became of their comment."""

    def __init__(
        self, bot: telegram.Bot, settings: Settings, sessions: SessionFactory | None = None
    ) -> None:
        self._bot = bot
        self._settings = settings
        # Where the reader's chat record (and so their language) is read; without it readers
        # get the default edition's language.
        self._sessions = sessions

    async def reader_texts(self, comment: CommentView) -> Texts:
        """The texts of the reader who wrote ``comment``; never raises."""
        return await chat_texts_by_id(
            self._sessions, self._settings.default_edition, comment.chat_id
        )

    async def comment_changed(
        self, comment: CommentView, *, still_trying: bool = False, paused: bool = False
    ) -> None:
        """Show the comment's new state in the reader's confirmation (or a new message)."""
        t = await self.reader_texts(comment)
        text = comment_texts.status_text(comment, t=t, still_trying=still_trying, paused=paused)
        await self.show(comment, text)

    async def approved_for_site(self, comment: CommentView) -> None:
        """Tell the reader the moderators approved their comment and it goes to the site."""
        t = await self.reader_texts(comment)
        await self.show(comment, comment_texts.approved_for_site(comment.article_title, t=t))

    async def show(self, comment: CommentView, text: str) -> None:
        """Put ``text`` (HTML) where the reader sees their comment's state; never raises.

        A comment written in a channel's discussion group is told nothing: the group is a
        public place, where no verdict of the moderators or the outlet is announced.
        """
        if comment.chat_id < 0:
            return
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                await self._show(comment, text)
                return
            except RetryAfter as exc:
                # Pushes use most of the bot's rate; a burst of verdicts waits its turn.
                wait = exc.retry_after
                seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                if attempt == _ATTEMPTS:
                    self._not_told(comment, exc)
                    return
                await asyncio.sleep(min(seconds, 30.0))
            except Exception as exc:  # blocked, deactivated, network: logged, never raised
                self._not_told(comment, exc)
                return

    async def _show(self, comment: CommentView, text: str) -> None:
        if comment.answer_message_id is not None and await self._edit(comment, text):
            return
        await self._bot.send_message(
            comment.chat_id,
            text,
            parse_mode=ParseMode.HTML,
            link_preview_options=_NO_PREVIEW,
            reply_parameters=ReplyParameters(comment.message_id, allow_sending_without_reply=True),
        )

    @staticmethod
    def _not_told(comment: CommentView, exc: Exception) -> None:
        log.warning(
            "comment=%s chat=%s reader not told of %s: %s",
            comment.id,
            comment.chat_id,
            comment.status,
            exc,
        )

    async def _edit(self, comment: CommentView, text: str) -> bool:
        """Edit the confirmation; False when it is gone or too old, so a new message is due."""
        assert comment.answer_message_id is not None
        try:
            await self._bot.edit_message_text(
                text,
                chat_id=comment.chat_id,
                message_id=comment.answer_message_id,
                parse_mode=ParseMode.HTML,
                link_preview_options=_NO_PREVIEW,
            )
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return True  # told already (the handler and the relay raced)
            log.info("comment=%s confirmation not editable (%s); sending anew", comment.id, exc)
            return False
        return True


class RelayNotifier:
    """The relay's ``CommentNotifier``: readers hear from ``readers``, admins from ``admins``."""

    def __init__(self, readers: ReaderCommentNotifier, admins: AdminAlerter) -> None:
        self._readers = readers
        self._admins = admins

    async def comment_changed(
        self, comment: CommentView, *, still_trying: bool = False, paused: bool = False
    ) -> None:
        """Show the comment's new state to its reader."""
        await self._readers.comment_changed(comment, still_trying=still_trying, paused=paused)

    async def alert_admins(self, alert: AdminAlert) -> None:
        """One alert to each admin, in their language."""
        await self._admins.alert_admins(alert)
