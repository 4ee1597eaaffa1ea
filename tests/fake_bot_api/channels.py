"""Channels and their discussion groups: channels as tests set them up, the automatic forward
of each channel post into the linked discussion group, comment threads, and
``setMessageReaction``.

What the Bot API documentation says, and the fake does:

* ``getChat`` on a channel or supergroup returns ``linked_chat_id`` when the two are linked
  (``ChatFullInfo``); the bot reads a public channel by ``@username`` even when it is not
  there, a private one not at all ("chat not found").
* Bots join channels only as administrators; posting needs ``can_post_messages``
  (``ChatMemberAdministrator``); ``getChatMember`` on the bot says which rights it has.
* A channel post (``Message`` in a channel) has ``sender_chat`` set to the channel and no
  ``from`` ("may be empty for messages sent to channels").
* In the discussion group, each channel post arrives as a message with
  ``is_automatic_forward`` set, sent on behalf of the channel (``sender_chat``), whose
  ``forward_origin`` is a ``MessageOriginChannel`` (``type`` "channel", ``chat``,
  ``message_id`` of the post, ``date``).
* A reply in the post's thread carries ``message_thread_id``: "unique identifier of a message
  thread to which the message belongs; for supergroups only".
* ``setMessageReaction``: bots set at most one reaction per message; service messages can't
  be reacted to; an automatic forward has the channel's reactions; returns True.
* Flood: Telegram documents "no more than 20 messages per minute" in one group; the fake
  meters channels the same way (``per_chat_limits``), answering 429 with ``retry_after``.

What the documentation does not say, and the fake assumes:

* The automatic forward comes from the service account 777000 ("Telegram"), keeps the
  post's text and entities and drops its inline keyboard, and is delivered to the bot like
  any group message (so privacy mode hides it unless the bot is an admin of the group).
* Editing a channel post edits its forward too, which the bot gets as ``edited_message``.
* Users' replies carry ``message_thread_id`` equal to the forward's message id whether they
  reply to the forward itself or to another message of its thread; the forward itself has
  no ``message_thread_id``.
* Reactions are not metered by the per-chat message limit, and set no update for the bot.
* The bot gets no ``channel_post`` update for its own posts.
"""

from __future__ import annotations

import time
from typing import Any

from tests.fake_bot_api.core import FakeBotApiCore
from tests.fake_bot_api.errors import bad_request
from tests.fake_bot_api.models import FakeChat, FakeUser, StoredMessage
from tests.fake_bot_api.params import Params

__all__ = ["SERVICE_USER_ID", "ChannelsMixin"]

SERVICE_USER_ID = 777000  # Telegram's own account, the sender of automatic forwards

# The reactions every chat allows by default (a part of Telegram's list of emoji).
_DEFAULT_REACTIONS = frozenset(
    [
        "👍",
        "👎",
        "❤",
        "🔥",
        "🥰",
        "👏",
        "😁",
        "🤔",
        "🤯",
        "😱",
        "🤬",
        "😢",
        "🎉",
        "🤩",
        "🙏",
        "👌",
        "🕊",
        "🤝",
        "✍",
        "💯",
        "⚡",
        "🏆",
        "👀",
        "😎",
        "🤗",
        "🆒",
    ]
)
# Messages with one of these fields are service messages.
_SERVICE_FIELDS = (
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "pinned_message",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "forum_topic_created",
)


