"""What handlers need, kept on ``context.bot_data`` under one well-named key."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from telegram.ext import CallbackContext

if TYPE_CHECKING:
    from bot.channels import ChannelWatch
    from bot.comment_notify import ReaderCommentNotifier
    from bot.config import Settings
    from bot.sections import SectionCatalogue
    from bot.services import Services
    from jobs.comment_relay import CommentRelay
    from jobs.fanout import Broadcaster
    from storage.engine import SessionFactory

DEPS_KEY = "newsbot.deps"


class Deps:
    """The one object handlers (and operators' tooling) find on ``bot_data``: the shared
    services built by the composition root, and whether this instance leads. It holds the
    services rather than copying them; the properties are the handlers' short names."""

    __slots__ = ("is_leader", "services")

    def __init__(self, services: Services, *, is_leader: Callable[[], bool]) -> None:
        if services.notifier is None:
            raise ValueError("handlers need the services built with the Telegram bot")
        self.services = services
        # Whether this instance leads: chores every instance would otherwise repeat run on
        # the leader only.
        self.is_leader = is_leader

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def sessions(self) -> SessionFactory:
        return self.services.sessions

    @property
    def notifier(self) -> ReaderCommentNotifier:
        """Tells readers what became of their comments."""
        notifier = self.services.notifier
        assert notifier is not None  # checked when built
        return notifier

    @property
    def broadcaster(self) -> Broadcaster | None:
        return self.services.broadcaster

    @property
    def relay(self) -> CommentRelay | None:
        """None without COMMENTS_URL: nothing goes to the outlet."""
        return self.services.relay

    @property
    def sections(self) -> SectionCatalogue:
        """The offered sections and their names in each language, from the settings."""
        return self.services.sections

    @property
    def channels(self) -> ChannelWatch | None:
        """The outlet's channels and their discussion groups (None without CHANNELS)."""
        return self.services.channels


def deps(context: CallbackContext[Any, Any, Any, Any]) -> Deps:
    """The handlers' dependencies, as placed by the entry point."""
    value = context.bot_data[DEPS_KEY]
    assert isinstance(value, Deps)
    return value
