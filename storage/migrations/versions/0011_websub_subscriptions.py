"""WebSub (issue 18): the hub a feed advertises, and the bot's subscription at it.

``feed.websub_hub`` and ``feed.websub_topic`` are what the feed's last document advertised
(``<link rel="hub">`` and ``rel="self"``). ``websub_subscription`` is one subscription per
feed: the random ``token`` of its callback URL, the ``secret`` the hub signs distributions
with (kept here, so any instance behind a load balancer can check them; never logged), its
state and lease.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("feed", sa.Column("websub_hub", sa.Text(), nullable=True))
    op.add_column("feed", sa.Column("websub_topic", sa.Text(), nullable=True))
    op.create_table(
        "websub_subscription",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "feed_id",
            sa.Integer(),
            sa.ForeignKey("feed.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("hub", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("lease_seconds", sa.Integer(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("requested_at", UTCDateTime(), nullable=True),
        sa.Column("verified_at", UTCDateTime(), nullable=True),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_content_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("feed_id", name="uq_websub_subscription_feed"),
        sa.UniqueConstraint("token", name="uq_websub_subscription_token"),
    )


def downgrade() -> None:
    op.drop_table("websub_subscription")
    op.drop_column("feed", "websub_topic")
    op.drop_column("feed", "websub_hub")
