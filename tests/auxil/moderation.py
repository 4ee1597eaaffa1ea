"""A moderators' chat for the comment tests, and the cards that arrive there."""

from __future__ import annotations

from tests.fake_bot_api import FakeBotApi, FakeChat, FakeUser, StoredMessage


async def next_card(api: FakeBotApi, chat: FakeChat | FakeUser, count: int) -> StoredMessage:
    """The ``count``-th moderation card in a chat."""
    return (await api.wait_for_messages(chat, count))[count - 1]


def moderators(api: FakeBotApi) -> tuple[FakeChat, FakeUser, FakeUser]:
    """A moderators' supergroup with an admin and a plain member."""
    mod, member = api.add_user("Rezan", "Mod"), api.add_user("Plain", "Member")
    chat = api.add_group("Moderators", admins=[mod], members=[member], supergroup=True)
    return chat, mod, member
