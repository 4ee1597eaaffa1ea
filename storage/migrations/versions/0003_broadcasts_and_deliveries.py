"""Broadcasts, deliveries, keyword follows, and each chat's delivery preferences.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (both engines have it): a batch "copy and move" of story on SQLite
    # would silently drop the full-text triggers that keep story_fts in step.
    op.add_column(
        "chat", sa.Column("delivery_mode", sa.Text(), nullable=False, server_default="instant")
    )
    op.add_column("chat", sa.Column("quiet_start", sa.Text(), nullable=True))
    op.add_column("chat", sa.Column("quiet_end", sa.Text(), nullable=True))
    op.add_column("chat", sa.Column("digest_sent_at", UTCDateTime(), nullable=True))
    op.add_column("chat", sa.Column("inactive_reason", sa.Text(), nullable=True))
    op.add_column(
        "story", sa.Column("breaking", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "broadcast",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "story_id", sa.Integer(), sa.ForeignKey("story.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("cursor_chat", sa.BigInteger(), nullable=True),
        sa.Column("cursor_thread", sa.BigInteger(), nullable=True),
        sa.Column("enumerated", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("story_id", "kind", name="uq_broadcast"),
    )
    op.create_index("ix_broadcast_open", "broadcast", ["enumerated", "priority", "id"])
    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "story_id", sa.Integer(), sa.ForeignKey("story.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("not_before", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("story_id", "chat_id", "thread_id", "kind", name="uq_delivery"),
    )
    op.create_index("ix_delivery_queue", "delivery", ["status", "priority", "id"])
    op.create_index("ix_delivery_message", "delivery", ["chat_id", "message_id"])
    op.create_index("ix_delivery_created", "delivery", ["created_at"])
    op.create_table(
        "follow",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "chat_id",
            sa.BigInteger(),
            sa.ForeignKey("chat.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("thread_id", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("phrase", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("chat_id", "thread_id", "phrase", name="uq_follow"),
    )
    op.create_index("ix_follow_phrase", "follow", ["phrase"])
    # Before this revision nothing consumed "pending": those stories are old news by now.
    op.execute("UPDATE story SET push_state = 'none' WHERE push_state = 'pending'")


def downgrade() -> None:
    op.drop_index("ix_follow_phrase", table_name="follow")
    op.drop_table("follow")
    op.drop_index("ix_delivery_created", table_name="delivery")
    op.drop_index("ix_delivery_message", table_name="delivery")
    op.drop_index("ix_delivery_queue", table_name="delivery")
    op.drop_table("delivery")
    op.drop_index("ix_broadcast_open", table_name="broadcast")
    op.drop_table("broadcast")
    # SQLite 3.35+ and PostgreSQL both drop columns in place (no table copy, triggers kept).
    for table, column in (
        ("story", "breaking"),
        ("chat", "inactive_reason"),
        ("chat", "digest_sent_at"),
        ("chat", "quiet_end"),
        ("chat", "quiet_start"),
        ("chat", "delivery_mode"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
