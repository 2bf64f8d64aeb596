"""Applications: decision records, per-purpose notices, payment accounts.

Revision ID: 0008_apps
Revises: 0007_watchlist
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_apps"
down_revision = "0007_watchlist"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "app_decisions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("app", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("operating_point", sa.String(64), nullable=True),
        sa.Column("liveness", sa.Text(), nullable=True),
        sa.Column("subject_ref", sa.String(32), nullable=True),
        sa.Column("audit_seq", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    for column in ("app", "purpose", "at", "subject_ref"):
        op.create_index(f"ix_app_decisions_{column}", "app_decisions", [column])
    op.create_table(
        "app_notices",
        sa.Column(
            "purpose",
            sa.String(64),
            sa.ForeignKey(
                "purposes.name", ondelete="CASCADE", name="fk_app_notices_purpose_purposes"
            ),
            primary_key=True,
        ),
        sa.Column("processor", sa.Text(), nullable=False),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("alternative", sa.Text(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "pay_accounts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "subject_row",
            sa.Integer(),
            sa.ForeignKey(
                "subjects.row", ondelete="CASCADE", name="fk_pay_accounts_subject_row_subjects"
            ),
            nullable=False,
        ),
        sa.Column("phone_tag", sa.String(64), nullable=False),
        sa.Column("pin_hash", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("subject_row", name="uq_pay_accounts_subject_row"),
    )
    op.create_index("ix_pay_accounts_phone_tag", "pay_accounts", ["phone_tag"])


def downgrade() -> None:
    op.drop_table("pay_accounts")
    op.drop_table("app_notices")
    op.drop_table("app_decisions")
