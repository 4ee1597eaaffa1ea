"""The fake Bot API's channels, discussion groups, automatic forwards, threads and reactions,
exercised with the real PTB client."""

from __future__ import annotations

import datetime as dtm

import pytest
from telegram import ChatMemberAdministrator, MessageOriginChannel, ReactionTypeEmoji, Update
from telegram.error import BadRequest, Forbidden, RetryAfter

from tests.auxil.ptb import make_bot
from tests.fake_bot_api import FakeBotApi
from tests.fake_bot_api.channels import SERVICE_USER_ID


async def test_a_post_is_forwarded_to_the_discussion_group_and_opens_a_thread() -> None:
    async with FakeBotApi() as api, make_bot(api) as bot:
        channel = api.add_channel("Rudaw", username="rudaw_en")
        group = api.add_group("Rudaw chat", supergroup=True)
        api.link_discussion(channel, group)
        info = await bot.get_chat("@rudaw_en")
        assert info.linked_chat_id == group.id
        assert (await bot.get_chat(group.id)).linked_chat_id == channel.id

        post = await bot.send_message("@rudaw_en", "Erbil airport reopens")
        assert post.chat.type == "channel"
        assert post.sender_chat is not None and post.sender_chat.id == channel.id
        assert post.from_user is None

        [update_data] = api.pending_updates
        forward = Update.de_json(update_data, bot).message
        assert forward is not None
        assert forward.is_automatic_forward
        assert forward.from_user is not None and forward.from_user.id == SERVICE_USER_ID
        assert forward.sender_chat is not None and forward.sender_chat.id == channel.id
        assert isinstance(forward.forward_origin, MessageOriginChannel)
        assert forward.forward_origin.message_id == post.message_id
        assert forward.forward_origin.chat.id == channel.id
        assert forward.text == "Erbil airport reopens"
        assert forward.message_thread_id is None

        reader, other = api.add_user("Shilan"), api.add_user("Karwan")
        comment = api.send_message(reader, group, "Good news", reply_to=forward.message_id)
        assert comment["message"]["message_thread_id"] == forward.message_id
        reply = api.send_message(other, group, "Agreed", reply_to=comment)
        assert reply["message"]["message_thread_id"] == forward.message_id
        outside = api.send_message(other, group, "Hello all")
        assert "message_thread_id" not in outside["message"]

        # The bot answers in the thread, and reacts.
        answer = await bot.send_message(
            group.id, "Too long", reply_to_message_id=comment["message"]["message_id"]
        )
        assert answer.message_thread_id == forward.message_id
        done = await bot.set_message_reaction(
            group.id, comment["message"]["message_id"], ReactionTypeEmoji("👍")
        )
        assert done is True
        assert api.reaction_on(group, comment["message"]["message_id"]) == ["👍"]


async def test_editing_a_post_edits_its_forward() -> None:
    async with FakeBotApi() as api, make_bot(api) as bot:
        channel = api.add_channel("Rudaw")
        group = api.add_group("Rudaw chat", supergroup=True)
        api.link_discussion(channel, group)
        post = await bot.send_message(channel.id, "Old title")
        await bot.edit_message_text("New title", channel.id, post.message_id)
        forward = api.forward_of(channel, post.message_id)
        assert forward is not None and forward.text == "New title"
        kinds = [next(k for k in u if k != "update_id") for u in api.pending_updates]
        assert kinds == ["message", "edited_message"]


async def test_rights_in_a_channel() -> None:
    async with FakeBotApi() as api, make_bot(api) as bot:
        readonly = api.add_channel("Read only", can_post=False)
        member = await bot.get_chat_member(readonly.id, api.bot.id)
        assert isinstance(member, ChatMemberAdministrator)
        assert member.can_post_messages is False
        with pytest.raises(BadRequest, match=r"(?i)need administrator rights"):
            await bot.send_message(readonly.id, "x")

        gone = api.add_channel("Gone", username="gone_channel", bot_admin=False)
        assert (await bot.get_chat("@gone_channel")).id == gone.id  # public: readable
        assert (await bot.get_chat_member(gone.id, api.bot.id)).status == "left"
        with pytest.raises(Forbidden, match="not a member of the channel"):
            await bot.send_message(gone.id, "x")

        private = api.add_channel("Private", bot_admin=False)
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.get_chat(private.id)
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message("@no_such_channel", "x")


async def test_reactions_follow_the_documented_rules() -> None:
    async with FakeBotApi() as api, make_bot(api) as bot:
        user = api.add_user()
        group = api.add_group("G", supergroup=True)
        said = api.send_message(user, group, "hi")["message"]["message_id"]
        joined = api.join_group(api.add_user("New"), group)["message"]["message_id"]
        with pytest.raises(BadRequest, match=r"(?i)REACTIONS_TOO_MANY"):
            await bot.set_message_reaction(
                group.id, said, [ReactionTypeEmoji("👍"), ReactionTypeEmoji("🔥")]
            )
        with pytest.raises(BadRequest, match=r"(?i)service messages"):
            await bot.set_message_reaction(group.id, joined, ReactionTypeEmoji("👍"))
        with pytest.raises(BadRequest, match=r"(?i)not found"):
            await bot.set_message_reaction(group.id, 999, ReactionTypeEmoji("👍"))
        await bot.set_message_reaction(group.id, said, [])
        assert api.reaction_on(group, said) == []


@pytest.mark.usefixtures("ptb_timedelta")
async def test_a_channel_takes_twenty_posts_a_minute() -> None:
    async with FakeBotApi(per_chat_limits=True) as api, make_bot(api) as bot:
        channel = api.add_channel("Busy")
        for number in range(20):
            await bot.send_message(channel.id, str(number))
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(channel.id, "21st")
        assert isinstance(caught.value.retry_after, dtm.timedelta)
        assert 55 <= caught.value.retry_after.total_seconds() <= 60
        # Edits are not new messages: the post can still be corrected.
        await bot.edit_message_text("corrected", channel.id, 1)
