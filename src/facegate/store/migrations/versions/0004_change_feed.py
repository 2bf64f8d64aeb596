"""The writer lock row and the change feed.

Every write transaction starts by updating the ``writer`` row of ``store_meta`` (see
``facegate.store.transactions``); ``change_feed`` numbers each change to what a search may
return, in commit order, so every process holding a search index can apply it.

Revision ID: 0004_change_feed
Revises: 0003_privacy
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_change_feed"
down_revision = "0003_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    meta = sa.table("store_meta", sa.column("key", sa.String), sa.column("value", sa.LargeBinary))
    op.bulk_insert(meta, [{"key": "writer", "value": b""}])
    op.create_table(
        "change_feed",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject_row", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_change_feed"),
    )


def downgrade() -> None:
    op.drop_table("change_feed")
    op.execute("DELETE FROM store_meta WHERE key = 'writer'")
