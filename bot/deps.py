"""What handlers need, kept on ``context.bot_data`` under one well-named key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram.ext import CallbackContext

from bot.config import Settings
from bot.sections import SectionCatalogue
from storage.engine import SessionFactory

if TYPE_CHECKING:
    from bot.channels import ChannelWatch
    from bot.comment_notify import TelegramCommentNotifier
    from jobs.comment_relay import CommentRelay
    from jobs.fanout import Broadcaster

DEPS_KEY = "newsbot.deps"


@dataclass(slots=True)
class Deps:
    """The shared objects handlers use: settings, sessions, the push and comment pipelines."""

    settings: Settings
    sessions: SessionFactory
    # Tells readers what became of their comments and admins what went wrong (also the
    # relay's notifier and the alert monitor's voice): one for the whole application.
    notifier: TelegramCommentNotifier
    broadcaster: Broadcaster | None = None
    relay: CommentRelay | None = None  # None without COMMENTS_URL: nothing goes to the outlet
    # Whether this instance leads (set by the app): chores every instance would otherwise
    # repeat run on the leader only.
    is_leader: Callable[[], bool] = field(default=lambda: True)
    # The offered sections and their names in each language, from the settings.
    sections: SectionCatalogue = field(default_factory=SectionCatalogue)
    # The outlet's channels and their discussion groups (None without CHANNELS).
    channels: ChannelWatch | None = None


def deps(context: CallbackContext[Any, Any, Any, Any]) -> Deps:
    """The handlers' dependencies, as placed by the entry point."""
    value = context.bot_data[DEPS_KEY]
    assert isinstance(value, Deps)
    return value
