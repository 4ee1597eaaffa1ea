"""Keyword followers by phrase in chat order.

The fan-out reads a story's audience one range of chats at a time (``storage/audience.py``):
for each followed word the story matches, the followers in the next range of (chat_id,
thread_id). ``ix_follow_phrase`` (phrase) could only hand over every follower of the word at
each step, to be filtered and sorted; (phrase, chat_id, thread_id) is one range scan that
stops at the step's end, and still serves every lookup by phrase alone.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_follow_phrase_chat", "follow", ["phrase", "chat_id", "thread_id"])
    op.drop_index("ix_follow_phrase", table_name="follow")


def downgrade() -> None:
    op.create_index("ix_follow_phrase", "follow", ["phrase"])
    op.drop_index("ix_follow_phrase_chat", table_name="follow")
