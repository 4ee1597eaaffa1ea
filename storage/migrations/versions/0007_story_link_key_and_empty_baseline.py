"""A story's shown link apart from its unique link key; when a feed's baseline was empty.

``story.link`` was both what readers open and a unique key, so items whose links normalised
to one (a live blog's posts, ``/page#post-1`` and ``/page#post-2``) were merged into one
story. The unique column becomes ``link_key`` — set only when the link identifies the story
(``news.story_identity``) — and ``link`` is added back, plain, for readers.

``feed.empty_baseline_at`` records when a feed's first successful poll found no items: its
later items are news unless published well before that (``news.freshness``).

No table is copied: renaming a column keeps its unique constraint on both engines, whereas
SQLite's "copy and move" would drop the full-text triggers and, with foreign keys on,
cascade the deletion of the old table to every story's sections and deliveries.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE story RENAME COLUMN link TO link_key")
    op.add_column("story", sa.Column("link", sa.Text(), nullable=True))
    op.execute("UPDATE story SET link = link_key")
    op.add_column("feed", sa.Column("empty_baseline_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE feed DROP COLUMN empty_baseline_at")
    # A story whose link was shown but not a key gets it back as its key when no other story
    # holds it (the oldest one wins); the others keep no link, as the old schema demands.
    op.execute(
        "UPDATE story SET link_key = link WHERE link_key IS NULL AND link IS NOT NULL "
        "AND id = (SELECT MIN(s.id) FROM story s WHERE s.link = story.link) "
        "AND NOT EXISTS (SELECT 1 FROM story s WHERE s.link_key = story.link)"
    )
    op.execute("ALTER TABLE story DROP COLUMN link")
    op.execute("ALTER TABLE story RENAME COLUMN link_key TO link")
