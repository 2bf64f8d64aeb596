"""Purpose policy: whether a passed liveness check is required (null: the default for the name).

Revision ID: 0006_liveness
Revises: 0005_template_ids
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_liveness"
down_revision = "0005_template_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("purposes") as batch:
        batch.add_column(sa.Column("liveness_required", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("purposes") as batch:
        batch.drop_column("liveness_required")
