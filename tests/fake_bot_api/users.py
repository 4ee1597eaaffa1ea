"""Simulated users: people who write to the bot, press its buttons and type inline queries,
and the bot's answers to those queries."""

from __future__ import annotations

import copy
import re
import time
from typing import Any

from tests.fake_bot_api.chats import ChatsMixin
from tests.fake_bot_api.core import ChatRef, MessageRef, PendingQuery
from tests.fake_bot_api.errors import bad_request
from tests.fake_bot_api.html_entities import sort_entities, utf16_len
from tests.fake_bot_api.models import FakeChat, FakeUser
from tests.fake_bot_api.params import Params
from tests.fake_bot_api.validation import validate_inline_results

__all__ = ["UsersMixin"]

_AUTO_ENTITIES = (
    (
        "bot_command",
        re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>@])"),
    ),
    ("url", re.compile(r"(?<![\w@/])https?://[^\s<>\"']+", re.IGNORECASE)),
    ("mention", re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{4,32}(?![\w@])")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
)


_URL_TAIL = ".,;:!?)'\""


def _detect_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram finds by itself in a user's text: commands, links, mentions, tags."""
    taken: list[tuple[int, int]] = []
    entities: list[dict[str, Any]] = []
    for kind, pattern in _AUTO_ENTITIES:
        for match in pattern.finditer(text):
            start, end = match.span()
            if kind == "url":
                end = start + len(match.group().rstrip(_URL_TAIL))
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            offset = utf16_len(text[:start])
            entities.append({"type": kind, "offset": offset, "length": utf16_len(text[start:end])})
    sort_entities(entities)
    return entities