class ChannelsMixin(FakeBotApiCore):
    """Channels, linked discussion groups, automatic forwards and reactions."""

    # --- setting up -----------------------------------------------------------------------

    def add_channel(
        self,
        title: str = "Test channel",
        *,
        username: str | None = None,
        bot_admin: bool = True,
        can_post: bool = True,
    ) -> FakeChat:
        """A channel (ids like -1002100000001); the bot is an admin allowed to post unless
        told otherwise (``bot_admin=False``: not in the channel at all)."""
        chat = FakeChat(
            id=-next(self._supergroup_ids),
            type="channel",
            title=title,
            username=username,
            bot_status="administrator" if bot_admin else "left",
            bot_can_post=can_post,
        )
        self.chats[chat.id] = chat
        if chat.username:
            self._chats_by_username[chat.username.lower()] = chat
        return chat

    def link_discussion(self, channel: FakeChat, group: FakeChat) -> None:
        """Make ``group`` (a supergroup) the channel's discussion group."""
        if not channel.is_channel or group.type != "supergroup":
            raise ValueError("a channel's discussion group is a supergroup")
        channel.linked_chat_id = group.id
        group.linked_chat_id = channel.id

    def set_bot_rights(self, channel: FakeChat, *, admin: bool, can_post: bool = True) -> None:
        """Change the bot's place in a channel (silently, as an owner's change of rights)."""
        channel.bot_status = "administrator" if admin else "left"
        channel.bot_can_post = can_post

    def forward_of(self, channel: FakeChat, post_id: int) -> StoredMessage | None:
        """The automatic forward of a channel post in its discussion group, if any."""
        if channel.linked_chat_id is None:
            return None
        for (chat_id, _), stored in self._messages.items():
            if chat_id != channel.linked_chat_id:
                continue
            origin = stored.message.get("forward_origin") or {}
            if stored.message.get("is_automatic_forward") and origin.get("message_id") == post_id:
                return stored
        return None

    def channel_post(self, channel: FakeChat, text: str) -> StoredMessage:
        """Someone else (an editor) posts in the channel; it is forwarded to the discussion."""
        message = self._new_message(channel, self.bot)
        message.pop("from", None)
        message["sender_chat"] = channel.to_dict()
        message["text"] = text
        stored = self._store(message, from_bot=False)
        self._channel_posted(channel, stored)
        return stored

    def join_group(self, user: FakeUser, group: FakeChat) -> dict[str, Any]:
        """A user joins a group: the ``new_chat_members`` service message."""
        group.members[user.id] = "member"
        message = self._new_message(group, user)
        message["new_chat_members"] = [user.to_dict()]
        self._store(message, from_bot=False)
        return self._enqueue("message", message)

    # --- what happens after a channel post ------------------------------------------------

    def _service_user(self) -> dict[str, Any]:
        return {"id": SERVICE_USER_ID, "is_bot": False, "first_name": "Telegram"}

    def _as_channel_post(self, channel: FakeChat, message: dict[str, Any]) -> None:
        """A message in a channel is signed by the channel, not by a user."""
        message.pop("from", None)
        message["sender_chat"] = channel.to_dict()

    def _channel_posted(self, channel: FakeChat, post: StoredMessage) -> None:
        """Forward a new channel post into the discussion group, as Telegram does."""
        group = self.chats.get(channel.linked_chat_id or 0)
        if group is None:
            return
        forward: dict[str, Any] = {
            "message_id": group.next_message_id,
            "from": self._service_user(),
            "sender_chat": channel.to_dict(),
            "chat": group.to_dict(),
            "date": int(time.time()),
            "is_automatic_forward": True,
            "forward_origin": {
                "type": "channel",
                "chat": channel.to_dict(),
                "message_id": post.message_id,
                "date": post.message["date"],
            },
        }
        group.next_message_id += 1
        for key in ("text", "entities", "caption", "caption_entities", "photo"):
            if key in post.message:
                forward[key] = post.message[key]
        self._store(forward, from_bot=False)
        if self._group_sees(group, forward):
            self._enqueue("message", forward)

    def _channel_post_edited(self, channel: FakeChat, post: StoredMessage) -> None:
        """An edited channel post edits its forward in the discussion group."""
        forward = self.forward_of(channel, post.message_id)
        if forward is None:
            return
        for key in ("text", "entities", "caption", "caption_entities"):
            if key in post.message:
                forward.message[key] = post.message[key]
            else:
                forward.message.pop(key, None)
        forward.message["edit_date"] = int(time.time())
        forward.edit_count += 1
        group = self.chats[forward.chat_id]
        if self._group_sees(group, forward.message):
            self._enqueue("edited_message", forward.message)

    def _group_sees(self, group: FakeChat, message: dict[str, Any]) -> bool:
        """Whether the bot gets a group message; privacy mode hides most of them from a
        member that is not an admin (``UsersMixin._bot_sees`` has the full rule)."""
        if group.bot_status not in ("member", "administrator", "creator"):
            return False
        return not self.privacy_mode or group.bot_status == "administrator"

    # --- Bot API methods ------------------------------------------------------------------

    async def _set_message_reaction(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=False)
        message_id = params.get("message_id")
        if not message_id:
            raise bad_request("message identifier is not specified")
        stored = self._messages.get((chat.id, int(message_id)))
        if stored is None or stored.deleted:
            raise bad_request("message to react not found")
        if any(key in stored.message for key in _SERVICE_FIELDS):
            raise bad_request("MESSAGE_NOT_MODIFIED: service messages can't be reacted to")
        reaction = params.get("reaction") or []
        if not isinstance(reaction, list):
            raise bad_request("can't parse reaction JSON object")
        if len(reaction) > 1:
            raise bad_request("REACTIONS_TOO_MANY")
        for item in reaction:
            if not isinstance(item, dict) or item.get("type") != "emoji":
                raise bad_request("REACTION_INVALID")
            if str(item.get("emoji", "")).replace("\ufe0f", "") not in _DEFAULT_REACTIONS:
                raise bad_request("REACTION_INVALID")
        self.reactions[(chat.id, stored.message_id)] = list(reaction)
        return True

    def reaction_on(self, chat: FakeChat | int, message_id: int) -> list[str]:
        """The emoji the bot set on a message (empty: none)."""
        chat_id = chat.id if isinstance(chat, FakeChat) else chat
        found = self.reactions.get((chat_id, message_id), [])
        return [str(item.get("emoji")) for item in found]
