"""Readers' comments and their moderation end to end: the real Application, the fake Bot API,
real storage, and (for relayed comments) a local outlet receiving the webhooks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, delete, select, update

from bot.deps import DEPS_KEY
from news.clock import utcnow
from storage import comments as comment_store
from storage.comments import HELD, PUBLISHED, REJECTED, CommentDraft, CommentView, text_version
from storage.engine import writing
from storage.models import Comment, Commenter, Delivery, PushRecord, StoryMessage
from storage.records import StoryView
from tests.auxil.app_storage import deliveries, story_titled
from tests.auxil.conversation import (
    ask,
    button_data,
    edited,
    first_reply,
    open_story,
    press,
    reply,
    shows_stories,
)
from tests.auxil.feed_server import FeedServer
from tests.auxil.feeds import HOSTILE_TITLE, Item
from tests.auxil.moderation import moderators, next_card
from tests.auxil.outlet import CommentOutlet
from tests.auxil.pushes import new_item, publish
from tests.auxil.waiting import eventually
from tests.fake_bot_api import FakeBotApi, FakeUser, StoredMessage

# The registry's id of the job that sends the cards a crash left unsent.
MODERATION_CARDS = "resend-moderation-cards"

pytestmark = pytest.mark.e2e

StartBot = Callable[..., AbstractAsyncContextManager[Any]]
SECRET = "whsec_" + "c2VjcmV0LWZvci10aGUtb3V0bGV0"  # base64 of "secret-for-the-outlet"
RECEIVED = "Comment received on ‘{}’ — it will appear after moderation."


# --- helpers ---------------------------------------------------------------------------------


def card_button(card: StoredMessage, action: str) -> str:
    """The callback data of a card's Approve ("a") or plain Reject ("r") button (the reasons'
    Reject buttons add one more field)."""
    [data] = [d for d in button_data(card) if d.startswith(f"md:{action}:") and d.count(":") == 3]
    return data


async def stored_comments(app: Any, user: FakeUser) -> list[Comment]:
    async with app.bot_data[DEPS_KEY].services.sessions() as session:
        rows = await session.exec(select(Comment).where(Comment.user_id == user.id))
        return list(rows.all())


async def comment(app: Any, comment_id: int) -> CommentView:
    async with app.bot_data[DEPS_KEY].services.sessions() as session:
        found = await comment_store.get_comment(session, comment_id)
    assert found is not None
    return found


# --- writing a comment -----------------------------------------------------------------------


async def test_comment_button_prompt_moderation_and_reading_it_back(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    mods, mod, member = moderators(fake_api)
    reader = fake_api.add_user("Shilan", "Ahmed")
    async with start_bot(moderation_chat_id=mods.id) as app:
        story = await story_titled(app, "kirkuk")
        shown = await open_story(app, fake_api, reader, story)
        assert {f"cm:{story.id}", f"cl:{story.id}:0"} <= set(button_data(shown))

        # ✍️ Write a comment asks with a ForceReply prompt.
        before = len(fake_api.sent(reader))
        await press(fake_api, reader, shown, f"cm:{story.id}")
        prompt = (await fake_api.wait_for_messages(reader, before + 1))[before]
        assert prompt.text == (
            f"✍️ Write your comment on ‘{HOSTILE_TITLE}’ and send it: as a reply to this "
            "message, or as your next message within 5 minutes. It is published with your name "
            "after moderation."
        )
        force = fake_api.calls("sendMessage")[-1]["reply_markup"]
        assert force == {"force_reply": True, "input_field_placeholder": "Your comment"}

        answer, notice = await first_reply(
            fake_api, reader, prompt, "Good <b>reporting</b> & thanks"
        )
        assert answer.reply_to_message_id is not None
        text = answer.text or ""
        assert text.startswith(RECEIVED.format(HOSTILE_TITLE))
        # The first comment brings the one-time notice that the name is public, in a message
        # of its own: the confirmation is edited later, the notice stays.
        assert "Your name “Shilan Ahmed” is shown publicly" in (notice.text or "")
        assert "/name" in (notice.text or "") and "/forget" in (notice.text or "")

        # The moderators' chat gets a card; a plain member cannot decide.
        card = await next_card(fake_api, mods, 1)
        card_text = card.text or ""
        assert HOSTILE_TITLE in card_text and "Shilan Ahmed" in card_text
        assert card_text.endswith("Good <b>reporting</b> & thanks")
        [stored] = await stored_comments(app, reader)
        assert stored.status == HELD and stored.held_for == "moderation"
        version = text_version(stored.text)
        reject = f"md:r:{stored.id}:{version}"
        assert button_data(card) == [
            f"md:a:{stored.id}:{version}",
            reject,
            *(f"{reject}:{code}" for code in ("off_topic", "abusive", "spam", "duplicate")),
        ]
        refused = await press(fake_api, member, card, card_button(card, "a"))
        assert refused["text"] == "Only moderators can decide." and refused["show_alert"]
        assert (await comment(app, stored.id)).status == HELD

        # The chat's admin approves: the card says so, the reader's confirmation too.
        await press(fake_api, mod, card, card_button(card, "a"))
        decided = await edited(fake_api, mods.id, card.message_id, 1)
        assert (decided.text or "").endswith("✅ Approved by Rezan Mod")
        assert decided.buttons == []
        told = await edited(fake_api, reader.id, answer.message_id, 1)
        assert told.text == f"✅ Your comment on ‘{HOSTILE_TITLE}’ is published."
        assert (await comment(app, stored.id)).status == PUBLISHED

        # Anyone reads it: /comments replied to the story, and the 💬 Read comments button.
        other = fake_api.add_user("Other")
        other_story = await open_story(app, fake_api, other, story)
        listing = await reply(fake_api, other, other_story, "/comments")
        lines = (listing.text or "").split("\n")
        assert lines[0] == f"💬 Comments on ‘{HOSTILE_TITLE}’"
        assert lines[2].startswith("Shilan Ahmed | ")
        assert lines[3] == "Good <b>reporting</b> & thanks"
        before = len(fake_api.sent(other))
        await press(fake_api, other, other_story, f"cl:{story.id}:0")
        pressed = (await fake_api.wait_for_messages(other, before + 1))[before]
        assert pressed.text == listing.text
        by_id = await ask(fake_api, other, f"/comments {story.id}")
        assert by_id.text == listing.text


async def test_deep_link_rejection_and_ban_from_a_card(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    mods, _, _ = moderators(fake_api)
    admin = fake_api.add_user("Bot", "Admin")
    mods.members[admin.id] = "member"  # ADMIN_IDS decide in the chat without being its admins
    reader = fake_api.add_user("Dilan")
    async with start_bot(moderation_chat_id=mods.id, admin_ids=str(admin.id)) as app:
        story = await story_titled(app, "kirkuk")
        # The site's "Comment via Telegram" link: the story, then the prompt.
        before = len(fake_api.sent(reader))
        fake_api.send_message(reader, None, f"/start c_{story.id}")
        shown, prompt = (await fake_api.wait_for_messages(reader, before + 2))[before:]
        await shows_stories(app, prompt)
        assert (shown.text or "").startswith(HOSTILE_TITLE)
        assert (prompt.text or "").startswith("✍️ Write your comment")

        # Replying to the story message itself works as well as replying to the prompt.
        answer = await reply(fake_api, reader, shown, "Spam spam spam")
        assert (answer.text or "").startswith(RECEIVED.format(HOSTILE_TITLE))
        card = await next_card(fake_api, mods, 1)
        [stored] = await stored_comments(app, reader)
        await press(fake_api, admin, card, card_button(card, "r"))
        decided = await edited(fake_api, mods.id, card.message_id, 1)
        assert (decided.text or "").endswith("❌ Rejected by Bot Admin")
        told = await edited(fake_api, reader.id, answer.message_id, 1)
        assert told.text == f"❌ Your comment on ‘{HOSTILE_TITLE}’ was not published."
        assert (await comment(app, stored.id)).status == REJECTED

        # /ban replied to the card bans its author; /unban with the id lifts it.
        before = len(fake_api.sent(mods))
        fake_api.send_message(admin, mods, "/ban", reply_to=card)
        banned = (await fake_api.wait_for_messages(mods, before + 1))[before]
        assert f"Reader {reader.id} can no longer comment" in (banned.text or "")
        refused = await reply(fake_api, reader, prompt, "Let me back in")
        assert refused.text == "Sorry, you can no longer comment."
        not_admin = await reply(fake_api, reader, prompt, f"/unban {reader.id}")
        assert "only for the bot's administrators" in (not_admin.text or "")
        lifted = await ask(fake_api, admin, f"/unban {reader.id}")
        assert f"Reader {reader.id} may comment again" in (lifted.text or "")
        again = await reply(fake_api, reader, prompt, "Thanks for having me back")
        assert (again.text or "").startswith(RECEIVED.format(HOSTILE_TITLE))
        assert "shown publicly" not in (again.text or "")  # the notice came once
        assert len(await stored_comments(app, reader)) == 2


async def test_every_bad_comment_gets_its_own_answer_and_is_not_stored(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    mods, _, _ = moderators(fake_api)
    reader = fake_api.add_user("Karwan")
    async with start_bot(moderation_chat_id=mods.id, comment_rate="2/min") as app:
        story = await story_titled(app, "kirkuk")
        shown = await open_story(app, fake_api, reader, story)

        async def answer_to(send: Callable[[], object]) -> str:
            before = len(fake_api.sent(reader))
            send()
            return (await fake_api.wait_for_messages(reader, before + 1))[before].text or ""

        only_text = "Only text comments are accepted."
        assert (
            await answer_to(lambda: fake_api.send_sticker(reader, None, reply_to=shown))
        ).startswith(only_text)
        assert (
            await answer_to(
                lambda: fake_api.send_photo(reader, None, caption="Look", reply_to=shown)
            )
        ).startswith(only_text)
        for blank in (" \n ", "\u200b\u200d", "\u2060\ufeff"):
            assert (await reply(fake_api, reader, shown, blank)).text == (
                "Your comment is empty. Please write a few words."
            )
        long = await reply(fake_api, reader, shown, "word " * 600)
        assert (long.text or "").startswith(
            "Your comment is 2,999 characters long; the limit is 2,000."
        )
        assert await stored_comments(app, reader) == []

        first, _ = await first_reply(fake_api, reader, shown, "A fair report")
        assert (first.text or "").startswith("Comment received")
        repeat = await reply(fake_api, reader, shown, "a  FAIR report")
        assert repeat.text == "You have already sent this comment."
        second = await reply(fake_api, reader, shown, "Another angle")
        assert (second.text or "").startswith("Comment received")
        too_often = await reply(fake_api, reader, shown, "And a third")
        assert (too_often.text or "").startswith(
            "You are commenting too often (at most 2 comments a minute). You can comment again in "
        )
        assert [c.text for c in await stored_comments(app, reader)] == [
            "A fair report",
            "Another angle",
        ]
        # Refused comments never reach the moderators: two cards, for the two accepted.
        cards = await fake_api.wait_for_messages(mods, 2)
        assert [(c.text or "").split("\n\n")[-1] for c in cards] == [
            "A fair report",
            "Another angle",
        ]


async def test_replies_to_other_messages_and_groups(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    mods, _, _ = moderators(fake_api)
    reader = fake_api.add_user("Hana")
    group = fake_api.add_group("Readers", admins=[reader], supergroup=True)
    async with start_bot(moderation_chat_id=mods.id) as app:
        help_text = await ask(fake_api, reader, "/help")
        assert "/mycomments" in (help_text.text or "")
        how = await reply(fake_api, reader, help_text, "thanks!")
        assert (how.text or "").startswith("That message is not a story")
        how = await reply(fake_api, reader, how, "but I want to comment")
        assert (how.text or "").startswith("That message is not a story")

        # In a group, replies are conversation; ✍️ Write a comment leads to a private chat.
        story = await story_titled(app, "kirkuk")
        in_group = await open_story(app, fake_api, reader, story, chat=group)
        before = len(fake_api.sent(group))
        fake_api.send_message(reader, group, "what do you all think?", reply_to=in_group)
        answer = await press(fake_api, reader, in_group, f"cm:{story.id}")
        assert answer["url"] == f"https://t.me/newsbot_test_bot?start=c_{story.id}"
        assert len(fake_api.sent(group)) == before
        assert await stored_comments(app, reader) == []


async def test_comments_disabled(app: Any, fake_api: FakeBotApi) -> None:
    reader = fake_api.add_user()
    story = await story_titled(app, "kirkuk")
    shown = await ask(fake_api, reader, f"/start s_{story.id}")
    assert not any(d.startswith(("cm:", "cl:")) for d in button_data(shown))
    before = len(fake_api.sent(reader))
    fake_api.send_message(reader, None, f"/start c_{story.id}")
    messages = await fake_api.wait_for_messages(reader, before + 2)
    assert messages[-1].text == "Comments are not enabled here."
    # A reply to a story says why it is not a comment.
    hint = await reply(fake_api, reader, shown, "nice")
    assert hint.text == "Comments are not enabled here."
    hint = await ask(fake_api, reader, "nice")  # not a reply: what the bot understands
    assert "/latest" in (hint.text or "")
    assert "/mycomments" not in ((await ask(fake_api, reader, "/help")).text or "")


# --- choosing, editing, names, listing ----------------------------------------------------


async def test_a_reply_to_a_list_or_a_grouped_push_asks_which_story(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    mods, _, _ = moderators(fake_api)
    reader = fake_api.add_user("Aram")
    async with start_bot(moderation_chat_id=mods.id) as app:
        listing = await shows_stories(app, await ask(fake_api, reader, "/latest world"))
        question = await reply(fake_api, reader, listing, "Which one? This one.")
        assert question.text == "Which story is your comment about?"
        choices = button_data(question)
        assert len(choices) == 5 and all(c.startswith("ck:") for c in choices)
        labels = [b["text"] for b in question.buttons]
        assert labels[0].startswith("1. Story 9:") and labels[1].startswith("2. Story 7:")
        [waiting] = await stored_comments(app, reader)
        assert waiting.status == "choosing" and waiting.story_id is None

        await press(fake_api, reader, question, choices[1])
        confirmed = await edited(fake_api, reader.id, question.message_id, 1)
        assert (confirmed.text or "").startswith("Comment received on ‘Story 7:")
        assert confirmed.buttons == []
        assert "Story 7:" in ((await next_card(fake_api, mods, 1)).text or "")
        [chosen] = await stored_comments(app, reader)
        assert chosen.status == HELD and chosen.story_id == int(choices[1].split(":")[2])
        assert chosen.answer_message_id == question.message_id

        # A grouped push: three stories in one message.
        await ask(fake_api, reader, "/subscribe")
        before = len(fake_api.sent(reader))
        await publish(
            app, outlet, outlet_items, *(new_item(40 + n, f"Grouped story {n}") for n in range(3))
        )
        push = (await fake_api.wait_for_messages(reader, before + 1))[before]
        assert (push.text or "").startswith("3 new stories")

        async def recorded() -> bool:
            return any(d.message_id == push.message_id for d in await deliveries(app))

        await eventually(recorded)
        question = await reply(fake_api, reader, push, "About the second one")
        assert len(button_data(question)) == 3
        await press(fake_api, reader, question, button_data(question)[2])
        confirmed = await edited(fake_api, reader.id, question.message_id, 1)
        assert (confirmed.text or "").startswith("Comment received on ‘Grouped story")


async def test_edits_names_mycomments_and_forget(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    mods, mod, _ = moderators(fake_api)
    reader = fake_api.add_user("Lana", "Kareem")
    async with start_bot(moderation_chat_id=mods.id) as app:
        shown = await ask(fake_api, reader, "/name")
        assert "signed “Lana Kareem” (your Telegram name)" in (shown.text or "")
        renamed = await ask(fake_api, reader, "/name  Lana  K. ")
        assert renamed.text == "✅ Your comments will be signed “Lana K.”."
        assert (await ask(fake_api, reader, "/name visit t.me/x")).text == (
            "A name cannot hold a link."
        )
        assert "limit is 64" in ((await ask(fake_api, reader, "/name " + "n" * 65)).text or "")

        story = await story_titled(app, "kirkuk")
        shown_story = await open_story(app, fake_api, reader, story)
        before = len(fake_api.sent(reader))
        sent = fake_api.send_message(reader, None, "Frist draft", reply_to=shown_story)
        answer, notice = (await fake_api.wait_for_messages(reader, before + 2))[before:]
        assert "Your name “Lana K.” is shown publicly" in (notice.text or "")
        card = await next_card(fake_api, mods, 1)

        # Edited before the decision: the comment changes and the moderators see it anew.
        before = len(fake_api.sent(reader))
        fake_api.edit_user_message(sent, "First draft, corrected")
        updated = (await fake_api.wait_for_messages(reader, before + 1))[before]
        assert (updated.text or "").startswith("✏️ Updated")
        second_card = await next_card(fake_api, mods, 2)
        assert "Edited by its author" in (second_card.text or "")
        assert (second_card.text or "").endswith("First draft, corrected")
        [stored] = await stored_comments(app, reader)
        assert stored.text == "First draft, corrected" and stored.author_name == "Lana K."
        # An edit that breaks a rule keeps the earlier text.
        before = len(fake_api.sent(reader))
        fake_api.edit_user_message(sent, "\u200b")
        kept = (await fake_api.wait_for_messages(reader, before + 1))[before]
        assert kept.text == "Your comment is empty. Please write a few words. " + (
            "Your comment keeps its earlier text."
        )

        mine = await ask(fake_api, reader, "/mycomments")
        assert "🕓" in (mine.text or "") and "waiting for the moderators" in (mine.text or "")
        assert "First draft, corrected" in (mine.text or "")

        # The first card showed the first draft: it cannot approve the edited text.
        outdated = await press(fake_api, mod, card, card_button(card, "a"))
        assert outdated["text"].startswith("The author edited this comment since this card")
        assert (await comment(app, stored.id)).status == "held"
        await press(fake_api, mod, second_card, card_button(second_card, "a"))
        await edited(fake_api, reader.id, answer.message_id, 1)
        assert (await comment(app, stored.id)).status == "published"
        before = len(fake_api.sent(reader))
        fake_api.edit_user_message(sent, "Third thoughts")
        late = (await fake_api.wait_for_messages(reader, before + 1))[before]
        assert late.text == "Your comment is already published and can no longer be changed."
        assert (await comment(app, stored.id)).text == "First draft, corrected"
        mine = await ask(fake_api, reader, "/mycomments")
        assert "✅" in (mine.text or "") and "published" in (mine.text or "")

        # /name reset, then /forget deletes the name and the comments.
        assert (await ask(fake_api, reader, "/name reset")).text == (
            "✅ Your comments will be signed “Lana Kareem”."
        )
        confirm = await ask(fake_api, reader, "/forget")
        assert "your comment name and your comments" in (confirm.text or "")
        await press(fake_api, reader, confirm, "fg:yes")
        await edited(fake_api, reader.id, confirm.message_id, 1)
        assert await stored_comments(app, reader) == []
        async with app.bot_data[DEPS_KEY].services.sessions() as session:
            assert await session.get(Commenter, reader.id) is None
        listing = await ask(fake_api, reader, f"/comments {story.id}")
        assert "No comments yet" in (listing.text or "")


async def test_comment_pages_newest_first(start_bot: StartBot, fake_api: FakeBotApi) -> None:
    mods, _, _ = moderators(fake_api)
    reader = fake_api.add_user()
    async with start_bot(moderation_chat_id=mods.id) as app:
        story = await story_titled(app, "kirkuk")
        services = app.bot_data[DEPS_KEY].services
        start = utcnow() - timedelta(hours=1)
        async with writing(services.sessions) as session:
            for n in range(7):
                draft = CommentDraft(9_000 + n, 9_000 + n, 1, f"Reader {n}", f"Comment {n}")
                stored = await comment_store.add_comment(
                    session,
                    draft,
                    story,
                    status=HELD,
                    now=start + timedelta(minutes=n),
                    retry_for=timedelta(hours=1),
                )
                await comment_store.decide(
                    session,
                    stored.id,
                    approve=True,
                    by=1,
                    relay=False,
                    now=start,
                    retry_for=timedelta(hours=1),
                )
        first = await ask(fake_api, reader, f"/comments {story.id}")
        text = first.text or ""
        assert text.index("Reader 6 |") < text.index("Reader 2 |")
        assert "Reader 1 |" not in text
        assert button_data(first) == [f"cl:{story.id}:5:e"]
        await press(fake_api, reader, first, f"cl:{story.id}:5:e")
        second = await edited(fake_api, reader.id, first.message_id, 1)
        assert "Reader 1 |" in (second.text or "") and "Reader 0 |" in (second.text or "")
        assert button_data(second) == [f"cl:{story.id}:0:e"]


async def test_two_readers_at_once_and_cards_resent_after_a_crash(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    mods, _, _ = moderators(fake_api)
    first, second = fake_api.add_user("First"), fake_api.add_user("Second")
    async with start_bot(moderation_chat_id=mods.id) as app:
        story = await story_titled(app, "kirkuk")
        shown = [await open_story(app, fake_api, u, story) for u in (first, second)]
        counts = [len(fake_api.sent(u)) for u in (first, second)]
        fake_api.send_message(first, None, "Me first", reply_to=shown[0])
        fake_api.send_message(second, None, "No, me", reply_to=shown[1])
        for user, count in zip((first, second), counts, strict=True):
            answer = (await fake_api.wait_for_messages(user, count + 1))[count]
            assert (answer.text or "").startswith(RECEIVED.format(HOSTILE_TITLE))
        cards = await fake_api.wait_for_messages(mods, 2)
        assert sorted((c.text or "").split("\n\n")[-1] for c in cards) == ["Me first", "No, me"]

        # A comment stored by an instance that died before sending its card.
        services = app.bot_data[DEPS_KEY].services
        async with writing(services.sessions) as session:
            orphan = await comment_store.add_comment(
                session,
                CommentDraft(first.id, first.id, 999, "First", "Orphaned"),
                story,
                status=HELD,
                now=utcnow() - timedelta(minutes=5),
                retry_for=timedelta(hours=1),
                held_for="moderation",
            )
        # The registry runs the job on the leader only (or every instance would send a
        # copy); the handler side still leaves it to the leader should it run elsewhere.
        job = app.job_queue.scheduler.get_job(MODERATION_CARDS)
        deps = app.bot_data[DEPS_KEY]
        deps.is_leader = lambda: False
        await job.func(*job.args)
        assert len(fake_api.sent(mods)) == 2
        deps.is_leader = lambda: True
        await job.func(*job.args)
        card = await next_card(fake_api, mods, 3)
        assert (card.text or "").endswith("Orphaned")
        assert f"md:a:{orphan.id}:{text_version(orphan.text)}" in button_data(card)
        await job.func(*job.args)  # sent once: the card is recorded
        assert len(fake_api.sent(mods)) == 3


# --- relayed to the outlet -------------------------------------------------------------------


async def test_relayed_comments_edits_links_rejection_and_forget(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    reader = fake_api.add_user("Shilan", "Ahmed", username="shilan_k")
    async with (
        CommentOutlet(secret=SECRET) as outlet,
        start_bot(comments_url=outlet.url, comments_secret=SECRET) as app,
    ):
        story = await story_titled(app, "kirkuk")
        shown = await open_story(app, fake_api, reader, story)
        before = len(fake_api.sent(reader))
        sent = fake_api.send_message(reader, None, "Straight to the site", reply_to=shown)
        answer = (await fake_api.wait_for_messages(reader, before + 1))[before]
        assert (answer.text or "").startswith(RECEIVED.format(HOSTILE_TITLE))
        [created] = await outlet.wait_for(1)
        assert created.verified and created.body["type"] == "comment.created"
        assert created.body["data"]["text"] == "Straight to the site"
        assert created.body["data"]["author"]["name"] == "Shilan Ahmed"
        # The outlet never learns who the reader is on Telegram.
        raw = created.raw.decode()
        assert str(reader.id) not in raw and "shilan_k" not in raw
        relayed = await edited(fake_api, reader.id, answer.message_id, 1)
        assert relayed.text == (
            f"✅ Your comment on ‘{HOSTILE_TITLE}’ was sent to the site; it appears there "
            "after the site's moderation."
        )

        # Too late to edit once the outlet has it.
        before = len(fake_api.sent(reader))
        fake_api.edit_user_message(sent, "Straight to the site, edited")
        late = (await fake_api.wait_for_messages(reader, before + 1))[before]
        assert (
            late.text == "Your comment was already sent to the site and can no longer be changed."
        )

        # No moderators: a link is refused, and nothing reaches the outlet.
        linked = await reply(fake_api, reader, shown, "More at https://example.com/x")
        assert (linked.text or "").startswith("Comments with links are not accepted here.")

        # The outlet's own moderation rejects the next one, with its reason.
        outlet.respond(422, {"reason": "Off topic"})
        answer = await reply(fake_api, reader, shown, "Something else entirely")
        await outlet.wait_for(2)
        rejected = await edited(fake_api, reader.id, answer.message_id, 1)
        assert rejected.text == (
            f"❌ Your comment on ‘{HOSTILE_TITLE}’ was not published: Off topic"
        )
        assert len(outlet.received) == 2

        # /forget asks the outlet to delete what it holds.
        confirm = await ask(fake_api, reader, "/forget")
        await press(fake_api, reader, confirm, "fg:yes")
        done = await edited(fake_api, reader.id, confirm.message_id, 1)
        assert "The site was asked to delete the comments" in (done.text or "")
        deleted = (await outlet.wait_for(3))[2]
        assert deleted.body["type"] == "comment.deleted"
        assert deleted.body["data"]["comment"]["webhook_id"] == created.webhook_id
        assert await stored_comments(app, reader) == []


async def test_links_held_for_the_admins_then_relayed(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    first, second = fake_api.add_user("Admin", "One"), fake_api.add_user("Admin", "Two")
    reader = fake_api.add_user("Sara")
    async with (
        CommentOutlet(secret=SECRET) as outlet,
        start_bot(
            comments_url=outlet.url, comments_secret=SECRET, admin_ids=f"{first.id},{second.id}"
        ) as app,
    ):
        story = await story_titled(app, "kirkuk")
        shown = await open_story(app, fake_api, reader, story)
        answer = await reply(fake_api, reader, shown, "Source: https://example.com/report")
        assert (answer.text or "").startswith(RECEIVED.format(HOSTILE_TITLE))
        cards = [await next_card(fake_api, admin, 1) for admin in (first, second)]
        assert all("it contains a link" in (c.text or "") for c in cards)
        assert outlet.received == []

        [stored] = await stored_comments(app, reader)
        await press(fake_api, first, cards[0], card_button(cards[0], "a"))
        decided = await edited(fake_api, first.id, cards[0].message_id, 1)
        assert (decided.text or "").endswith("✅ Approved by Admin One — on its way to the site")
        [created] = await outlet.wait_for(1)
        assert created.body["data"]["text"] == "Source: https://example.com/report"
        await fake_api.wait_for(
            lambda: (
                "was sent to the site" in (fake_api.message(reader, answer.message_id).text or "")
            )
        )

        # The other admin's card is stale now.
        stale = await press(fake_api, second, cards[1], card_button(cards[1], "r"))
        assert stale["text"] == "Already decided: at the site, awaiting its moderation."
        assert (await comment(app, stored.id)).status == "relayed"


async def test_a_reply_faster_than_the_pushs_record_still_finds_its_story(
    start_bot: StartBot, fake_api: FakeBotApi, outlet: FeedServer, outlet_items: list[Item]
) -> None:
    reader = fake_api.add_user("Quick", "Reader")
    async with (
        CommentOutlet(secret=SECRET) as site,
        start_bot(comments_url=site.url, comments_secret=SECRET) as app,
    ):
        await ask(fake_api, reader, "/subscribe")
        one = new_item(501, "Erbil opens its new airport terminal")
        await publish(app, outlet, outlet_items, one)
        push = (await fake_api.wait_for_messages(reader, 2))[1]
        assert one.title in (push.text or "")
        await eventually(lambda: _recorded(app, reader.id))
        # As if the reply came before the sender recorded the push's message id.
        await _forget_recorded_messages(app, reader.id)
        answer = await reply(fake_api, reader, push, "Good news for travellers")
        assert (answer.text or "").startswith(RECEIVED.format(one.title))
        [created] = await site.wait_for(1)
        assert created.body["data"]["text"] == "Good news for travellers"
        assert created.body["data"]["article"]["url"] == one.link

        # A grouped push has no buttons: its links say which stories it shows.
        two, three = (
            new_item(502, "Duhok dam reaches record level"),
            new_item(503, "Sulaimani book fair opens"),
        )
        before = len(fake_api.sent(reader))
        await publish(app, outlet, outlet_items, two, three)
        group = (await fake_api.wait_for_messages(reader, before + 1))[before]
        assert two.title in (group.text or "") and three.title in (group.text or "")
        await eventually(lambda: _recorded(app, reader.id, 2))
        await _forget_recorded_messages(app, reader.id)
        which = await reply(fake_api, reader, group, "Which one is this about?")
        assert (which.text or "").startswith("Which story is your comment about?")
        labels = " ".join(str(b.get("text")) for b in which.buttons)
        assert two.title in labels and three.title in labels


async def _recorded(app: Any, chat_id: int, count: int = 1) -> bool:
    rows = [d for d in await deliveries(app) if d.chat_id == chat_id and d.message_id]
    return len(rows) >= count


async def _forget_recorded_messages(app: Any, chat_id: int) -> None:
    async with writing(app.bot_data[DEPS_KEY].services.sessions) as session:
        await session.exec(
            update(Delivery).where(col(Delivery.chat_id) == chat_id).values(message_id=None)
        )
        await session.exec(delete(PushRecord).where(col(PushRecord.chat_id) == chat_id))


async def test_while_the_site_refuses_comments_readers_are_told_so_not_moderation(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    reader = fake_api.add_user("Paused", "Reader")
    async with (
        CommentOutlet(secret=SECRET) as site,
        start_bot(comments_url=site.url, comments_secret=SECRET) as app,
    ):
        site.respond(401, {"error": "unknown key"}, times=20)
        relay = app.bot_data[DEPS_KEY].relay
        story = await story_titled(app, "kirkuk")
        shown = await open_story(app, fake_api, reader, story)
        answer, _notice = await first_reply(fake_api, reader, shown, "Before the site broke")
        assert (answer.text or "").startswith(RECEIVED.format(HOSTILE_TITLE))
        await site.wait_for(1)
        await eventually(relay.is_paused)
        later = await reply(fake_api, reader, shown, "While it is broken")
    assert later.text == (
        f"Comment received on ‘{HOSTILE_TITLE}’. The news site is not accepting comments right "
        "now; yours is kept and will be sent when it is."
    )
    assert "moderation" not in (later.text or "")


async def tapped_write_a_comment(
    app: Any, api: FakeBotApi, reader: FakeUser
) -> tuple[StoryView, StoredMessage]:
    """The reader opens the Kirkuk story and taps "✍️ Write a comment" (the prompt came)."""
    story = await story_titled(app, "kirkuk")
    shown = await open_story(app, api, reader, story)
    before = len(api.sent(reader))
    await press(api, reader, shown, f"cm:{story.id}")
    await api.wait_for_messages(reader, before + 1)
    return story, shown


async def test_after_a_tap_the_next_plain_message_is_the_comment(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    reader = fake_api.add_user("Plain", "Typer")
    mods, _mod, _member = moderators(fake_api)
    async with start_bot(moderation_chat_id=mods.id) as app:
        story, shown = await tapped_write_a_comment(app, fake_api, reader)
        # Not a reply: typed straight into the chat, as many readers do.
        before = len(fake_api.sent(reader))
        fake_api.send_message(reader, None, "Typed without replying")
        answer = (await fake_api.wait_for_messages(reader, before + 1))[before]
        assert (answer.text or "").startswith(RECEIVED.format(HOSTILE_TITLE))
        [stored] = await stored_comments(app, reader)
        assert (stored.text, stored.story_id) == ("Typed without replying", story.id)
        # The prompt is answered: the next plain message is just a message again.
        await asyncio.sleep(1.1)  # past the one-time name notice
        before = len(fake_api.sent(reader))
        fake_api.send_message(reader, None, "hello?")
        hint = (await fake_api.wait_for_messages(reader, before + 1))[before]
        assert (hint.text or "").startswith("I post the news here.")
        assert len(await stored_comments(app, reader)) == 1

        # A sticker after a tap gets the usual refusal, and the prompt keeps waiting.
        await press(fake_api, reader, shown, f"cm:{story.id}")
        before = len(fake_api.sent(reader))
        fake_api.send_sticker(reader, None)
        refusal = (await fake_api.wait_for_messages(reader, before + 1))[before]
        assert "only text" in (refusal.text or "").lower()
        before = len(fake_api.sent(reader))
        fake_api.send_message(reader, None, "Second, in words")
        answer = (await fake_api.wait_for_messages(reader, before + 1))[before]
        assert (answer.text or "").startswith(RECEIVED.format(HOSTILE_TITLE))


async def test_a_plain_message_long_after_the_tap_is_not_a_comment(
    start_bot: StartBot, fake_api: FakeBotApi
) -> None:
    reader = fake_api.add_user("Slow", "Typer")
    mods, _mod, _member = moderators(fake_api)
    async with start_bot(moderation_chat_id=mods.id) as app:
        await tapped_write_a_comment(app, fake_api, reader)
        async with writing(app.bot_data[DEPS_KEY].services.sessions) as session:
            await session.exec(
                update(StoryMessage)
                .where(col(StoryMessage.chat_id) == reader.id)
                .values(created_at=utcnow() - timedelta(minutes=6))
            )
        hint = await ask(fake_api, reader, "Is this a comment?")
        assert await stored_comments(app, reader) == []
    assert (hint.text or "").startswith("I post the news here.")
