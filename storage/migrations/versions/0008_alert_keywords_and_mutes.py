"""Keyword alerts say why they came, and readers mute words.

``delivery.matched`` holds the followed keywords a story matched for that chat (a keyword
alert; NULL for an ordinary push), so the message can say "🔔 kirkuk". ``mute`` holds the
words and phrases a chat (topic) never wants pushed, normalised as ``follow``'s are.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("delivery", sa.Column("matched", sa.Text(), nullable=True))
    op.create_table(
        "mute",
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
        sa.UniqueConstraint("chat_id", "thread_id", "phrase", name="uq_mute"),
    )
    op.create_index("ix_mute_phrase", "mute", ["phrase"])


def downgrade() -> None:
    op.drop_index("ix_mute_phrase", table_name="mute")
    op.drop_table("mute")
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("matched")
