"""A site reply's parent, kept with the comment.

``comment.in_reply_to`` is the outlet's id of the site comment a reader's reply answers. It
was kept only on the comment's outbox row, which a comment held for the moderators does not
have yet: approved, it reached the outlet as a comment of its own, not a reply. Replies
already queued keep theirs on their outbox row.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("comment", sa.Column("in_reply_to", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("comment") as batch:
        batch.drop_column("in_reply_to")
