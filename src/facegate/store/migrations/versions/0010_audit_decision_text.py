"""Audit records keep their whole decision: ``audit_chain.decision`` becomes TEXT.

It was VARCHAR(128) and the chain cut longer decisions (an API key bound to many purposes, an
enrolment with its liveness evidence) to 128 characters before signing them. Existing records
are unchanged, so their MACs still verify. A downgrade refuses, naming how many, while any
record's decision is longer than 128 characters: cutting it would break the chain.

Revision ID: 0010_audit_decision_text
Revises: 0009_access_attendance
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_audit_decision_text"
down_revision = "0009_access_attendance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_chain") as batch:
        batch.alter_column(
            "decision", type_=sa.Text(), existing_type=sa.String(128), existing_nullable=False
        )


def downgrade() -> None:
    long = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM audit_chain WHERE length(decision) > 128"))
        .scalar()
    )
    if long:
        raise RuntimeError(
            f"cannot downgrade: {long} audit records have decisions longer than 128 "
            "characters, and cutting them would break the audit chain"
        )
    with op.batch_alter_table("audit_chain") as batch:
        batch.alter_column(
            "decision", type_=sa.String(128), existing_type=sa.Text(), existing_nullable=False
        )
