"""Telling the admins (ADMIN_IDS) what went wrong: the alert monitor's and the comment relay's
alerts (``news.admin_alerts``), worded for each admin in the language of their private chat's
record, else the default edition's. Nothing here raises: an admin who never started the bot
must not stall the relay or the monitor.
"""

from __future__ import annotations

import logging

import telegram
from telegram import LinkPreviewOptions
from telegram.constants import ParseMode

from bot import admin_alert_texts
from bot.comment_notify import chat_texts_by_id
from bot.config import Settings
from news.admin_alerts import AdminAlert
from storage.engine import SessionFactory

log = logging.getLogger(__name__)

_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class AdminAlerter:
    """Sends each alert to every ADMIN_IDS chat, in that admin's language."""

    def __init__(
        self, bot: telegram.Bot, settings: Settings, sessions: SessionFactory | None = None
    ) -> None:
        self._bot = bot
        self._settings = settings
        # Where each admin's chat record (and so their language) is read.
        self._sessions = sessions

    async def alert_admins(self, alert: AdminAlert) -> None:
        """The alert to each ADMIN_IDS chat, in that admin's language; failures are logged."""
        for admin in self._settings.admin_ids:
            try:
                t = await chat_texts_by_id(self._sessions, self._settings.default_edition, admin)
                text = admin_alert_texts.alert_text(alert, t=t)
                await self._bot.send_message(
                    admin, text, parse_mode=ParseMode.HTML, link_preview_options=_NO_PREVIEW
                )
            except Exception as exc:  # an admin who never started the bot, a network error
                log.warning("admin=%s alert %s not sent: %s", admin, alert.code, exc)
