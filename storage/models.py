"""SQLModel tables: feeds, stories, chats and pushes, readers' comments and their outbox.

The schema itself is owned by the Alembic migrations in ``storage/migrations``; these
models mirror it for queries. A test compares the two so they cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _utc(*, nullable: bool = True, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Feed(SQLModel, table=True):
    """A configured feed and the state of its polling (conditional GET, back-off, errors)."""

    __tablename__ = "feed"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    section: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The outlet's edition (language) the feed belongs to: "en", "ckb", "kmr", "ar", "tr"...
    edition: str = Field(default="en", sa_column=Column(Text, nullable=False, server_default="en"))
    title: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    etag: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_modified: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # A successful poll has been stored: the baseline, whose items are backlog, not news.
    initialized: bool = Field(default=False, nullable=False)
    # When that baseline was taken, if the feed held no items then (news.freshness).
    empty_baseline_at: datetime | None = Field(default=None, sa_column=_utc())
    consecutive_failures: int = Field(default=0, nullable=False)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_attempt_at: datetime | None = Field(default=None, sa_column=_utc())
    last_success_at: datetime | None = Field(default=None, sa_column=_utc())
    next_poll_at: datetime | None = Field(default=None, sa_column=_utc())
    created_at: datetime = Field(sa_column=_utc(nullable=False))
    # The WebSub hub and topic (its rel="self") the feed's last document advertised.
    websub_hub: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    websub_topic: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class WebSubSubscription(SQLModel, table=True):
    """The bot's subscription at a feed's WebSub hub (one per feed).

    ``token`` names the callback URL (``PUBLIC_URL/hooks/websub/<token>``); ``secret`` is the
    ``hub.secret`` the hub signs distributions with (never logged). Any instance answers the
    hub's verification and takes its distributions from this row; only the leader subscribes,
    renews and unsubscribes.
    """

    __tablename__ = "websub_subscription"
    __table_args__ = (
        UniqueConstraint("feed_id", name="uq_websub_subscription_feed"),
        UniqueConstraint("token", name="uq_websub_subscription_token"),
    )

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(
        sa_column=Column(Integer, ForeignKey("feed.id", ondelete="CASCADE"), nullable=False)
    )
    hub: str = Field(sa_column=Column(Text, nullable=False))
    topic: str = Field(sa_column=Column(Text, nullable=False))
    token: str = Field(sa_column=Column(Text, nullable=False))
    secret: str = Field(sa_column=Column(Text, nullable=False))
    # subscribing → active (verified, until expires_at) → unsubscribing; failed waits for
    # next_attempt_at.
    state: str = Field(sa_column=Column(Text, nullable=False))
    lease_seconds: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    expires_at: datetime | None = Field(default=None, sa_column=_utc())
    requested_at: datetime | None = Field(default=None, sa_column=_utc())
    verified_at: datetime | None = Field(default=None, sa_column=_utc())
    next_attempt_at: datetime | None = Field(default=None, sa_column=_utc())
    failures: int = Field(default=0, nullable=False)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_content_at: datetime | None = Field(default=None, sa_column=_utc())
    created_at: datetime = Field(sa_column=_utc(nullable=False))
    updated_at: datetime = Field(sa_column=_utc(nullable=False))


class Story(SQLModel, table=True):
    """One article; ``identity`` and ``link_key`` are each unique, so no article is stored
    twice (``news.story_identity`` says what they hold)."""

    __tablename__ = "story"
    __table_args__ = (
        UniqueConstraint("identity", name="uq_story_identity"),
        # The column was "link" until revision 0006; renamed, it kept its constraint's name.
        UniqueConstraint("link_key", name="uq_story_link"),
        Index("ix_story_sort", "sort_at", "id"),
        Index("ix_story_push_state", "push_state"),
        Index("ix_story_edition_sort", "edition", "sort_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    identity: str = Field(sa_column=Column(Text, nullable=False))
    guid: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # What readers open; several stories may share it (a live page without anchors).
    link: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The link again when it identifies this story, else None: the same article in another
    # feed, or under a renumbered guid, is found by it.
    link_key: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    title: str = Field(sa_column=Column(Text, nullable=False))
    summary: str = Field(default="", sa_column=Column(Text, nullable=False))
    # Title, summary and categories normalised for search (news.search_words); the index
    # reads this. Categories are searchable even when they are no section.
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False))
    image_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The picture's Telegram file id once a push of it succeeded: every later reader is sent
    # the id, so Telegram fetches each picture once. Cleared when the picture changes.
    photo_file_id: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Telegram refused the picture (too large, wrong type, unreachable): pushed as text.
    image_failed: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    author: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Categories as the feed gave them, one per line: plain text keeps both engines simple.
    categories: str = Field(default="", sa_column=Column(Text, nullable=False))
    language: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Its feed's edition, copied so "latest in my editions" reads one index.
    edition: str = Field(default="en", sa_column=Column(Text, nullable=False, server_default="en"))
    feed_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("feed.id", ondelete="SET NULL"), nullable=True),
    )
    published_at: datetime | None = Field(default=None, sa_column=_utc())
    first_seen_at: datetime = Field(sa_column=_utc(nullable=False))
    updated_at: datetime = Field(sa_column=_utc(nullable=False))
    # Publication time, or first-seen time when the feed gives none: what "newest" means.
    sort_at: datetime = Field(sa_column=_utc(nullable=False))
    # none: never to be pushed (backlog or too old); pending: new, waiting for fan-out;
    # queued: its broadcast exists.
    push_state: str = Field(default="none", sa_column=Column(Text, nullable=False))
    breaking: bool = Field(default=False, nullable=False)


class StorySection(SQLModel, table=True):
    """A story listed under a section; ``sort_at`` is copied so a section's latest is one index."""

    __tablename__ = "story_section"
    __table_args__ = (Index("ix_story_section_latest", "section", "sort_at", "story_id"),)

    story_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("story.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    section: str = Field(sa_column=Column(Text, primary_key=True, nullable=False))
    sort_at: datetime = Field(sa_column=_utc(nullable=False))


class Section(SQLModel, table=True):
    """A section readers can subscribe to: its slug and the name the outlet uses for it."""

    __tablename__ = "section"

    slug: str = Field(sa_column=Column(Text, primary_key=True, nullable=False))
    name: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_utc(nullable=False))


