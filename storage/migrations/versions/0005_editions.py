"""Editions and languages: which edition a feed and its stories belong to, a chat's chosen
editions and interface language, and the editions each section appears in.

Existing feeds and stories start in "en"; at start the bot re-registers its configured feeds
with their editions (``DEFAULT_EDITION`` for entries without one) and moves their stories
along, so an outlet whose default edition is not English loses nothing. Chats keep NULL
editions, meaning "the default edition", until a reader chooses.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feed") as batch:
        batch.add_column(sa.Column("edition", sa.Text(), nullable=False, server_default="en"))
    with op.batch_alter_table("story") as batch:
        batch.add_column(sa.Column("edition", sa.Text(), nullable=False, server_default="en"))
    op.create_index("ix_story_edition_sort", "story", ["edition", "sort_at", "id"])
    with op.batch_alter_table("chat") as batch:
        # The interface language the chat chose (NULL: follow Telegram's language_code).
        batch.add_column(sa.Column("locale", sa.Text(), nullable=True))
        # Comma-separated edition codes, in the reader's order (NULL: the default edition).
        batch.add_column(sa.Column("editions", sa.Text(), nullable=True))
    op.create_table(
        "section_edition",
        sa.Column("slug", sa.Text(), primary_key=True),
        sa.Column("edition", sa.Text(), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("section_edition")
    with op.batch_alter_table("chat") as batch:
        batch.drop_column("editions")
        batch.drop_column("locale")
    op.drop_index("ix_story_edition_sort", table_name="story")
    with op.batch_alter_table("story") as batch:
        batch.drop_column("edition")
    with op.batch_alter_table("feed") as batch:
        batch.drop_column("edition")
