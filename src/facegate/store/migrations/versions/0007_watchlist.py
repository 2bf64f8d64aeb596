"""Purposes can be marked as watchlists (real-time search from video streams).

Revision ID: 0007_watchlist
Revises: 0006_liveness
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_watchlist"
down_revision = "0006_liveness"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("purposes") as batch:
        batch.add_column(
            sa.Column("watchlist", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("purposes") as batch:
        batch.drop_column("watchlist")
