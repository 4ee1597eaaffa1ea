"""Readers' comments, their authors, and the outbox of webhooks that carries them to the outlet.

A comment is written here before anything else happens to it; the outbox row that relays
it is written in the same transaction, so a comment the bot confirmed can never be lost,
and its webhook id (the outlet's idempotency key) is fixed once and reused on every retry.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from news.clock import utcnow
from storage.dialect import insert_for
from storage.models import Comment, Commenter, OutletEvent, PublishedComment, ReplyPrompt
from storage.records import StoryView

CREATED, DELETED = "comment.created", "comment.deleted"

# Reader-facing states of a comment.
CHOOSING = "choosing"  # a reply to a list: the reader still has to say which story
HELD = "held"  # waiting for the moderators
QUEUED = "queued"  # in the outbox, on its way to the outlet
RELAYED = "relayed"  # the outlet has it and holds it for its own moderation
PUBLISHED = "published"  # approved (by the outlet or by the bot's moderators)
REJECTED = "rejected"
FAILED = "failed"  # the outlet could not be reached for COMMENT_RETRY_HOURS
EDITABLE = (CHOOSING, HELD, QUEUED)
FINAL = (PUBLISHED, REJECTED, FAILED)


@dataclass(frozen=True, slots=True)
class CommentView:
    """A stored comment, as handlers and the relay see it."""

    id: int
    story_id: int | None
    article_url: str | None
    article_guid: str | None
    article_title: str
    language: str | None
    user_id: int
    chat_id: int
    message_id: int
    answer_message_id: int | None
    author_name: str
    text: str
    status: str
    reason: str | None
    held_for: str | None
    outlet_id: str | None
    outlet_status: str | None
    created_at: datetime
    updated_at: datetime
    relayed_at: datetime | None
    parent_id: int | None = None


@dataclass(frozen=True, slots=True)
class CommenterView:
    """A reader's comment identity: the name shown under the article, and whether banned."""

    user_id: int
    name: str  # what the outlet shows: the chosen name, else the Telegram name
    chosen_name: str | None
    banned: bool
    notified: bool


@dataclass(frozen=True, slots=True)
class CommentDraft:
    """A validated comment, ready to store."""

    user_id: int
    chat_id: int
    message_id: int
    author_name: str
    text: str
    language: str | None = None
    parent_id: int | None = None  # the comment this one replies to
    # A reply on the site: the outlet's id of the comment it answers (sent as in_reply_to).
    in_reply_to: str | None = None


def comment_view(c: Comment, author_name: str | None = None) -> CommentView:
    return CommentView(
        id=c.id or 0,
        story_id=c.story_id,
        article_url=c.article_url,
        article_guid=c.article_guid,
        article_title=c.article_title,
        language=c.language,
        user_id=c.user_id,
        chat_id=c.chat_id,
        message_id=c.message_id,
        answer_message_id=c.answer_message_id,
        author_name=author_name or c.author_name,
        text=c.text,
        status=c.status,
        reason=c.reason,
        held_for=c.held_for,
        outlet_id=c.outlet_id,
        outlet_status=c.outlet_status,
        created_at=c.created_at,
        updated_at=c.updated_at,
        relayed_at=c.relayed_at,
        parent_id=c.parent_id,
    )


def _commenter_view(c: Commenter) -> CommenterView:
    return CommenterView(
        user_id=c.user_id,
        name=c.display_name or c.telegram_name or "Reader",
        chosen_name=c.display_name,
        banned=c.banned,
        notified=c.notified_at is not None,
    )