class UsersMixin(ChatsMixin):
    """What users do, queued as updates for the bot; ``answerCallbackQuery``/``InlineQuery``."""

    # --- users ----------------------------------------------------------------------------

    def add_user(
        self,
        first_name: str = "Ali",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        *,
        started: bool = True,
    ) -> FakeUser:
        """A new user with a private chat; ``started=False``: never pressed Start."""
        return self._new_user(first_name, last_name, username, language_code, started=started)

    def private_chat(self, user: FakeUser) -> FakeChat:
        """The user's private chat with the bot (its id is the user's id)."""
        return self.chats[user.id]

    def block(self, user: FakeUser) -> None:
        """The user blocks the bot: sends answer 403 "bot was blocked by the user"."""
        user.blocked = True

    def unblock(self, user: FakeUser) -> None:
        """The user unblocks the bot."""
        user.blocked = False

    def deactivate(self, user: FakeUser) -> None:
        """The account is deleted: sends answer 403 "user is deactivated"."""
        user.deactivated = True

    # --- what users do --------------------------------------------------------------------

    def send_message(
        self,
        user: FakeUser,
        chat: ChatRef | None,
        text: str,
        *,
        reply_to: MessageRef | int | None = None,
        message_thread_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """The user sends ``text``; returns the queued ``message`` Update.

        Entities Telegram detects itself (bot_command incl. ``/cmd@bot``, url, mention, hashtag)
        are added unless ``entities`` is given. ``reply_to`` embeds the full stored message.
        """
        if len(text) > 4096:
            # Telegram clients split longer text into several messages; none arrives whole.
            raise ValueError(
                f"a user's message holds at most 4,096 characters (got {len(text):,})"
            )
        message = self._user_message(user, chat, reply_to, message_thread_id)
        message["text"] = text
        found = entities if entities is not None else _detect_entities(text)
        if found:
            message["entities"] = found
        return self._deliver_user_message(message)

    def send_sticker(
        self,
        user: FakeUser,
        chat: ChatRef | None,
        *,
        emoji: str = "👍",
        reply_to: MessageRef | int | None = None,
        message_thread_id: int | None = None,
    ) -> dict[str, Any]:
        """The user sends a sticker (a non-text message)."""
        message = self._user_message(user, chat, reply_to, message_thread_id)
        file_number = next(self._file_ids)
        message["sticker"] = {
            "file_id": f"CAACAgIAAxkBAAE{file_number:08d}",
            "file_unique_id": f"AgAD{file_number:06d}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": 24_000,
        }
        return self._deliver_user_message(message)

    def send_photo(
        self,
        user: FakeUser,
        chat: ChatRef | None,
        *,
        caption: str | None = None,
        reply_to: MessageRef | int | None = None,
        message_thread_id: int | None = None,
    ) -> dict[str, Any]:
        """The user sends a photo, optionally with a caption."""
        message = self._user_message(user, chat, reply_to, message_thread_id)
        message["photo"] = self._photo_sizes()
        if caption:
            message["caption"] = caption
            found = _detect_entities(caption)
            if found:
                message["caption_entities"] = found
        return self._deliver_user_message(message)

    def edit_user_message(self, message: MessageRef, new_text: str) -> dict[str, Any]:
        """The user edits their text message; returns the queued ``edited_message`` Update."""
        stored = self._stored(message)
        if stored.from_bot:
            raise ValueError("users can edit only their own messages")
        if "text" not in stored.message:
            raise ValueError("only text messages can be edited with edit_user_message")
        current = stored.message
        current["text"] = new_text
        found = _detect_entities(new_text)
        if found:
            current["entities"] = found
        else:
            current.pop("entities", None)
        current["edit_date"] = max(int(time.time()), current["date"] + 1)
        stored.edit_count += 1
        if not self._bot_sees(self.chats[stored.chat_id], current):
            return {"update_id": None, "edited_message": copy.deepcopy(current)}
        return self._enqueue("edited_message", current)

    def press_button(
        self, user: FakeUser, message: MessageRef, callback_data: str
    ) -> dict[str, Any]:
        """The user presses the inline button carrying ``callback_data``."""
        stored = self._stored(message)
        if stored.deleted:
            raise ValueError("the message was deleted")
        if not any(b.get("callback_data") == callback_data for b in stored.buttons):
            raise ValueError(f"message has no button with callback_data {callback_data!r}")
        query_id = str(next(self._query_ids))
        self._pending_queries[query_id] = PendingQuery("callback_query", user.id)
        callback = {
            "id": query_id,
            "from": user.to_dict(),
            "message": stored.message,
            "chat_instance": str(abs(stored.chat_id) * 7919 % 10**19),
            "data": callback_data,
        }
        return self._enqueue("callback_query", callback)

    def inline_query(
        self, user: FakeUser, query: str, offset: str = "", *, chat_type: str = "sender"
    ) -> dict[str, Any]:
        """The user types ``@bot query`` somewhere; returns the queued ``inline_query`` Update."""
        query_id = str(next(self._query_ids))
        self._pending_queries[query_id] = PendingQuery("inline_query", user.id)
        inline = {
            "id": query_id,
            "from": user.to_dict(),
            "query": query,
            "offset": offset,
            "chat_type": chat_type,
        }
        return self._enqueue("inline_query", inline)

    def _user_message(
        self,
        user: FakeUser,
        chat: ChatRef | None,
        reply_to: MessageRef | int | None,
        thread_id: int | None,
    ) -> dict[str, Any]:
        target = self.private_chat(user) if chat is None else self._resolve_chat(chat)
        if target.migrated_to is not None:
            raise ValueError("this group was migrated; use the supergroup")
        if target.type == "private":
            if target.user is not user:
                raise ValueError("a user can write only in their own private chat with the bot")
            if user.blocked:
                # Writing again means pressing "Restart bot", which Telegram reports first.
                self.chat_member_update(target, user, "kicked", "member")
            user.started = True
        else:
            status = target.members.get(user.id)
            if status == "kicked":
                raise ValueError("the user was banned from this group")
            if status in (None, "left"):
                target.members[user.id] = "member"
        replied = None
        if reply_to is not None:
            replied = (
                self._messages.get((target.id, reply_to))
                if isinstance(reply_to, int)
                else self._stored(reply_to)
            )
            if replied is None or replied.deleted:
                raise ValueError(f"no message {reply_to!r} to reply to in chat {target.id}")
        if thread_id is not None and target.is_forum and thread_id not in target.topics:
            raise ValueError(f"no topic {thread_id} in chat {target.id}")
        return self._new_message(target, user, thread_id=thread_id, reply_to=replied)

    def _deliver_user_message(self, message: dict[str, Any]) -> dict[str, Any]:
        self._store(message, from_bot=False)
        if not self._bot_sees(self.chats[message["chat"]["id"]], message):
            return {"update_id": None, "message": copy.deepcopy(message)}
        return self._enqueue("message", message)

    def _bot_sees(self, chat: FakeChat, message: dict[str, Any]) -> bool:
        """Whether the bot gets this group message (privacy mode hides most of them)."""
        if chat.type == "private":
            return True
        if chat.bot_status not in ("member", "administrator", "creator"):
            return False
        if not self.privacy_mode or chat.bot_status == "administrator":
            return True
        replied = message.get("reply_to_message")
        if replied and replied.get("from", {}).get("id") == self.bot.id:
            return True
        text = message.get("text", "")
        mention = f"@{self.bot.username}".lower()
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            return "@" not in command or command.lower().endswith(mention)
        return mention in text.lower()

    # --- answering their queries ----------------------------------------------------------

    def _pop_query(self, query_id: Any, kind: str) -> None:
        pending = self._pending_queries.get(str(query_id or ""))
        if pending is None or pending.kind != kind:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        del self._pending_queries[str(query_id)]

    async def _answer_callback_query(self, params: Params) -> Any:
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self._pop_query(params.get("callback_query_id"), "callback_query")
        self.answers.append({"method": "answerCallbackQuery", **params})
        return True

    async def _answer_inline_query(self, params: Params) -> Any:
        validate_inline_results(params.get("results", []), self._user_dict)
        next_offset = params.get("next_offset")
        if next_offset is not None and len(str(next_offset).encode()) > 64:
            raise bad_request("next_offset is too long")
        self._pop_query(params.get("inline_query_id"), "inline_query")
        self.answers.append({"method": "answerInlineQuery", **params})
        return True
