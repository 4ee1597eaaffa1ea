"""The site's conversation: the comments it shows under each story, kept as it shows them.

Written by the inbox's processing of the outlet's events (``jobs.outlet_inbox``); read by
``/comments`` (one story, oldest first like the site) and ``/whatyousay`` (the latest across
the site). A row goes with its story when retention prunes the story. A reader's relayed
comment is tied to its row (``user_id``), and a site reply to it carries who to tell
(``reply_to_user``) and where that telling stands (``notice``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from news.outlet_events import CommentPublished, CommentRejected, StoryRef
from storage.comments import PUBLISHED, REJECTED, CommentView, comment_view
from storage.leasing import LeasedQueue, lease_due
from storage.models import Comment, OutletEvent, PublishedComment, ReplyPrompt, Story
from storage.story_messages import remember_story_message

# Reply notices: pending → sending (leased until notice_at) → sent | skipped.
NOTICE_PENDING, NOTICE_SENDING, NOTICE_SENT, NOTICE_SKIPPED = (
    "pending",
    "sending",
    "sent",
    "skipped",
)
# A notice's time doubles as its lease: due at notice_at, leased until notice_at.
_NOTICES = LeasedQueue(
    col(PublishedComment.notice),
    col(PublishedComment.notice_at),
    col(PublishedComment.notice_at),
    pending=NOTICE_PENDING,
    sending=NOTICE_SENDING,
)


@dataclass(frozen=True, slots=True)
class PublishedView:
    """A comment as the site shows it."""

    id: int
    outlet_id: str
    story_id: int
    author: str
    text: str
    url: str | None
    in_reply_to: str | None
    user_id: int | None  # the reader who wrote it in Telegram, if one did
    published_at: datetime


@dataclass(frozen=True, slots=True)
class SiteComment:
    """A published comment with its story's title and how many comments that story has."""

    comment: PublishedView
    story_title: str
    story_link: str | None
    story_count: int


@dataclass(frozen=True, slots=True)
class ReplyNotice:
    """A site reply to a reader's comment, to tell that reader about."""

    reply: PublishedView
    user_id: int
    parent_text: str
    story_title: str


@dataclass(frozen=True, slots=True)
class PublishedOutcome:
    """What recording ``comment.published`` changed."""

    new: bool
    comment: CommentView | None  # the reader's relayed comment, now published


def _view(row: PublishedComment) -> PublishedView:
    return PublishedView(
        id=row.id or 0,
        outlet_id=row.outlet_id,
        story_id=row.story_id,
        author=row.author,
        text=row.text,
        url=row.url,
        in_reply_to=row.in_reply_to,
        user_id=row.user_id,
        published_at=row.published_at,
    )


# --- recording the outlet's events ---------------------------------------------------------


async def find_story_id(session: AsyncSession, story: StoryRef) -> int | None:
    """The stored story an event names: by guid (its identity), else by link."""
    if story.guid:
        found = (
            await session.exec(select(Story.id).where(col(Story.identity) == f"guid:{story.guid}"))
        ).first()
        if found is None:
            found = (
                await session.exec(select(Story.id).where(col(Story.guid) == story.guid))
            ).first()
        if found is not None:
            return found
    if story.link:
        # Comment systems and feeds disagree about a trailing slash (…/story/#comment-5).
        bare = story.link.rstrip("/")
        links = list(dict.fromkeys([story.link, bare, bare + "/"]))
        found = (
            await session.exec(select(Story.id).where(col(Story.link_key).in_(links)))
        ).first()
        if found is None:
            statement = select(Story.id).where(col(Story.link).in_(links)).order_by(col(Story.id))
            found = (await session.exec(statement)).first()
        return found
    return None


async def _relayed(
    session: AsyncSession, key: str | None, outlet_id: str | None
) -> Comment | None:
    """The reader's comment an event is about: by our webhook-id, else by the outlet's id."""
    if key:
        comment_id = (
            await session.exec(
                select(OutletEvent.comment_id).where(col(OutletEvent.webhook_id) == key)
            )
        ).first()
        if comment_id is not None:
            return await session.get(Comment, comment_id, with_for_update=True)
    if outlet_id:
        return (
            await session.exec(
                select(Comment).where(col(Comment.outlet_id) == outlet_id).with_for_update()
            )
        ).first()
    return None


