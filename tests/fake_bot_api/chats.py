"""Chats and their members: groups, supergroups and forum topics as tests set them up, their
membership changes, and getChat, getChatMember, getChatAdministrators, leaveChat."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from tests.fake_bot_api.core import ChatRef, FakeBotApiCore
from tests.fake_bot_api.errors import bad_request
from tests.fake_bot_api.models import FakeChat, FakeUser
from tests.fake_bot_api.params import Params

__all__ = ["ChatsMixin"]


class ChatsMixin(FakeBotApiCore):
    """Groups and topics for tests to set up, and the Bot API methods that read chats."""

    # --- setting up groups ----------------------------------------------------------------

    def add_group(
        self,
        title: str = "Test group",
        *,
        admins: Iterable[FakeUser] = (),
        members: Iterable[FakeUser] = (),
        supergroup: bool = False,
        forum: bool = False,
        username: str | None = None,
        bot_admin: bool = False,
    ) -> FakeChat:
        """A group the bot is a member of; the first admin is its creator.

        Basic groups get ids like -4100000001, supergroups (and forums) -1002100000001.
        """
        supergroup = supergroup or forum or username is not None
        chat_id = -next(self._supergroup_ids) if supergroup else -next(self._group_ids)
        chat = FakeChat(
            id=chat_id,
            type="supergroup" if supergroup else "group",
            title=title,
            username=username,
            is_forum=forum,
            bot_status="administrator" if bot_admin else "member",
        )
        for index, admin in enumerate(admins):
            chat.members[admin.id] = "creator" if index == 0 else "administrator"
        for member in members:
            chat.members.setdefault(member.id, "member")
        self._register_chat(chat)
        return chat

    def _register_chat(self, chat: FakeChat) -> None:
        self.chats[chat.id] = chat
        if chat.username:
            self._chats_by_username[chat.username.lower()] = chat

    def add_topic(self, group: FakeChat, name: str) -> int:
        """Create a forum topic (silently, as setup); returns its ``message_thread_id``."""
        if not group.is_forum:
            raise ValueError("topics exist only in forum supergroups (add_group(forum=True))")
        creator = self._group_actor(group)
        message = self._new_message(group, creator)
        thread_id = message["message_id"]
        message["message_thread_id"] = thread_id
        message["is_topic_message"] = True
        message["forum_topic_created"] = {"name": name, "icon_color": 7322096}
        self._store(message, from_bot=False)
        group.topics[thread_id] = name
        return int(thread_id)

    def kick_bot(self, group: FakeChat) -> None:
        """Remove the bot from a group: calls answer 403 "bot was kicked from the … chat"."""
        group.bot_status = "kicked"

    def migrate(self, group: FakeChat, *, notify: bool = True) -> int:
        """Upgrade a basic group to a supergroup; returns the new chat id.

        Calls to the old id then fail with "group chat was upgraded to a supergroup chat" and
        ``migrate_to_chat_id``. With ``notify`` the two service messages Telegram sends
        (``migrate_to_chat_id`` / ``migrate_from_chat_id``) are queued as updates.
        """
        if group.type != "group" or group.migrated_to is not None:
            raise ValueError("only a basic group that was not migrated yet can be migrated")
        new = FakeChat(
            id=-next(self._supergroup_ids),
            type="supergroup",
            title=group.title,
            members=dict(group.members),
            bot_status=group.bot_status,
        )
        self._register_chat(new)
        if notify:
            actor = self._group_actor(group)
            old_message = self._new_message(group, actor)
            old_message["migrate_to_chat_id"] = new.id
            self._store(old_message, from_bot=False)
            new_message = self._new_message(new, actor)
            new_message["migrate_from_chat_id"] = group.id
            self._store(new_message, from_bot=False)
            self._enqueue("message", old_message)
            self._enqueue("message", new_message)
        group.migrated_to = new.id
        return new.id

    def _group_actor(self, group: FakeChat) -> FakeUser:
        """Whoever performs a group-level action: the creator, else an admin, else anyone."""
        for wanted in ("creator", "administrator", "member"):
            for user_id, status in group.members.items():
                if status == wanted and user_id in self.users:
                    return self.users[user_id]
        return self._new_user("Group owner")

    # --- membership -----------------------------------------------------------------------

    def chat_member_update(
        self,
        chat: ChatRef,
        member: FakeUser,
        old_status: str,
        new_status: str,
        *,
        by: FakeUser | None = None,
    ) -> dict[str, Any]:
        """A membership change, applied to the state and queued as an Update.

        * private chat (``member`` is the user or the bot): the user blocks (``kicked``) or
          restarts (``member``) the bot → ``my_chat_member``;
        * group, ``member`` is the bot (``api.bot``): bot added/removed/promoted →
          ``my_chat_member``;
        * group, ``member`` is a user → ``chat_member`` (delivered only when allowed_updates
          asks for it, as on Telegram).
        """
        target = self._resolve_chat(chat)
        if target.type == "private":
            user = target.user
            assert user is not None
            kind, subject, actor = "my_chat_member", self.bot, user
            user.blocked = new_status == "kicked"
            if new_status == "member":
                user.started = True
        elif member.is_bot:
            kind, subject = "my_chat_member", self.bot
            actor = by or self._group_actor(target)
            target.bot_status = new_status
        else:
            kind, subject, actor = "chat_member", member, by or member
            target.members[member.id] = new_status
        if by is not None:
            actor = by
        payload = {
            "chat": target.to_dict(),
            "from": actor.to_dict(),
            "date": int(time.time()),
            "old_chat_member": self._member_dict(subject, old_status),
            "new_chat_member": self._member_dict(subject, new_status),
        }
        return self._enqueue(kind, payload)

    def _member_dict(self, user: FakeUser, status: str) -> dict[str, Any]:
        """A Bot API ``ChatMember`` with every field PTB requires for the status."""
        member: dict[str, Any] = {"status": status, "user": user.to_dict()}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                can_be_edited=False,
                is_anonymous=False,
                can_manage_chat=True,
                can_delete_messages=True,
                can_manage_video_chats=True,
                can_restrict_members=True,
                can_promote_members=False,
                can_change_info=True,
                can_invite_users=True,
                can_post_stories=False,
                can_edit_stories=False,
                can_delete_stories=False,
                can_pin_messages=True,
                can_manage_topics=False,
            )
        elif status == "kicked":
            member["until_date"] = 0
        elif status == "restricted":
            member.update(
                {
                    "is_member": True,
                    "until_date": 0,
                    **dict.fromkeys(
                        (
                            "can_change_info",
                            "can_invite_users",
                            "can_pin_messages",
                            "can_send_messages",
                            "can_send_polls",
                            "can_send_other_messages",
                            "can_add_web_page_previews",
                            "can_manage_topics",
                            "can_send_audios",
                            "can_send_documents",
                            "can_send_photos",
                            "can_send_videos",
                            "can_send_video_notes",
                            "can_send_voice_notes",
                            "can_edit_tag",
                        ),
                        False,
                    ),
                }
            )
        return member

    # --- Bot API methods ------------------------------------------------------------------

    async def _get_chat(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=False)
        info = chat.to_dict()
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        if chat.linked_chat_id is not None:
            info["linked_chat_id"] = chat.linked_chat_id
        return info

    def _status_in(self, chat: FakeChat, user_id: int) -> tuple[FakeUser, str]:
        if user_id == self.bot.id:
            status = "member" if chat.type == "private" else chat.bot_status
            return self.bot, status
        user = self.users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        if chat.type == "private":
            return user, "member" if chat.id == user_id else "left"
        return user, chat.members.get(user_id, "left")

    async def _get_chat_member(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=False)
        if not params.get("user_id"):
            raise bad_request("user not found")
        user, status = self._status_in(chat, int(params["user_id"]))
        member = self._member_dict(user, status)
        if chat.is_channel and status == "administrator":
            # A channel admin's own rights (ChatMemberAdministrator, channels only).
            rights = user.id != self.bot.id or chat.bot_can_post
            member.update(can_post_messages=rights, can_edit_messages=rights)
        return member

    async def _get_chat_administrators(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=False)
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        admins = [
            self._member_dict(self.users[user_id], status)
            for user_id, status in chat.members.items()
            if status in ("creator", "administrator") and user_id in self.users
        ]
        if chat.bot_status == "administrator":
            admins.append(self._member_dict(self.bot, "administrator"))
        return admins

    async def _get_chat_member_count(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=False)
        if chat.type == "private":
            return 2
        present = ("creator", "administrator", "member", "restricted")
        return sum(status in present for status in chat.members.values()) + 1

    async def _leave_chat(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=False)
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        self.chat_member_update(chat, self.bot, chat.bot_status, "left", by=self.bot)
        return True