class SectionEdition(SQLModel, table=True):
    """A section seen in an edition's feeds, so each reader is offered their editions' sections."""

    __tablename__ = "section_edition"

    slug: str = Field(sa_column=Column(Text, primary_key=True, nullable=False))
    edition: str = Field(sa_column=Column(Text, primary_key=True, nullable=False))


class Chat(SQLModel, table=True):
    """A private chat, group or channel that talks to the bot, with its preferences."""

    __tablename__ = "chat"

    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    type: str = Field(sa_column=Column(Text, nullable=False))
    title: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    language: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The interface language chosen with /language (None: follow Telegram's language_code).
    locale: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Comma-separated edition codes in the reader's order; None means the default edition.
    # A column, not a table: every query that filters on it already reads the chat row.
    editions: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    timezone: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    active: bool = Field(default=True, nullable=False)
    created_at: datetime = Field(sa_column=_utc(nullable=False))
    updated_at: datetime = Field(sa_column=_utc(nullable=False))
    # instant, breaking (breaking news only), hourly or daily (a digest).
    delivery_mode: str = Field(default="instant", sa_column=Column(Text, nullable=False))
    quiet_start: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    quiet_end: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    digest_sent_at: datetime | None = Field(default=None, sa_column=_utc())
    inactive_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Whether the reader hears when someone on the site replies to their comment (/settings).
    comment_replies: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true())
    )
    # Pushes with pictures (True) or text only (False); None follows PUSH_IMAGES (/settings).
    push_images: bool | None = Field(default=None, sa_column=Column(Boolean, nullable=True))
    # Ordinary pushes arrive without sound; breaking news still rings (/settings).
    silent_pushes: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )


class Subscription(SQLModel, table=True):
    """A chat (or one forum topic of it) following a section; section ``*`` means all news."""

    __tablename__ = "subscription"
    __table_args__ = (
        UniqueConstraint("chat_id", "thread_id", "section", name="uq_subscription"),
        Index("ix_subscription_section", "section", "chat_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("chat.id", ondelete="CASCADE"), nullable=False)
    )
    # 0 when the chat has no topics: a plain integer keeps the unique constraint meaningful.
    thread_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    section: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_utc(nullable=False))
    # When the chat was told that this section is no longer offered (None: not told). The
    # row itself stays, so a section the operator offers again simply works again.
    retired_notice_at: datetime | None = Field(default=None, sa_column=_utc())


