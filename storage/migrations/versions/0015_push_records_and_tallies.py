"""Compaction of finished deliveries (issue 20).

A million-reader broadcast wrote a million wide delivery rows, kept for the whole comment
window. ``push_record`` keeps what replies and corrections need of a sent push or digest
(story, chat, topic, message id, keyword label, photo, when), one narrow row each;
``delivery_tally`` counts finished deliveries per day, kind and outcome for /stats. The
delivery rows themselves are compacted away once finished. Sent pushes already stored are
copied into ``push_record`` here.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_record",
        sa.Column(
            "story_id",
            sa.Integer(),
            sa.ForeignKey("story.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("chat_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("thread_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("matched", sa.Text(), nullable=True),
        sa.Column("photo", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_push_record_message", "push_record", ["chat_id", "message_id"])
    op.create_index("ix_push_record_sent", "push_record", ["sent_at"])
    op.create_table(
        "delivery_tally",
        sa.Column("day", sa.Text(), primary_key=True),
        sa.Column("kind", sa.Text(), primary_key=True),
        sa.Column("status", sa.Text(), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.execute(
        "INSERT INTO push_record "
        "(story_id, chat_id, thread_id, message_id, matched, photo, sent_at) "
        "SELECT story_id, chat_id, thread_id, message_id, matched, photo, updated_at "
        "FROM delivery "
        "WHERE kind = 'push' AND status = 'sent' AND message_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("delivery_tally")
    op.drop_index("ix_push_record_sent", table_name="push_record")
    op.drop_index("ix_push_record_message", table_name="push_record")
    op.drop_table("push_record")