def text_version(text: str) -> str:
    """A short fingerprint of a comment's text: a moderator's button names what they read."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def new_webhook_id() -> str:
    """A fresh idempotency key, in the ``msg_`` form Standard Webhooks senders use."""
    return f"msg_{uuid.uuid4().hex}"


# --- commenters -----------------------------------------------------------------------------


async def get_commenter(
    session: AsyncSession, user_id: int, *, lock: bool = False
) -> CommenterView | None:
    """The reader's comment identity, or None if they never commented or set a name.

    With ``lock`` (PostgreSQL), the reader's other comments wait for this transaction, so
    the rate limit and the repeat check see each other's rows.
    """
    if lock:
        # A reader's very first comments have no row to lock yet: make one, or two first
        # comments sent at once would both pass the rate limit.
        statement = insert_for(session)(Commenter).values(
            user_id=user_id, created_at=utcnow(), updated_at=utcnow()
        )
        await session.exec(statement.on_conflict_do_nothing())
    row = await session.get(
        Commenter, user_id, with_for_update=True if lock else None, populate_existing=lock
    )
    return _commenter_view(row) if row is not None else None


async def touch_commenter(
    session: AsyncSession,
    user_id: int,
    *,
    telegram_name: str | None,
    language: str | None,
    now: datetime,
) -> CommenterView:
    """Create the reader's record on first use and keep their Telegram name current."""
    # Two first comments of one reader may arrive at once: the second insert must not fail.
    await session.exec(
        insert_for(session)(Commenter)
        .values(
            user_id=user_id,
            telegram_name=telegram_name,
            language=language,
            banned=False,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
    )
    row = await session.get(Commenter, user_id, populate_existing=True)
    assert row is not None
    if (telegram_name and row.telegram_name != telegram_name) or (
        language and row.language != language
    ):
        row.telegram_name = telegram_name or row.telegram_name
        row.language = language or row.language
        row.updated_at = now
    await session.flush()
    return _commenter_view(row)


async def set_display_name(
    session: AsyncSession,
    user_id: int,
    name: str | None,
    *,
    telegram_name: str | None,
    now: datetime,
) -> CommenterView:
    """Choose the name shown under the reader's comments (None: back to the Telegram name)."""
    await touch_commenter(session, user_id, telegram_name=telegram_name, language=None, now=now)
    await session.exec(
        update(Commenter)
        .where(col(Commenter.user_id) == user_id)
        .values(display_name=name, updated_at=now)
    )
    row = await session.get(Commenter, user_id, populate_existing=True)
    assert row is not None
    return _commenter_view(row)


async def set_banned(session: AsyncSession, user_id: int, banned: bool, now: datetime) -> bool:
    """Ban or unban a reader's comments; True when that changed anything."""
    row = await session.get(Commenter, user_id)
    if row is None:
        if not banned:
            return False
        row = Commenter(user_id=user_id, created_at=now, updated_at=now)
        session.add(row)
    elif row.banned == banned:
        return False
    row.banned = banned
    row.banned_at = now if banned else None
    row.updated_at = now
    await session.flush()
    return True


async def mark_notified(session: AsyncSession, user_id: int, now: datetime) -> bool:
    """Note that the reader was told their name is public; True only the first time."""
    result = await session.exec(
        update(Commenter)
        .where(col(Commenter.user_id) == user_id, col(Commenter.notified_at).is_(None))
        .values(notified_at=now)
    )
    return bool(result.rowcount)


# --- comments -------------------------------------------------------------------------------


async def recent_comment_times(
    session: AsyncSession, user_id: int, since: datetime, limit: int
) -> list[datetime]:
    """When the reader's latest comments since ``since`` were written, newest first (for
    saying when the rate limit lets them comment again)."""
    statement = (
        select(Comment.created_at)
        .where(col(Comment.user_id) == user_id, col(Comment.created_at) >= since)
        .order_by(col(Comment.created_at).desc())
        .limit(limit)
    )
    return list((await session.exec(statement)).all())


async def last_comment_text(session: AsyncSession, user_id: int) -> str | None:
    """The reader's most recent comment, to refuse an accidental repeat."""
    statement = (
        select(Comment.text)
        .where(col(Comment.user_id) == user_id)
        .order_by(col(Comment.created_at).desc(), col(Comment.id).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()


@dataclass(frozen=True, slots=True)
class CommenterHistory:
    """What checking a reader's new comment needs to know about them: their identity (None
    before their first comment), their last comment's text and their latest comment times."""

    commenter: CommenterView | None
    previous: str | None
    recent: list[datetime]


async def commenter_history(
    session: AsyncSession, user_id: int, *, since: datetime, limit: int
) -> CommenterHistory:
    """The reader's identity, locked until the transaction ends (so two comments sent at once
    see each other), with their last comment and their comment times since ``since``."""
    return CommenterHistory(
        commenter=await get_commenter(session, user_id, lock=True),
        previous=await last_comment_text(session, user_id),
        recent=await recent_comment_times(session, user_id, since, limit),
    )


def _article(story: StoryView | None) -> dict[str, Any]:
    if story is None:
        return {"story_id": None, "article_url": None, "article_guid": None, "article_title": ""}
    return {
        "story_id": story.id,
        "article_url": story.link,
        "article_guid": story.guid,
        "article_title": story.title,
        "language": story.language,
    }


def _outbox_row(
    type_: str,
    now: datetime,
    deadline: datetime,
    *,
    comment_id: int | None,
    payload: str | None,
    in_reply_to: str | None = None,
) -> OutletEvent:
    return OutletEvent(
        in_reply_to=in_reply_to,
        webhook_id=new_webhook_id(),
        type=type_,
        comment_id=comment_id,
        payload=payload,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        deadline=deadline,
        created_at=now,
        updated_at=now,
    )


def _send_to_outlet(
    session: AsyncSession, comment: Comment, now: datetime, retry_for: timedelta
) -> None:
    """The comment's ``comment.created`` webhook, in the transaction that queues it (when it
    is written, chosen a story, or approved: a site reply says what it answers each time)."""
    row = _outbox_row(
        CREATED,
        now,
        now + retry_for,
        comment_id=comment.id,
        payload=None,
        in_reply_to=comment.in_reply_to,
    )
    session.add(row)


async def add_comment(
    session: AsyncSession,
    draft: CommentDraft,
    story: StoryView | None,
    *,
    status: str,
    now: datetime,
    retry_for: timedelta,
    held_for: str | None = None,
) -> CommentView:
    """Store a comment; with status ``queued`` its ``comment.created`` webhook too.

    ``story`` is None only for ``choosing`` (a reply to a list, the story still unknown).
    """
    article = _article(story)
    comment = Comment(
        **{k: v for k, v in article.items() if k != "language"},
        language=article.get("language") or draft.language,
        user_id=draft.user_id,
        chat_id=draft.chat_id,
        message_id=draft.message_id,
        author_name=draft.author_name,
        text=draft.text,
        status=status,
        held_for=held_for,
        parent_id=draft.parent_id,
        in_reply_to=draft.in_reply_to,
        created_at=now,
        updated_at=now,
    )
    session.add(comment)
    await session.flush()
    if status == QUEUED:
        _send_to_outlet(session, comment, now, retry_for)
        await session.flush()
    return comment_view(comment)


async def get_comment(session: AsyncSession, comment_id: int) -> CommentView | None:
    """One comment by id."""
    row = await session.get(Comment, comment_id)
    return comment_view(row) if row is not None else None


async def find_by_source(
    session: AsyncSession, chat_id: int, message_id: int
) -> CommentView | None:
    """The comment a reader's Telegram message became (for edits)."""
    statement = select(Comment).where(
        col(Comment.chat_id) == chat_id, col(Comment.message_id) == message_id
    )
    row = (await session.exec(statement)).first()
    return comment_view(row) if row is not None else None


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """How the outlet knows the comment a reply answers: its id at the outlet (None until the
    outlet answered with one) and its ``comment.created`` webhook-id (None when the parent
    was not relayed by the bot)."""

    outlet_id: str | None
    webhook_id: str | None


async def reply_target(session: AsyncSession, parent_id: int) -> ReplyTarget | None:
    """What the outlet knows a parent comment by; None when the parent is gone or never went
    to the outlet (refused, held, rejected here)."""
    parent = await session.get(Comment, parent_id)
    if parent is None:
        return None
    webhook_id = (
        await session.exec(
            select(OutletEvent.webhook_id).where(
                col(OutletEvent.comment_id) == parent_id, col(OutletEvent.type) == CREATED
            )
        )
    ).first()
    if webhook_id is None and parent.outlet_id is None:
        return None
    return ReplyTarget(parent.outlet_id, webhook_id)


async def set_answer_message(session: AsyncSession, comment_id: int, message_id: int) -> None:
    """Remember the bot's confirmation message, which is edited when the outlet decides."""
    await session.exec(
        update(Comment).where(col(Comment.id) == comment_id).values(answer_message_id=message_id)
    )


async def answered(session: AsyncSession, comment_id: int, message_id: int) -> CommentView | None:
    """Remember the bot's confirmation message (``set_answer_message``) and return the comment
    as it is now: a verdict that came before the confirmation existed is told by the caller,
    one that comes after finds the confirmation to edit."""
    await set_answer_message(session, comment_id, message_id)
    return await get_comment(session, comment_id)


async def edit_comment(
    session: AsyncSession, comment_id: int, text: str, now: datetime
) -> CommentView | None:
    """Replace the text of a comment not yet relayed; None once it is too late.

    A ``comment.created`` webhook already being sent counts as relayed: the outlet may have
    stored the old text under that webhook id.
    """
    row = await session.get(Comment, comment_id, with_for_update=True)
    if row is None or row.status not in EDITABLE:
        return None
    if row.decided_by is not None:
        # Approved as it was: a later edit would reach the outlet unreviewed.
        return None
    # The webhook row is locked whatever its state: a relay claiming it at this moment either
    # waits for the edit (and sends the new text) or has claimed it first (and the edit is
    # refused). Filtering on the state in SQL would lock nothing while the row is idle.
    events = await session.exec(
        select(OutletEvent).where(col(OutletEvent.comment_id) == comment_id).with_for_update()
    )
    if any(e.status != "pending" or e.attempts > 0 for e in events.all()):
        return None
    row.text = text
    row.updated_at = now
    await session.flush()
    return comment_view(row)


async def choose_story(
    session: AsyncSession,
    comment_id: int,
    story: StoryView,
    *,
    status: str,
    now: datetime,
    retry_for: timedelta,
    held_for: str | None = None,
) -> CommentView | None:
    """Attach a ``choosing`` comment to the story the reader picked and move it on."""
    row = await session.get(Comment, comment_id, with_for_update=True)
    if row is None or row.status != CHOOSING:
        return None
    for key, value in _article(story).items():
        if key != "language" or value:
            setattr(row, key, value)
    row.status = status
    row.held_for = held_for
    row.updated_at = now
    if status == QUEUED:
        _send_to_outlet(session, row, now, retry_for)
    await session.flush()
    return comment_view(row)


async def decide(
    session: AsyncSession,
    comment_id: int,
    *,
    approve: bool,
    by: int,
    relay: bool,
    now: datetime,
    retry_for: timedelta,
    reason: str | None = None,
    version: str | None = None,
) -> CommentView | None:
    """A moderator's verdict on a held comment; None if it was already decided, or if the
    text changed since the card with ``version`` was sent (its newer card decides).

    Approved comments go to the outlet when ``relay`` (an outbox row), else they are
    published here, readable with /comments.
    """
    row = await session.get(Comment, comment_id, with_for_update=True)
    if row is None or row.status != HELD:
        return None
    if version is not None and version != text_version(row.text):
        return None
    row.decided_by = by
    row.updated_at = now
    if not approve:
        row.status, row.reason = REJECTED, reason
    elif relay:
        row.status = QUEUED
        _send_to_outlet(session, row, now, retry_for)
    else:
        row.status = PUBLISHED
    await session.flush()
    return comment_view(row)


async def mark_told(session: AsyncSession, comment_id: int, status: str) -> None:
    """The reader has been told (or cannot be told) that the comment reached ``status``."""
    await session.exec(update(Comment).where(col(Comment.id) == comment_id).values(told=status))


async def untold_verdicts(
    session: AsyncSession, before: datetime, limit: int = 20
) -> list[CommentView]:
    """Verdicts whose reader was never told, reached before ``before``.

    The relay tells the reader right after recording a verdict, and moderators' buttons right
    after a decision; both mark it told. A process that died in between leaves it here.
    """
    statement = (
        select(Comment)
        .where(
            col(Comment.status).in_([RELAYED, *FINAL]),
            col(Comment.told).is_(None) | (col(Comment.told) != col(Comment.status)),
            col(Comment.updated_at) < before,
        )
        .order_by(col(Comment.updated_at))
        .limit(limit)
    )
    return [comment_view(c) for c in (await session.exec(statement)).all()]


TRYING = "trying"  # ``told`` value: the reader knows relaying is taking long


async def overdue_queued(
    session: AsyncSession, before: datetime, limit: int = 20
) -> list[CommentView]:
    """Comments still on their way to the outlet since before ``before`` whose reader has
    not heard that it takes long (an outlet down, or relaying paused for its configuration)."""
    statement = (
        select(Comment)
        .where(
            col(Comment.status) == QUEUED,
            col(Comment.told).is_(None),
            col(Comment.created_at) < before,
        )
        .order_by(col(Comment.created_at))
        .limit(limit)
    )
    return [comment_view(c) for c in (await session.exec(statement)).all()]


async def held_without_card(
    session: AsyncSession, limit: int = 20, *, before: datetime | None = None
) -> list[CommentView]:
    """Held comments whose moderation card has not been sent yet (oldest first).

    ``before`` leaves out comments changed since then, whose card is probably on its way.
    """
    statement = (
        select(Comment)
        .where(col(Comment.status) == HELD, col(Comment.card_sent).is_(False))
        .order_by(col(Comment.id))
        .limit(limit)
    )
    if before is not None:
        statement = statement.where(col(Comment.updated_at) < before)
    return [comment_view(c) for c in (await session.exec(statement)).all()]


async def mark_card_sent(session: AsyncSession, comment_id: int) -> None:
    """The moderators have the comment's card."""
    await session.exec(update(Comment).where(col(Comment.id) == comment_id).values(card_sent=True))


async def user_comments(
    session: AsyncSession, user_id: int, *, limit: int = 10, offset: int = 0
) -> list[CommentView]:
    """A reader's comments, newest first (for /mycomments)."""
    statement = (
        select(Comment)
        .where(col(Comment.user_id) == user_id, col(Comment.status) != CHOOSING)
        .order_by(col(Comment.created_at).desc(), col(Comment.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return [comment_view(c) for c in (await session.exec(statement)).all()]


async def story_comments(
    session: AsyncSession, story_id: int, *, limit: int = 10, offset: int = 0
) -> list[CommentView]:
    """Published comments on a story, newest first, with their authors' current names."""
    statement = (
        select(Comment, Commenter.display_name, Commenter.telegram_name)
        .join(Commenter, col(Commenter.user_id) == col(Comment.user_id), isouter=True)
        .where(col(Comment.story_id) == story_id, col(Comment.status) == PUBLISHED)
        .order_by(col(Comment.created_at).desc(), col(Comment.id).desc())
        .offset(offset)
        .limit(limit)
    )
    rows = (await session.exec(statement)).all()
    return [comment_view(c, chosen or None) for c, chosen, _ in rows]


async def comment_counts(session: AsyncSession) -> dict[str, int]:
    """How many comments are in each state (for /stats and metrics)."""
    rows = (
        await session.exec(select(Comment.status, func.count()).group_by(col(Comment.status)))
    ).all()
    return {status: int(n) for status, n in rows}


async def forget_commenter(
    session: AsyncSession, user_id: int, *, pseudonym: str, now: datetime, retry_for: timedelta
) -> int:
    """Delete everything about a reader's comments; ask the outlet to delete relayed ones.

    Comments the outlet has (or may have: a webhook in flight) get a ``comment.deleted``
    event carrying what the outlet needs to find them. Returns how many were queued.
    """
    rows = (await session.exec(select(Comment).where(col(Comment.user_id) == user_id))).all()
    # Locked, so a relay cannot claim a webhook between this read and the delete below: it
    # either claimed it before (and it counts as sent) or never will (the row is deleted).
    events = {
        e.comment_id: e
        for e in (
            await session.exec(
                select(OutletEvent)
                .where(
                    col(OutletEvent.comment_id).in_([c.id for c in rows]),
                    col(OutletEvent.type) == CREATED,
                )
                .with_for_update()
            )
        ).all()
    }
    queued = 0
    for comment in rows:
        event = events.get(comment.id)
        reached_outlet = comment.relayed_at is not None or (
            event is not None and (event.status != "pending" or event.attempts > 0)
        )
        if not reached_outlet or comment.status == REJECTED:
            continue
        payload = {
            "comment": {
                "id": comment.outlet_id,
                "webhook_id": event.webhook_id if event is not None else None,
            },
            "article": {
                "url": comment.article_url,
                "guid": comment.article_guid,
                "title": comment.article_title,
            },
            "author": {"pseudonym": pseudonym},
        }
        deletion = _outbox_row(
            DELETED, now, now + retry_for, comment_id=None, payload=json.dumps(payload)
        )
        if event is not None and event.status == "sending" and event.lease_until is not None:
            # The comment is on its way right now: ask for its deletion only once that POST
            # is over, or the outlet could get the deletion first and then store the comment.
            deletion.next_attempt_at = max(now, event.lease_until)
        session.add(deletion)
        queued += 1
    await _unlink_site_comments(session, user_id)
    await session.exec(delete(Comment).where(col(Comment.user_id) == user_id))
    await session.exec(delete(Commenter).where(col(Commenter.user_id) == user_id))
    await session.flush()
    return queued


async def _unlink_site_comments(session: AsyncSession, user_id: int) -> None:
    """The site's comments keep showing until the outlet deletes them, but nothing ties them,
    or replies to them, to the reader any more."""
    await session.exec(
        update(PublishedComment)
        .where(col(PublishedComment.user_id) == user_id)
        .values(user_id=None)
    )
    await session.exec(
        update(PublishedComment)
        .where(col(PublishedComment.reply_to_user) == user_id)
        .values(reply_to_user=None, notice="skipped", notice_at=None)
    )
    await session.exec(delete(ReplyPrompt).where(col(ReplyPrompt.chat_id) == user_id))
