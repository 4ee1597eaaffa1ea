"""Readers' comments, the outbox of webhooks to the outlet, and messages that show stories.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "story_message",
        sa.Column("chat_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("message_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column(
            "story_id",
            sa.Integer(),
            sa.ForeignKey("story.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_story_message_created", "story_message", ["created_at"])
    op.create_table(
        "commenter",
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("telegram_name", sa.Text(), nullable=True),
        sa.Column("language", sa.Text(), nullable=True),
        sa.Column("banned", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("banned_at", UTCDateTime(), nullable=True),
        sa.Column("notified_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "comment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "story_id", sa.Integer(), sa.ForeignKey("story.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("article_url", sa.Text(), nullable=True),
        sa.Column("article_guid", sa.Text(), nullable=True),
        sa.Column("article_title", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("answer_message_id", sa.BigInteger(), nullable=True),
        sa.Column("author_name", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("held_for", sa.Text(), nullable=True),
        sa.Column("outlet_id", sa.Text(), nullable=True),
        sa.Column("outlet_status", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("card_sent", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("told", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("relayed_at", UTCDateTime(), nullable=True),
        # Moderation buttons carry comment ids: SQLite must never hand a deleted one out again.
        sqlite_autoincrement=True,
    )
    op.create_index("ix_comment_user", "comment", ["user_id", "created_at"])
    op.create_index("ix_comment_source", "comment", ["chat_id", "message_id"])
    op.create_index("ix_comment_story", "comment", ["story_id", "status", "created_at"])
    op.create_index("ix_comment_status", "comment", ["status", "updated_at"])
    op.create_table(
        "outlet_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("webhook_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column(
            "comment_id",
            sa.Integer(),
            sa.ForeignKey("comment.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("deadline", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("webhook_id", name="uq_outlet_event_webhook"),
    )
    op.create_index("ix_outlet_event_due", "outlet_event", ["status", "next_attempt_at"])
    op.create_table(
        "bot_state",
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bot_state")
    op.drop_index("ix_outlet_event_due", table_name="outlet_event")
    op.drop_table("outlet_event")
    for index in ("ix_comment_status", "ix_comment_story", "ix_comment_source", "ix_comment_user"):
        op.drop_index(index, table_name="comment")
    op.drop_table("comment")
    op.drop_table("commenter")
    op.drop_index("ix_story_message_created", table_name="story_message")
    op.drop_table("story_message")
