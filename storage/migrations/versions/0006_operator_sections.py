"""Sections come from the operator: categories become searchable, and subscriptions to
sections no longer offered remember that their chat was told.

Older versions filed every category of a bare-URL feed as a section. Those rows stay (they
age out with their stories, and nothing offers them any more: which sections are offered is
configuration, see bot/config.py); the categories themselves are added to every stored
story's search text, so a category that is no section can still be searched for.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from news.search_words import search_document
from storage.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_BATCH = 1000
_story = sa.table(
    "story",
    sa.column("id", sa.Integer()),
    sa.column("title", sa.Text()),
    sa.column("summary", sa.Text()),
    sa.column("categories", sa.Text()),
    sa.column("search_text", sa.Text()),
)


def upgrade() -> None:
    # When the chat was told that this section is no longer offered (NULL: not told).
    op.add_column("subscription", sa.Column("retired_notice_at", UTCDateTime(), nullable=True))
    # The normalisation is Python's (news.search_words), so the backfill is too: in keyset
    # batches, only stories that have categories. The full-text index follows search_text
    # (SQLite's triggers, PostgreSQL's generated column).
    bind = op.get_bind()
    rewrite = (
        sa.update(_story)
        .where(_story.c.id == sa.bindparam("story_id"))
        .values(search_text=sa.bindparam("text"))
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(_story.c.id, _story.c.title, _story.c.summary, _story.c.categories)
            .where(_story.c.id > last, _story.c.categories != "")
            .order_by(_story.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        bind.execute(
            rewrite,
            [
                {"story_id": story_id, "text": search_document(title, summary, categories)}
                for story_id, title, summary, categories in rows
            ],
        )
        last = rows[-1][0]


def downgrade() -> None:
    # Search texts keep their categories: a few more words to match is harmless.
    with op.batch_alter_table("subscription") as batch:
        batch.drop_column("retired_notice_at")
