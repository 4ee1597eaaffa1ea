"""What the running Application stored, read through its own session factory."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from bot.deps import DEPS_KEY
from storage import chats as chat_store
from storage import follows as follow_store
from storage import stories as story_store
from storage.models import Delivery
from storage.records import StoryView


async def subscriptions_of(app: Any, chat_id: int, thread: int = 0) -> set[str]:
    """The sections a chat (or one of its topics) is subscribed to."""
    deps = app.bot_data["newsbot.deps"]
    async with deps.sessions() as session:
        return await chat_store.subscriptions(session, chat_id, thread)


async def follows_of(app: Any, chat_id: int, thread: int = 0) -> list[str]:
    """The keywords a chat (or one of its topics) follows."""
    async with app.bot_data["newsbot.deps"].sessions() as session:
        return await follow_store.following(session, chat_id, thread)


async def deliveries(app: Any) -> list[Delivery]:
    """Every delivery row: who was sent which story, and how it went."""
    async with app.bot_data[DEPS_KEY].services.sessions() as session:
        return list((await session.exec(select(Delivery))).all())


async def story_titled(app: Any, words: str) -> StoryView:
    """The first story a search for ``words`` finds."""
    async with app.bot_data[DEPS_KEY].services.sessions() as session:
        return (await story_store.search_stories(session, words))[0]