class Broadcast(SQLModel, table=True):
    """One story to fan out (kind ``push``) or to correct where it was pushed (``edit``).

    Subscribers are enumerated in keyset batches; the cursor makes a crash resume where the
    enumeration stopped instead of starting over.
    """

    __tablename__ = "broadcast"
    __table_args__ = (
        UniqueConstraint("story_id", "kind", name="uq_broadcast"),
        Index("ix_broadcast_open", "enumerated", "priority", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    story_id: int = Field(
        sa_column=Column(Integer, ForeignKey("story.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(sa_column=Column(Text, nullable=False))
    priority: int = Field(nullable=False)
    cursor_chat: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    cursor_thread: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    enumerated: bool = Field(default=False, nullable=False)
    created_at: datetime = Field(sa_column=_utc(nullable=False))


class Delivery(SQLModel, table=True):
    """One message to one chat (topic): at most one per story, chat, topic and kind."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("story_id", "chat_id", "thread_id", "kind", name="uq_delivery"),
        Index("ix_delivery_queue", "status", "priority", "id"),
        Index("ix_delivery_message", "chat_id", "message_id"),
        Index("ix_delivery_created", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    story_id: int = Field(
        sa_column=Column(Integer, ForeignKey("story.id", ondelete="CASCADE"), nullable=False)
    )
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    thread_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    kind: str = Field(sa_column=Column(Text, nullable=False))
    priority: int = Field(nullable=False)
    # pending → sending → sent | failed | skipped
    status: str = Field(sa_column=Column(Text, nullable=False))
    not_before: datetime | None = Field(default=None, sa_column=_utc())
    attempts: int = Field(default=0, nullable=False)
    message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # A keyword alert: the followed keywords the story matched, comma-separated (shown as
    # "🔔 kirkuk"); None for an ordinary push.
    matched: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The message sent is a photo with a caption: a correction edits the caption.
    photo: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    created_at: datetime = Field(sa_column=_utc(nullable=False))
    updated_at: datetime = Field(sa_column=_utc(nullable=False))


class PushRecord(SQLModel, table=True):
    """A story a reader received in a push or a digest, kept for the comment window: replies
    map a message back to its stories, corrections find the messages to edit. The delivery
    row that sent it is compacted away once it is finished (``storage.deliveries``); this
    narrow row is what remains, one per story, chat and topic."""

    __tablename__ = "push_record"
    __table_args__ = (
        Index("ix_push_record_message", "chat_id", "message_id"),
        Index("ix_push_record_sent", "sent_at"),
    )

    story_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("story.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    thread_id: int = Field(
        default=0, sa_column=Column(BigInteger, primary_key=True, autoincrement=False)
    )
    message_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    # A keyword alert: the followed keywords it was labelled with, comma-separated.
    matched: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    photo: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    sent_at: datetime = Field(sa_column=_utc(nullable=False))


class DeliveryTally(SQLModel, table=True):
    """How many finished deliveries of a kind ended how, per day they were queued: what
    /stats counts once their rows are compacted."""

    __tablename__ = "delivery_tally"

    day: str = Field(sa_column=Column(Text, primary_key=True))  # YYYY-MM-DD, UTC
    kind: str = Field(sa_column=Column(Text, primary_key=True))
    status: str = Field(sa_column=Column(Text, primary_key=True))
    count: int = Field(default=0, nullable=False)


class Follow(SQLModel, table=True):
    """A keyword alert: a normalised word or phrase a chat (topic) wants pushed."""

    __tablename__ = "follow"
    __table_args__ = (
        UniqueConstraint("chat_id", "thread_id", "phrase", name="uq_follow"),
        Index("ix_follow_phrase_chat", "phrase", "chat_id", "thread_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("chat.id", ondelete="CASCADE"), nullable=False)
    )
    thread_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    phrase: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_utc(nullable=False))


class Mute(SQLModel, table=True):
    """A muted word: a normalised word or phrase a chat (topic) never wants pushed."""

    __tablename__ = "mute"
    __table_args__ = (
        UniqueConstraint("chat_id", "thread_id", "phrase", name="uq_mute"),
        Index("ix_mute_phrase", "phrase"),
    )

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("chat.id", ondelete="CASCADE"), nullable=False)
    )
    thread_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    phrase: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_utc(nullable=False))


class StoryMessage(SQLModel, table=True):
    """A message the bot sent that shows one story (or lists several) outside a push.

    Pushes are found through their delivery rows; this covers /latest lists, stories opened
    from a deep link and the "write your comment" prompts, so a reply to any of them can be
    tied to its story.
    """

    __tablename__ = "story_message"
    __table_args__ = (Index("ix_story_message_created", "created_at"),)

    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    message_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    story_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("story.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    # story (one story shown), list (one of several), prompt (a ForceReply asking for a comment)
    kind: str = Field(sa_column=Column(Text, nullable=False))
    position: int = Field(default=0, nullable=False)
    created_at: datetime = Field(sa_column=_utc(nullable=False))


class Commenter(SQLModel, table=True):
    """A reader who commented: the display name the outlet shows, and moderation state."""

    __tablename__ = "commenter"

    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    # Chosen with /name; None means "the Telegram name" (``telegram_name``, refreshed on use).
    display_name: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    telegram_name: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    language: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    banned: bool = Field(default=False, nullable=False)
    banned_at: datetime | None = Field(default=None, sa_column=_utc())
    # Set once the reader has been told their name is shown publicly.
    notified_at: datetime | None = Field(default=None, sa_column=_utc())
    created_at: datetime = Field(sa_column=_utc(nullable=False))
    updated_at: datetime = Field(sa_column=_utc(nullable=False))


class Comment(SQLModel, table=True):
    """A reader's comment on a story, from the reply that wrote it to the outlet's verdict.

    The article's link, guid and title are copied in, so a comment can still be relayed
    (and listed) after retention has pruned its story.
    """

    __tablename__ = "comment"
    __table_args__ = (
        Index("ix_comment_user", "user_id", "created_at"),
        Index("ix_comment_source", "chat_id", "message_id"),
        Index("ix_comment_story", "story_id", "status", "created_at"),
        Index("ix_comment_status", "status", "updated_at"),
        # Moderation buttons carry comment ids: SQLite must never hand a deleted one out again.
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    story_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("story.id", ondelete="SET NULL"), nullable=True),
    )
    article_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    article_guid: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    article_title: str = Field(sa_column=Column(Text, nullable=False))
    language: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    user_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    # The reader's own message (edits find the comment by it) and the bot's answer to it
    # (edited when the outlet decides).
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    message_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    answer_message_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    author_name: str = Field(sa_column=Column(Text, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    # choosing (which story?) → held (moderators) | queued (outbox) → relayed (outlet holds
    # it for moderation) | published | rejected | failed
    status: str = Field(sa_column=Column(Text, nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Why it was held for moderators: "links" or "moderation" (every comment is reviewed).
    held_for: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    outlet_id: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    outlet_status: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    decided_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    card_sent: bool = Field(default=False, nullable=False)
    # The state the reader was last told about; a verdict not yet told is told again (the
    # process that got it may have died before it could say so).
    told: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=_utc(nullable=False))
    updated_at: datetime = Field(sa_column=_utc(nullable=False))
    relayed_at: datetime | None = Field(default=None, sa_column=_utc())
    # The comment this one replies to (a reply to another comment in a channel's discussion
    # thread); no foreign key: a parent deleted with /forget leaves a reply without one.
    parent_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # A reply on the site: the outlet's id of the comment it answers, kept with the comment so
    # that a reply held for the moderators still says so when it is approved.
    in_reply_to: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ChannelThread(SQLModel, table=True):
    """A channel post's thread in the channel's discussion group: the automatic forward that
    starts it (``group_id``, ``thread_id``), the post it copies, and the post's story (None
    until the post's delivery row says which; ``storage.channels`` fills it in)."""

    __tablename__ = "channel_thread"
    __table_args__ = (
        Index("ix_channel_thread_post", "channel_id", "post_id"),
        Index("ix_channel_thread_created", "created_at"),
    )

    group_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    thread_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    channel_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    post_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    story_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("story.id", ondelete="CASCADE"), nullable=True),
    )
    created_at: datetime = Field(sa_column=_utc(nullable=False))


class RefusalNotice(SQLModel, table=True):
    """When a reader was last told, in a channel's discussion group, why a comment of theirs
    was refused: shared by every instance, so the group hears it once per quiet period."""

    __tablename__ = "refusal_notice"
    __table_args__ = (Index("ix_refusal_notice_told", "told_at"),)

    group_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    told_at: datetime = Field(sa_column=_utc(nullable=False))


class OutletEvent(SQLModel, table=True):
    """The outbox: one webhook to the outlet (``comment.created`` or ``comment.deleted``).

    ``webhook_id`` is the idempotency key, fixed when the row is written and sent unchanged
    on every retry. A ``created`` event reads its comment when it is sent (so an edit made
    before relay goes out); a ``deleted`` event carries its own payload, because the comment
    itself is gone by then.
    """

    __tablename__ = "outlet_event"
    __table_args__ = (
        UniqueConstraint("webhook_id", name="uq_outlet_event_webhook"),
        Index("ix_outlet_event_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: str = Field(sa_column=Column(Text, nullable=False))
    type: str = Field(sa_column=Column(Text, nullable=False))
    comment_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("comment.id", ondelete="CASCADE"), nullable=True),
    )
    payload: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The outlet's id of the comment a reply answers (sent as data.in_reply_to).
    in_reply_to: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # pending → sending (leased until lease_until) → done | rejected | expired
    status: str = Field(sa_column=Column(Text, nullable=False))
    attempts: int = Field(default=0, nullable=False)
    next_attempt_at: datetime = Field(sa_column=_utc(nullable=False))
    lease_until: datetime | None = Field(default=None, sa_column=_utc())
    deadline: datetime = Field(sa_column=_utc(nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=_utc(nullable=False))
    updated_at: datetime = Field(sa_column=_utc(nullable=False))


class InboxEvent(SQLModel, table=True):
    """The inbox: one event the outlet sent (or the comments feed brought), kept until done.

    Written by the listener before it answers, so an accepted event survives a crash; the
    unique ``webhook_id`` makes a repeated delivery a no-op. Processed under a lease by any
    instance, each row by one.
    """

    __tablename__ = "inbox_event"
    __table_args__ = (
        UniqueConstraint("webhook_id", name="uq_inbox_event_webhook"),
        Index("ix_inbox_event_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: str = Field(sa_column=Column(Text, nullable=False))
    type: str = Field(sa_column=Column(Text, nullable=False))
    data: str = Field(sa_column=Column(Text, nullable=False))  # the event's data, as JSON
    # pending → sending (leased until lease_until) → done | dropped
    status: str = Field(sa_column=Column(Text, nullable=False))
    attempts: int = Field(default=0, nullable=False)
    next_attempt_at: datetime = Field(sa_column=_utc(nullable=False))
    lease_until: datetime | None = Field(default=None, sa_column=_utc())
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    received_at: datetime = Field(sa_column=_utc(nullable=False))
    updated_at: datetime = Field(sa_column=_utc(nullable=False))


class PublishedComment(SQLModel, table=True):
    """A comment the site shows under a story, as it shows it: name, date, text.

    Deleted with its story (retention). ``user_id`` is set when it is a reader's relayed
    comment (their own is marked); ``reply_to_user`` when it answers one, and then
    ``notice`` says where telling that reader stands.
    """

    __tablename__ = "published_comment"
    __table_args__ = (
        UniqueConstraint("outlet_id", name="uq_published_comment_outlet"),
        Index("ix_published_comment_story", "story_id", "published_at", "id"),
        Index("ix_published_comment_latest", "published_at", "id"),
        Index("ix_published_comment_notice", "notice", "notice_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    outlet_id: str = Field(sa_column=Column(Text, nullable=False))
    story_id: int = Field(
        sa_column=Column(Integer, ForeignKey("story.id", ondelete="CASCADE"), nullable=False)
    )
    author: str = Field(sa_column=Column(Text, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    in_reply_to: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    comment_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("comment.id", ondelete="SET NULL"), nullable=True),
    )
    user_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    reply_to_user: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # pending → sending (until notice_at) → sent | skipped; None: nobody to tell
    notice: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    notice_at: datetime | None = Field(default=None, sa_column=_utc())
    published_at: datetime = Field(sa_column=_utc(nullable=False))
    created_at: datetime = Field(sa_column=_utc(nullable=False))
    updated_at: datetime = Field(sa_column=_utc(nullable=False))


class ReplyPrompt(SQLModel, table=True):
    """A message inviting a reader to answer a site comment: a reply to it is a reply comment."""

    __tablename__ = "reply_prompt"
    __table_args__ = (Index("ix_reply_prompt_created", "created_at"),)

    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    message_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    story_id: int = Field(
        sa_column=Column(Integer, ForeignKey("story.id", ondelete="CASCADE"), nullable=False)
    )
    in_reply_to: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_utc(nullable=False))


class BotState(SQLModel, table=True):
    """Small named values the bot keeps across restarts (the pseudonym key, relay pause)."""

    __tablename__ = "bot_state"

    key: str = Field(sa_column=Column(Text, primary_key=True, nullable=False))
    value: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_column=_utc(nullable=False))


ALL_SECTIONS = "*"
# Breaking news first, then new stories, then corrections of stories already pushed.
PRIORITY_BREAKING, PRIORITY_NEW, PRIORITY_EDIT = 0, 1, 2
