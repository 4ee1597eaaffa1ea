"""Feeds, stories, sections and full-text search.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False, unique=True),
        sa.Column("section", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("initialized", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_success_at", UTCDateTime(), nullable=True),
        sa.Column("next_poll_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "story",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("guid", sa.Text(), nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False, server_default=""),
        sa.Column("search_text", sa.Text(), nullable=False, server_default=""),
        sa.Column("image_url", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("categories", sa.Text(), nullable=False, server_default=""),
        sa.Column("language", sa.Text(), nullable=True),
        sa.Column(
            "feed_id", sa.Integer(), sa.ForeignKey("feed.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("sort_at", UTCDateTime(), nullable=False),
        sa.Column("push_state", sa.Text(), nullable=False, server_default="none"),
        sa.UniqueConstraint("identity", name="uq_story_identity"),
        sa.UniqueConstraint("link", name="uq_story_link"),
    )
    op.create_index("ix_story_sort", "story", ["sort_at", "id"])
    op.create_index("ix_story_push_state", "story", ["push_state"])
    op.create_table(
        "story_section",
        sa.Column(
            "story_id",
            sa.Integer(),
            sa.ForeignKey("story.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("section", sa.Text(), primary_key=True),
        sa.Column("sort_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_story_section_latest", "story_section", ["section", "sort_at", "story_id"])
    op.create_table(
        "section",
        sa.Column("slug", sa.Text(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )

    if op.get_bind().dialect.name == "postgresql":
        # 'simple' keeps every language's words as they are: no English stemming of Kurdish.
        op.execute(
            "ALTER TABLE story ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
            "(to_tsvector('simple', search_text)) STORED"
        )
        op.execute("CREATE INDEX ix_story_search ON story USING gin (search_vector)")
    else:
        # External-content FTS5 index over the normalised text, kept in step by triggers;
        # prefix indexes make the prefix queries of inline mode cheap.
        op.execute(
            "CREATE VIRTUAL TABLE story_fts USING fts5(search_text, content='story', "
            "content_rowid='id', tokenize='unicode61 remove_diacritics 0', prefix='2 3')"
        )
        op.execute(
            "CREATE TRIGGER story_fts_insert AFTER INSERT ON story BEGIN "
            "INSERT INTO story_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER story_fts_delete AFTER DELETE ON story BEGIN "
            "INSERT INTO story_fts(story_fts, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER story_fts_update AFTER UPDATE OF search_text ON story BEGIN "
            "INSERT INTO story_fts(story_fts, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); "
            "INSERT INTO story_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("story_fts_insert", "story_fts_delete", "story_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS story_fts")
    op.drop_table("section")
    op.drop_index("ix_story_section_latest", table_name="story_section")
    op.drop_table("story_section")
    op.drop_index("ix_story_push_state", table_name="story")
    op.drop_index("ix_story_sort", table_name="story")
    op.drop_table("story")
    op.drop_table("feed")
