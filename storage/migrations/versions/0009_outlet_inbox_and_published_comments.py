"""The outlet's events and the site's conversation (issue 17).

``inbox_event`` keeps each event the outlet sent until it is processed; ``published_comment``
holds what the site shows under each story (deleted with the story); ``reply_prompt`` ties a
"reply to this comment" prompt to the site comment it answers; ``outlet_event.in_reply_to``
carries that answer to the outlet; ``chat.comment_replies`` is the /settings switch for being
told about replies.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "chat",
        sa.Column("comment_replies", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column("outlet_event", sa.Column("in_reply_to", sa.Text(), nullable=True))
    op.create_table(
        "inbox_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("webhook_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("webhook_id", name="uq_inbox_event_webhook"),
    )
    op.create_index("ix_inbox_event_due", "inbox_event", ["status", "next_attempt_at"])
    op.create_table(
        "published_comment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("outlet_id", sa.Text(), nullable=False),
        sa.Column(
            "story_id",
            sa.Integer(),
            sa.ForeignKey("story.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("in_reply_to", sa.Text(), nullable=True),
        sa.Column(
            "comment_id",
            sa.Integer(),
            sa.ForeignKey("comment.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("reply_to_user", sa.BigInteger(), nullable=True),
        sa.Column("notice", sa.Text(), nullable=True),
        sa.Column("notice_at", UTCDateTime(), nullable=True),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("outlet_id", name="uq_published_comment_outlet"),
    )
    op.create_index(
        "ix_published_comment_story", "published_comment", ["story_id", "published_at", "id"]
    )
    op.create_index("ix_published_comment_latest", "published_comment", ["published_at", "id"])
    op.create_index("ix_published_comment_notice", "published_comment", ["notice", "notice_at"])
    op.create_table(
        "reply_prompt",
        sa.Column("chat_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("message_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column(
            "story_id",
            sa.Integer(),
            sa.ForeignKey("story.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("in_reply_to", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_reply_prompt_created", "reply_prompt", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_reply_prompt_created", table_name="reply_prompt")
    op.drop_table("reply_prompt")
    op.drop_index("ix_published_comment_notice", table_name="published_comment")
    op.drop_index("ix_published_comment_latest", table_name="published_comment")
    op.drop_index("ix_published_comment_story", table_name="published_comment")
    op.drop_table("published_comment")
    op.drop_index("ix_inbox_event_due", table_name="inbox_event")
    op.drop_table("inbox_event")
    with op.batch_alter_table("outlet_event") as batch:
        batch.drop_column("in_reply_to")
    with op.batch_alter_table("chat") as batch:
        batch.drop_column("comment_replies")