async def record_published(
    session: AsyncSession, event: CommentPublished, story_id: int, now: datetime
) -> PublishedOutcome:
    """Show ``event`` under its story (again, for an edit) and publish the reader's comment it
    is. A new reply to a reader's comment gets a pending notice (once: a repeat or an edit
    of the reply finds its row and adds none)."""
    relayed = await _relayed(session, event.key, event.id)
    published_at = event.published_at or now
    row = (
        await session.exec(
            select(PublishedComment).where(col(PublishedComment.outlet_id) == event.id)
        )
    ).first()
    new = row is None
    if row is None:
        parent = None
        if event.in_reply_to:
            parent = (
                await session.exec(
                    select(PublishedComment).where(
                        col(PublishedComment.outlet_id) == event.in_reply_to
                    )
                )
            ).first()
        author_id = relayed.user_id if relayed is not None else None
        to_tell = parent.user_id if parent is not None else None
        if to_tell is not None and to_tell == author_id:
            to_tell = None  # answering oneself is no news
        row = PublishedComment(
            outlet_id=event.id,
            story_id=story_id,
            author=event.author,
            text=event.text,
            url=event.url,
            in_reply_to=event.in_reply_to,
            comment_id=relayed.id if relayed is not None else None,
            user_id=author_id,
            reply_to_user=to_tell,
            notice=NOTICE_PENDING if to_tell is not None else None,
            notice_at=now if to_tell is not None else None,
            published_at=published_at,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
    else:
        row.story_id, row.author, row.text = story_id, event.author, event.text
        row.url = event.url or row.url
        row.published_at, row.updated_at = published_at, now
    changed: CommentView | None = None
    if relayed is not None and relayed.status != PUBLISHED:
        relayed.status, relayed.reason = PUBLISHED, None
        relayed.outlet_id = event.id
        relayed.outlet_status = "published"
        relayed.updated_at = now
        changed = comment_view(relayed)
    await session.flush()
    return PublishedOutcome(new=new, comment=changed)


async def record_rejected(
    session: AsyncSession, event: CommentRejected, now: datetime
) -> CommentView | None:
    """The reader's comment is not (or no longer) published: its state and the site's list."""
    relayed = await _relayed(session, event.key, event.id)
    outlet_ids = [i for i in (event.id, relayed.outlet_id if relayed else None) if i]
    if outlet_ids:
        await session.exec(
            delete(PublishedComment).where(col(PublishedComment.outlet_id).in_(outlet_ids))
        )
    if relayed is None or (relayed.status == REJECTED and relayed.reason == event.reason):
        return None
    relayed.status, relayed.reason = REJECTED, event.reason
    relayed.outlet_id = relayed.outlet_id or event.id
    relayed.updated_at = now
    await session.flush()
    return comment_view(relayed)


async def record_deleted(session: AsyncSession, outlet_id: str, now: datetime) -> bool:
    """The site no longer shows the comment; a reader's own reads "not published" in
    /mycomments (told quietly: they may have deleted it themselves). True if it was shown."""
    result = await session.exec(
        delete(PublishedComment).where(col(PublishedComment.outlet_id) == outlet_id)
    )
    await session.exec(
        update(Comment)
        .where(col(Comment.outlet_id) == outlet_id, col(Comment.status) == PUBLISHED)
        .values(status=REJECTED, reason=None, told=REJECTED, updated_at=now)
    )
    return bool(result.rowcount)


# --- reading the conversation -------------------------------------------------------------


async def story_page(
    session: AsyncSession, story_id: int, *, offset: int, limit: int
) -> tuple[list[PublishedView], int]:
    """One page of a story's comments, oldest first as the site lists them, and their total."""
    statement = (
        select(PublishedComment)
        .where(col(PublishedComment.story_id) == story_id)
        .order_by(col(PublishedComment.published_at), col(PublishedComment.id))
        .offset(offset)
        .limit(limit)
    )
    rows = (await session.exec(statement)).all()
    total = (
        await session.exec(select(func.count()).where(col(PublishedComment.story_id) == story_id))
    ).one()
    return [_view(r) for r in rows], int(total)


async def latest_comments(
    session: AsyncSession, editions: Sequence[str], *, offset: int = 0, limit: int = 10
) -> list[SiteComment]:
    """The latest published comments across the site, in these editions, newest first, with
    each story's title and comment count (the site's "What You Say" list)."""
    statement = (
        select(PublishedComment, Story.title, Story.link)
        .join(Story, col(Story.id) == col(PublishedComment.story_id))
        .where(col(Story.edition).in_(list(editions)))
        .order_by(col(PublishedComment.published_at).desc(), col(PublishedComment.id).desc())
        .offset(offset)
        .limit(limit)
    )
    rows = (await session.exec(statement)).all()
    counts = await comment_counts(session, [row.story_id for row, _, _ in rows])
    return [
        SiteComment(_view(row), title, link, counts.get(row.story_id, 0))
        for row, title, link in rows
    ]


async def comment_counts(session: AsyncSession, story_ids: Sequence[int]) -> dict[int, int]:
    """How many comments the site shows under each of these stories."""
    wanted = list(dict.fromkeys(story_ids))
    if not wanted:
        return {}
    rows = (
        await session.exec(
            select(PublishedComment.story_id, func.count())
            .where(col(PublishedComment.story_id).in_(wanted))
            .group_by(col(PublishedComment.story_id))
        )
    ).all()
    return {story_id: int(n) for story_id, n in rows}


async def get_published(session: AsyncSession, published_id: int) -> PublishedView | None:
    """One published comment by our id."""
    row = await session.get(PublishedComment, published_id)
    return _view(row) if row is not None else None


async def shown_for_comment(session: AsyncSession, comment_id: int) -> PublishedView | None:
    """The site's showing of a reader's relayed comment, if it shows it."""
    row = (
        await session.exec(
            select(PublishedComment).where(col(PublishedComment.comment_id) == comment_id)
        )
    ).first()
    return _view(row) if row is not None else None


async def shown_urls(session: AsyncSession, comment_ids: Sequence[int]) -> dict[int, str]:
    """Where the site shows each of these relayed comments, for those it shows with a link."""
    if not comment_ids:
        return {}
    rows = await session.exec(
        select(PublishedComment.comment_id, PublishedComment.url).where(
            col(PublishedComment.comment_id).in_(list(comment_ids)),
            col(PublishedComment.url).is_not(None),
        )
    )
    return {comment_id: url for comment_id, url in rows if comment_id is not None and url}


# --- telling readers about replies ------------------------------------------------------------


async def claim_notices(
    session: AsyncSession, now: datetime, *, limit: int, lease: timedelta
) -> list[ReplyNotice]:
    """Due reply notices (and those whose sender died), leased to this sender."""
    rows = await lease_due(session, PublishedComment, _NOTICES, now, limit=limit, lease=lease)
    notices: list[ReplyNotice] = []
    for row in rows:
        parent = (
            await session.exec(
                select(PublishedComment.text).where(
                    col(PublishedComment.outlet_id) == row.in_reply_to
                )
            )
        ).first()
        title = (await session.exec(select(Story.title).where(Story.id == row.story_id))).first()
        if row.reply_to_user is None or parent is None:
            row.notice = NOTICE_SKIPPED  # the reader left (/forget) or the parent is gone
            continue
        notices.append(ReplyNotice(_view(row), row.reply_to_user, parent, title or ""))
    await session.flush()
    return notices


async def notice_finished(
    session: AsyncSession, published_id: int, *, sent: bool, now: datetime
) -> None:
    """The reader was told (``sent``), or will not be (the setting is off, the chat gone)."""
    await session.exec(
        update(PublishedComment)
        .where(col(PublishedComment.id) == published_id)
        .values(notice=NOTICE_SENT if sent else NOTICE_SKIPPED, notice_at=None, updated_at=now)
    )


async def notice_later(session: AsyncSession, published_id: int, at: datetime) -> None:
    """Tell the reader at ``at`` instead (their quiet hours end then)."""
    await session.exec(
        update(PublishedComment)
        .where(col(PublishedComment.id) == published_id)
        .values(notice=NOTICE_PENDING, notice_at=at)
    )


async def next_notice_due(session: AsyncSession) -> datetime | None:
    """When the earliest reply notice is due."""
    statement = select(func.min(PublishedComment.notice_at)).where(
        col(PublishedComment.notice).in_((NOTICE_PENDING, NOTICE_SENDING))
    )
    return (await session.exec(statement)).one()


# --- answering on the site -----------------------------------------------------------------


async def add_reply_prompt(
    session: AsyncSession,
    chat_id: int,
    message_id: int,
    *,
    story_id: int,
    in_reply_to: str,
    now: datetime,
) -> None:
    """Remember a message inviting a reply to the site comment ``in_reply_to``: it shows its
    story (a plain reply to it is a comment on the story), and a reply to it answers that
    site comment."""
    await remember_story_message(session, chat_id, message_id, [story_id], "story", now)
    session.add(
        ReplyPrompt(
            chat_id=chat_id,
            message_id=message_id,
            story_id=story_id,
            in_reply_to=in_reply_to,
            created_at=now,
        )
    )
    await session.flush()


async def reply_target(session: AsyncSession, chat_id: int, message_id: int) -> str | None:
    """The site comment a reply to this message answers (None: an ordinary comment)."""
    row = await session.get(ReplyPrompt, (chat_id, message_id))
    return row.in_reply_to if row is not None else None


# --- pruning ---------------------------------------------------------------------------------


async def prune_reply_prompts(session: AsyncSession, before: datetime) -> int:
    """Forget reply prompts older than ``before`` (the comment window)."""
    result = await session.exec(delete(ReplyPrompt).where(col(ReplyPrompt.created_at) < before))
    return int(result.rowcount or 0)
