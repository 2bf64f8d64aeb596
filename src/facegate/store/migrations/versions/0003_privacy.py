"""Privacy: purpose policies, consent evidence, purpose-bound templates, the audit chain.

Revision ID: 0003_privacy
Revises: 0002_api_keys
Create Date: 2025-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_privacy"
down_revision = "0002_api_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("purposes") as batch:
        batch.add_column(
            sa.Column(
                "legal_basis",
                sa.String(64),
                nullable=False,
                server_default="explicit-consent",
            )
        )
        batch.add_column(
            sa.Column("legal_basis_reference", sa.Text(), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("consent_required", sa.Boolean(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("keep_images", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("non_face_alternative", sa.Boolean(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("scopes", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("text_version", sa.String(64), nullable=True))
        batch.add_column(sa.Column("method", sa.String(64), nullable=True))
        batch.add_column(sa.Column("recorded_by", sa.String(64), nullable=True))
    with op.batch_alter_table("templates") as batch:
        batch.add_column(sa.Column("purpose", sa.String(64), nullable=True))
        batch.drop_constraint("uq_templates_subject_row", type_="unique")
        batch.create_unique_constraint(
            "uq_templates_subject_pack_sha", ["subject_row", "pack", "image_sha256", "purpose"]
        )
        batch.create_index("ix_templates_purpose", ["purpose"])
    op.create_table(
        "audit_chain",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=True),
        sa.Column("subject_refs", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(128), nullable=False),
        sa.Column("score_band", sa.String(16), nullable=True),
        sa.Column("prev_mac", sa.String(64), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_chain"),
    )
    op.create_index("ix_audit_chain_at", "audit_chain", ["at"])
    op.create_index("ix_audit_chain_key_id", "audit_chain", ["key_id"])


def downgrade() -> None:
    op.drop_table("audit_chain")
    with op.batch_alter_table("templates") as batch:
        batch.drop_index("ix_templates_purpose")
        batch.drop_constraint("uq_templates_subject_pack_sha", type_="unique")
        batch.create_unique_constraint(
            "uq_templates_subject_row", ["subject_row", "pack", "image_sha256"]
        )
        batch.drop_column("purpose")
    with op.batch_alter_table("consents") as batch:
        for column in ("recorded_by", "method", "text_version", "text"):
            batch.drop_column(column)
    with op.batch_alter_table("purposes") as batch:
        for column in (
            "scopes",
            "non_face_alternative",
            "keep_images",
            "retention_days",
            "consent_required",
            "legal_basis_reference",
            "legal_basis",
        ):
            batch.drop_column(column)
