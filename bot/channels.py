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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType

import telegram
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.config import ChannelSpec
from jobs.push.channels import ChannelTargets, ChannelWording
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
from storage import channels as channel_store
from storage.bot_state import get_state, set_state
from storage.engine import SessionFactory, writing

log = logging.getLogger(__name__)

CHECK_EVERY = 300.0  # seconds between checks of every channel
# After one refusal in a discussion group, that reader's next refusals there are silent for
# this long: the group is a public place. Kept in the database (``refusal_notice``), so that
# every instance and a restart keep the same quiet.
QUIET_AFTER_REFUSAL = timedelta(minutes=10)
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
        self._said: set[str] = set()  # channels whose state this process has logged
        for spec in self._specs:
            # A numeric id is known before any check: posts to a channel broken at start are
            # kept for it, not lost.
            if spec.chat.lstrip("-").isdigit():
                self._ids[spec.chat] = int(spec.chat)
                self._editions[int(spec.chat)] = spec.edition or ""

    @property
    def configured(self) -> bool:
        """Whether CHANNELS names any channel."""
        return bool(self._specs)

    def postable(self) -> list[int]:
        """The channels the bot may post to now."""
        return [
            state.chat_id
            for state in self.states.values()
            if state.ok and state.chat_id is not None
        ]

    def known(self) -> Mapping[int, str]:
        """Every configured channel whose id the bot knows (postable or not) → its edition:
        a read-only view, not a copy (the fan-out asks once per message it sends)."""
        return MappingProxyType(self._editions)

    def edition_of(self, channel_id: int) -> str | None:
        """The edition a channel posts (None: not one of ours)."""
        return self._editions.get(channel_id)

    async def may_explain(self, group_id: int, user_id: int) -> bool:
        """Whether a refused comment may be answered in the group: once per reader per
        QUIET_AFTER_REFUSAL, across instances; noted as answered when True."""
        async with writing(self._sessions) as session:
            return await channel_store.may_tell_refusal(
                session, group_id, user_id, utcnow(), QUIET_AFTER_REFUSAL
            )

    def targets(self, render: ChannelWording) -> ChannelTargets:
        """The channels as the fan-out sees them, posts worded by ``render``."""
        return ChannelTargets(
            known=self.known, postable=self.postable, render=render, trouble=self.check
        )

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
            elif state.state == CHANNEL_NOT_A_CHANNEL and spec.chat in self._ids:
                self._editions.pop(self._ids.pop(spec.chat), None)  # never one to post to
            await self._note(state)
        return found

    async def _note(self, state: ChannelState) -> None:
        """Log and alert when the channel's state differs from the one last recorded."""
        key = _state_key(state.spec)
        first = state.spec.chat not in self._said  # this process's first word on it
        self._said.add(state.spec.chat)
        released = 0
        async with writing(self._sessions) as session:
            before = await get_state(session, key, for_update=True)
            if before != state.state:
                now = utcnow()
                await set_state(session, key, state.state, now)
                if state.ok and before is not None and state.chat_id is not None:
                    # Mended: what waited for it goes out now, not at its next look.
                    released = await channel_store.release_held_posts(session, state.chat_id, now)
        if before == state.state:
            # Unchanged: the admins heard it already; start-up still names a failing channel.
            if first and state.ok:
                log.info("channel %s: %s", state.spec.chat, state.sentence())
            elif first:
                log.error("CHANNELS: the channel %s %s", state.spec.chat, state.sentence())
            return
        if state.ok:
            log.info("channel %s: %s", state.spec.chat, state.sentence())
            if released:
                log.info("channel %s: %d posts that waited go out now", state.spec.chat, released)
            if before is not None:
                await self._alert(AdminAlert(CHANNEL_OK, {"chat": state.spec.chat}))
            return
        log.error("CHANNELS: the channel %s %s", state.spec.chat, state.sentence())
        await self._alert(
            AdminAlert(CHANNEL_PROBLEM, {"chat": state.spec.chat, "problem": state.state})
        )
