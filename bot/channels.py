"""The outlet's channels (CHANNELS): can the bot post there, and where do their discussions
happen.

Each channel is checked at start, every ``CHECK_EVERY`` and whenever a post to it fails: it
must exist, be a channel, and have the bot as an administrator allowed to post messages. A
channel that fails is named in one sentence (``newsbot check``, the log) and the admins hear
it once per change of state (kept in ``bot_state``, so a restart or another instance does
not repeat it); the rest of the bot carries on. The check also learns the channel's numeric
id (for an ``@username``) and its linked discussion group (``getChat``'s
``linked_chat_id``), where readers' replies become comments (``bot.handlers.discussion``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import telegram
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.config import ChannelSpec, Settings
from bot.push_render import ChannelPostRenderer
from bot.sections import SectionCatalogue
from jobs.fanout import Broadcaster, ChannelTargets
from news.admin_alerts import (
    CHANNEL_CANNOT_POST,
    CHANNEL_MISSING,
    CHANNEL_NOT_A_CHANNEL,
    CHANNEL_NOT_ADMIN,
    CHANNEL_OK,
    CHANNEL_PROBLEM,
    AdminAlert,
)
from news.clock import utcnow
from storage.bot_state import get_state, set_state
from storage.engine import SessionFactory, writing

log = logging.getLogger(__name__)

CHECK_EVERY = 300.0  # seconds between checks of every channel
# After one refusal in a discussion group, that reader's next refusals there are silent for
# this long (seconds): the group is a public place.
QUIET_AFTER_REFUSAL = 600.0
OK = "ok"
UNKNOWN = "unknown"  # the Bot API could not be asked (network): no change of state

# The problems in plain words, for `newsbot check` and the log.
PROBLEMS = {
    CHANNEL_MISSING: "does not exist, or the bot cannot see it",
    CHANNEL_NOT_A_CHANNEL: "is not a channel",
    CHANNEL_NOT_ADMIN: "does not have the bot as an administrator",
    CHANNEL_CANNOT_POST: "has the bot as an administrator without the right to post messages",
}


@dataclass(frozen=True, slots=True)
class ChannelState:
    """What a check found: ``state`` is OK, UNKNOWN or one of the CHANNEL_* problems."""

    spec: ChannelSpec
    state: str
    chat_id: int | None = None
    title: str | None = None
    discussion_id: int | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        """The bot can post there."""
        return self.state == OK

    def sentence(self) -> str:
        """One sentence for `newsbot check` and the log."""
        if self.ok:
            talk = (
                f", discussion group {self.discussion_id}"
                if self.discussion_id is not None
                else ", no discussion group"
            )
            return f"{self.title!r} ({self.chat_id}), the bot may post{talk}"
        if self.state == UNKNOWN:
            return f"could not be checked ({self.detail})"
        return f"{PROBLEMS.get(self.state, self.state)}; nothing is posted there"


async def check_channel(bot: telegram.Bot, spec: ChannelSpec) -> ChannelState:
    """Ask the Bot API whether the bot can post to the channel ``spec`` names."""
    try:
        chat = await bot.get_chat(spec.chat_id)
    except (BadRequest, Forbidden):
        return ChannelState(spec, CHANNEL_MISSING)
    except TelegramError as exc:
        return ChannelState(spec, UNKNOWN, detail=f"{type(exc).__name__}: {exc.message}")

    def found(state: str) -> ChannelState:
        return ChannelState(spec, state, chat.id, chat.title, chat.linked_chat_id)

    if chat.type != ChatType.CHANNEL:
        return found(CHANNEL_NOT_A_CHANNEL)
    try:
        member = await bot.get_chat_member(chat.id, bot.id)
    except (BadRequest, Forbidden):
        return found(CHANNEL_NOT_ADMIN)
    except TelegramError as exc:
        return ChannelState(spec, UNKNOWN, detail=f"{type(exc).__name__}: {exc.message}")
    if member.status not in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER):
        return found(CHANNEL_NOT_ADMIN)
    if isinstance(member, telegram.ChatMemberAdministrator) and not member.can_post_messages:
        return found(CHANNEL_CANNOT_POST)
    return found(OK)


def _state_key(spec: ChannelSpec) -> str:
    return f"channel_state:{spec.chat.lower()}"


class ChannelWatch:
    """Checks every configured channel and remembers what it found: the channels to post to
    (numeric id → edition) and their discussion groups (group id → channel id)."""

    def __init__(
        self,
        bot: telegram.Bot,
        specs: Sequence[ChannelSpec],
        sessions: SessionFactory,
        alert: Callable[[AdminAlert], Awaitable[None]],
    ) -> None:
        self._bot = bot
        self._specs = tuple(specs)
        self._sessions = sessions
        self._alert = alert
        self.states: dict[str, ChannelState] = {}
        # Learnt ids are kept when a later check cannot ask (network), or finds a problem: a
        # discussion group keeps taking comments on posts already made.
        self._ids: dict[str, int] = {}
        self._groups: dict[int, int] = {}
        self._editions: dict[int, str] = {}
        # (group, reader) -> when the reader was last told why a comment was refused.
        self._explained: dict[tuple[int, int], float] = {}

    @property
    def configured(self) -> bool:
        """Whether CHANNELS names any channel."""
        return bool(self._specs)

    def postable(self) -> list[tuple[int, str]]:
        """The channels the bot may post to now, as (chat id, edition)."""
        return [
            (state.chat_id, state.spec.edition or "")
            for state in self.states.values()
            if state.ok and state.chat_id is not None
        ]

    def channel_ids(self) -> set[int]:
        """Every configured channel's id the bot has learnt (postable or not)."""
        return set(self._ids.values())

    def edition_of(self, channel_id: int) -> str | None:
        """The edition a channel posts (None: not one of ours)."""
        return self._editions.get(channel_id)

    def may_explain(self, group_id: int, user_id: int, now: float) -> bool:
        """Whether a refused comment may be answered in the group: once per reader per
        QUIET_AFTER_REFUSAL (``now``: a monotonic clock); noted as answered when True."""
        key = (group_id, user_id)
        if now - self._explained.get(key, -QUIET_AFTER_REFUSAL) < QUIET_AFTER_REFUSAL:
            return False
        if len(self._explained) > 10_000:  # bounded: forget those told long ago
            self._explained = {
                k: v for k, v in self._explained.items() if now - v < QUIET_AFTER_REFUSAL
            }
        self._explained[key] = now
        return True

    def channel_of_group(self, group_id: int) -> int | None:
        """The channel whose discussion group ``group_id`` is (None: not one of ours)."""
        return self._groups.get(group_id)

    async def check(self) -> list[ChannelState]:
        """Check every channel; alert the admins about each change of state."""
        found: list[ChannelState] = []
        for spec in self._specs:
            state = await check_channel(self._bot, spec)
            found.append(state)
            if state.state == UNKNOWN:
                log.warning("channel %s %s", spec.chat, state.sentence())
                continue
            self.states[spec.chat] = state
            if state.chat_id is not None and state.state != CHANNEL_NOT_A_CHANNEL:
                self._ids[spec.chat] = state.chat_id
                self._editions[state.chat_id] = spec.edition or ""
                if state.discussion_id is not None:
                    self._groups[state.discussion_id] = state.chat_id
            await self._note(state)
        return found

    async def _note(self, state: ChannelState) -> None:
        """Log and alert when the channel's state differs from the one last recorded."""
        key = _state_key(state.spec)
        async with writing(self._sessions) as session:
            before = await get_state(session, key, for_update=True)
            if before == state.state:
                return
            await set_state(session, key, state.state, utcnow())
        if state.ok:
            log.info("channel %s: %s", state.spec.chat, state.sentence())
            if before is not None:
                await self._alert(AdminAlert(CHANNEL_OK, {"chat": state.spec.chat}))
            return
        log.error("channel %s %s", state.spec.chat, state.sentence())
        await self._alert(
            AdminAlert(CHANNEL_PROBLEM, {"chat": state.spec.chat, "problem": state.state})
        )


def post_to_channels(
    watch: ChannelWatch,
    broadcaster: Broadcaster,
    settings: Settings,
    bot_username: str,
    sections: SectionCatalogue,
) -> None:
    """Make the checked channels recipients of every new story of their edition."""
    renderer = ChannelPostRenderer(
        bot_username,
        settings.default_timezone,
        default_locale=settings.default_edition,
        comment_button=settings.comments_enabled,
        discussion_note=settings.comments_enabled and settings.channel_comments,
        sections=sections,
    )
    broadcaster.set_channels(
        ChannelTargets(
            postable=watch.postable,
            known=watch.channel_ids,
            render=renderer,
            trouble=watch.check,
        )
    )
