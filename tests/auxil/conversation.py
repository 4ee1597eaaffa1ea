"""Talking to the running bot as a reader, through the fake Bot API: each helper sends what a
reader would and returns the bot's answer once it has arrived."""

from __future__ import annotations

from typing import Any

from bot.deps import DEPS_KEY
from storage.records import StoryView
from storage.story_messages import stories_of_message
from tests.auxil.waiting import eventually
from tests.fake_bot_api import FakeBotApi, FakeUser, StoredMessage


async def ask(api: FakeBotApi, user: Any, text: str, chat: Any = None, **kw: Any) -> StoredMessage:
    """Send ``text`` as ``user`` and return the bot's next message in that chat."""
    chat = chat if chat is not None else api.private_chat(user)
    before = len(api.sent(chat))
    api.send_message(user, chat, text, **kw)
    messages = await api.wait_for_messages(chat, before + 1)
    return messages[before]


async def press(api: FakeBotApi, user: Any, message: StoredMessage, data: str) -> dict[str, Any]:
    """Press a button and wait until the bot answered the callback query."""
    answers = len(api.calls("answerCallbackQuery"))
    api.press_button(user, message, data)
    calls = await api.wait_for_calls("answerCallbackQuery", answers + 1)
    return calls[answers]


async def edited(api: FakeBotApi, chat_id: int, message_id: int, edits: int) -> StoredMessage:
    """The message once it has been edited ``edits`` times."""
    await api.wait_for(lambda: api.message(chat_id, message_id).edit_count >= edits)
    return api.message(chat_id, message_id)


def button_data(message: StoredMessage) -> list[str]:
    """Each button's callback data (or, for a link button, its URL)."""
    return [b.get("callback_data") or b.get("url") for b in message.buttons]


async def reply(
    api: FakeBotApi, user: FakeUser, to: StoredMessage | dict[str, Any], text: str
) -> StoredMessage:
    """The reader replies ``text`` to a message; returns the bot's answer."""
    before = len(api.sent(user))
    api.send_message(user, None, text, reply_to=to)
    return (await api.wait_for_messages(user, before + 1))[before]


async def first_reply(
    api: FakeBotApi, user: FakeUser, to: StoredMessage | dict[str, Any], text: str
) -> tuple[StoredMessage, StoredMessage]:
    """A reader's first comment: the bot's confirmation, and the one-time notice after it."""
    before = len(api.sent(user))
    api.send_message(user, None, text, reply_to=to)
    answer, notice = (await api.wait_for_messages(user, before + 2))[before : before + 2]
    return answer, notice


async def shows_stories(app: Any, message: StoredMessage) -> StoredMessage:
    """``message`` once the bot has recorded which stories it shows (just after sending it;
    a reader is never that fast, a test is)."""
    sessions = app.bot_data[DEPS_KEY].services.sessions

    async def recorded() -> bool:
        async with sessions() as session:
            _, ids = await stories_of_message(session, message.chat_id, message.message_id)
        return bool(ids)

    await eventually(recorded)
    return message


async def open_story(
    app: Any, api: FakeBotApi, user: FakeUser, story: StoryView, chat: Any = None
) -> StoredMessage:
    """The reader opens a story by its deep link; returns the story message."""
    return await shows_stories(app, await ask(api, user, f"/start s_{story.id}", chat=chat))
