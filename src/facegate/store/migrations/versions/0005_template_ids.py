"""Template ids are never reused: AUTOINCREMENT on SQLite (lost when 0003 rebuilt the table).

Without it SQLite hands the highest id out again once that template is erased, and audit
records that name "template N" would become ambiguous. The sequence starts above every id
in use and every id that an ``erase.template`` audit record names. PostgreSQL's sequences
never reuse ids, so nothing changes there.

Revision ID: 0005_template_ids
Revises: 0004_change_feed
Create Date: 2026-12-01
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0005_template_ids"
down_revision = "0004_change_feed"
branch_labels = None
depends_on = None


def _highest_erased(conn: sa.Connection) -> int:
    rows = conn.execute(
        sa.text("SELECT decision FROM audit_chain WHERE operation = 'erase.template'")
    )
    found = [int(m.group(1)) for (d,) in rows if (m := re.match(r"template (\d+)$", d or ""))]
    return max(found, default=0)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "templates", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ):
        pass
    used = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM templates")).scalar() or 0
    start = max(int(used), _highest_erased(conn))
    conn.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'templates'"))
    conn.execute(
        sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('templates', :seq)"),
        {"seq": start},
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("templates", recreate="always"):
        pass
