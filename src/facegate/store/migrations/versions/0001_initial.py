"""Initial gallery schema: subjects, data keys, purposes, consents, templates.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_store_meta"),
    )
    op.create_table(
        "subjects",
        sa.Column("row", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=True),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("row", name="pk_subjects"),
        sa.UniqueConstraint("id", name="uq_subjects_id"),
        sa.UniqueConstraint("external_id", name="uq_subjects_external_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_subjects_display_name", "subjects", ["display_name"])
    op.create_table(
        "data_keys",
        sa.Column("subject_row", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("master_fingerprint", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_row"],
            ["subjects.row"],
            name="fk_data_keys_subject_row_subjects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subject_row", name="pk_data_keys"),
    )
    op.create_table(
        "purposes",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_purposes"),
    )
    _create_consents()
    _create_templates()


def _create_consents() -> None:
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_row", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("granted_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_row"],
            ["subjects.row"],
            name="fk_consents_subject_row_subjects",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["purpose"],
            ["purposes.name"],
            name="fk_consents_purpose_purposes",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_consents_subject_row", "consents", ["subject_row"])
    op.create_index("ix_consents_purpose_subject", "consents", ["purpose", "subject_row"])


def _create_templates() -> None:
    op.create_table(
        "templates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_row", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("pack", sa.String(64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("quality", sa.Float(), nullable=True),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_row"],
            ["subjects.row"],
            name="fk_templates_subject_row_subjects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_templates"),
        sa.UniqueConstraint("subject_row", "pack", "image_sha256", name="uq_templates_subject_row"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_templates_subject_row", "templates", ["subject_row"])
    op.create_index("ix_templates_pack", "templates", ["pack"])


def downgrade() -> None:
    for table in ("templates", "consents", "purposes", "data_keys", "subjects", "store_meta"):
        op.drop_table(table)
