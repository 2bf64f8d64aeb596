"""Purpose policy: whether a passed liveness check is required (null: the default for the name).

Revision ID: 0005_liveness
Revises: 0004_change_feed
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_liveness"
down_revision = "0004_change_feed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("purposes") as batch:
        batch.add_column(sa.Column("liveness_required", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("purposes") as batch:
        batch.drop_column("liveness_required")
