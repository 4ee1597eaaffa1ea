"""The fake's state objects: users, chats, stored messages and counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeChat", "FakeImage", "FakeUser", "Stats", "StoredMessage"]

# What Telegram fetches from a URL for sendPhoto: at most 5 MB (10 MB when uploaded).
PHOTO_URL_MAX_BYTES = 5 * 1024 * 1024
PHOTO_UPLOAD_MAX_BYTES = 10 * 1024 * 1024


@dataclass(eq=False)
class FakeUser:
    """A Telegram account (a person, or the bot itself when ``is_bot``)."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    # Private-chat state as the bot sees it.
    started: bool = True
    blocked: bool = False
    deactivated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The Bot API ``User`` object."""
        user: dict[str, Any] = {
            "id": self.id,
            "is_bot": self.is_bot,
            "first_name": self.first_name,
        }
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code and not self.is_bot:
            user["language_code"] = self.language_code
        return user


@dataclass(eq=False)
class FakeChat:
    """A private chat, basic group, supergroup (``is_forum`` for topics) or channel.

    ``linked_chat_id`` joins a channel and its discussion group (set on both); in a channel
    the bot is an ``administrator`` (``bot_can_post``: with the right to post messages) or
    not there at all (``left``, ``kicked``): Telegram lets bots into channels only as admins.
    """

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    is_forum: bool = False
    user: FakeUser | None = None
    # user id -> creator | administrator | member | restricted | left | kicked
    members: dict[int, str] = field(default_factory=dict)
    bot_status: str = "member"
    migrated_to: int | None = None
    topics: dict[int, str] = field(default_factory=dict)
    next_message_id: int = 1
    linked_chat_id: int | None = None
    bot_can_post: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The Bot API ``Chat`` object."""
        if self.type == "private" and self.user is not None:
            chat: dict[str, Any] = {"id": self.id, "type": "private"}
            chat["first_name"] = self.user.first_name
            if self.user.last_name:
                chat["last_name"] = self.user.last_name
            if self.user.username:
                chat["username"] = self.user.username
            return chat
        chat = {"id": self.id, "type": self.type, "title": self.title}
        if self.username:
            chat["username"] = self.username
        if self.is_forum:
            chat["is_forum"] = True
        return chat

    @property
    def is_channel(self) -> bool:
        """A channel (broadcast chat)."""
        return self.type == "channel"

    @property
    def is_group(self) -> bool:
        """A basic group or a supergroup."""
        return self.type in ("group", "supergroup")


@dataclass(eq=False)
class FakeImage:
    """A picture on the web that the fake's Telegram can fetch by URL (``add_image``).

    ``reachable=False`` answers like a server that is down or says 404; ``delay`` is how
    long Telegram's fetch takes."""

    url: str
    content_type: str = "image/jpeg"
    size: int = 180_000
    width: int = 1200
    height: int = 800
    reachable: bool = True
    delay: float = 0.0


@dataclass(eq=False)
class StoredMessage:
    """One message as the fake stores it; ``message`` is the current Bot API ``Message``."""

    message: dict[str, Any]
    from_bot: bool
    raw_text: str | None = None
    parse_mode: str | None = None
    deleted: bool = False
    edit_count: int = 0
    # Sent with disable_notification: the reader's phone did not ring (no field in Message).
    silent: bool = False

    @property
    def chat_id(self) -> int:
        """The chat the message is in."""
        return int(self.message["chat"]["id"])

    @property
    def message_id(self) -> int:
        """The message id within its chat."""
        return int(self.message["message_id"])

    @property
    def text(self) -> str | None:
        """Text (or caption) as Telegram stores it: markup parsed away."""
        return self.message.get("text", self.message.get("caption"))

    @property
    def entities(self) -> list[dict[str, Any]]:
        """Entities of the text (or caption), UTF-16 offsets."""
        return list(self.message.get("entities", self.message.get("caption_entities", [])))

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        """The attached keyboard, if any."""
        return self.message.get("reply_markup")

    @property
    def message_thread_id(self) -> int | None:
        """Forum topic or reply thread."""
        return self.message.get("message_thread_id")

    @property
    def photo(self) -> list[dict[str, Any]] | None:
        """A photo message's sizes, smallest first."""
        return self.message.get("photo")

    @property
    def caption(self) -> str | None:
        """A photo's caption as Telegram stores it."""
        return self.message.get("caption")

    @property
    def link_preview_options(self) -> dict[str, Any] | None:
        """Link preview options as sent."""
        return self.message.get("link_preview_options")

    @property
    def reply_to_message_id(self) -> int | None:
        """Id of the replied-to message, if this is a reply."""
        replied = self.message.get("reply_to_message")
        return int(replied["message_id"]) if replied else None

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """All inline keyboard buttons, row by row."""
        markup = self.reply_markup or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]


@dataclass
class Stats:
    """Counters benchmarks read: per-method calls, accepted sends, 429s and injected faults."""

    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[int] = field(default_factory=Counter)
    sent: int = 0
    edited: int = 0
    rate_limited: int = 0
    photo_url_fetches: int = 0
    injected_failures: int = 0
    peak_sends_per_second: int = 0
    webhook_deliveries: int = 0
    webhook_failures: int = 0

    @property
    def total_requests(self) -> int:
        """All Bot API calls received."""
        return sum(self.requests.values())
