"""Channels' discussion threads, and replies between comments.

``channel_thread`` ties each channel post's automatic forward in the channel's discussion
group (the message that starts the post's comment thread) to the channel post, and through
its delivery row to the story. ``comment.parent_id`` is the comment a comment replies to
(a reply in a discussion thread to another comment), so the relay can say so.
``refusal_notice`` remembers when a reader was last told in a discussion group why a comment
was refused, so that every instance keeps the group quiet for a while after.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_thread",
        sa.Column("group_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("thread_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "story_id",
            sa.Integer(),
            sa.ForeignKey("story.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_channel_thread_post", "channel_thread", ["channel_id", "post_id"])
    op.create_index("ix_channel_thread_created", "channel_thread", ["created_at"])
    op.add_column("comment", sa.Column("parent_id", sa.Integer(), nullable=True))
    op.create_table(
        "refusal_notice",
        sa.Column("group_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("told_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_refusal_notice_told", "refusal_notice", ["told_at"])


def downgrade() -> None:
    op.drop_index("ix_refusal_notice_told", table_name="refusal_notice")
    op.drop_table("refusal_notice")
    with op.batch_alter_table("comment") as batch:
        batch.drop_column("parent_id")
    op.drop_index("ix_channel_thread_created", table_name="channel_thread")
    op.drop_index("ix_channel_thread_post", table_name="channel_thread")
    op.drop_table("channel_thread")
