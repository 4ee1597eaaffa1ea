"""Pictures and quieter pushes (issue 18).

``story.photo_file_id`` keeps the file id of the story's picture once Telegram has fetched
it, so every other reader is sent that id instead of the URL; ``story.image_failed`` marks
a picture Telegram refused, so later readers get text at once. ``chat.push_images`` is the
reader's choice of pictures or text only (None: the ``PUSH_IMAGES`` default) and
``chat.silent_pushes`` sends ordinary stories without sound. ``delivery.photo`` says a
pushed message is a photo, so a correction edits its caption rather than its text.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("story", sa.Column("photo_file_id", sa.Text(), nullable=True))
    op.add_column(
        "story",
        sa.Column("image_failed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("chat", sa.Column("push_images", sa.Boolean(), nullable=True))
    op.add_column(
        "chat",
        sa.Column("silent_pushes", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "delivery",
        sa.Column("photo", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("photo")
    with op.batch_alter_table("chat") as batch:
        batch.drop_column("silent_pushes")
        batch.drop_column("push_images")
    with op.batch_alter_table("story") as batch:
        batch.drop_column("image_failed")
        batch.drop_column("photo_file_id")
