"""Access control and attendance: sites, schedules, cards and PINs, classes, rosters,
sessions, check-ins, exam review cases and guardian consents.

Revision ID: 0009_access_attendance
Revises: 0008_apps
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_access_attendance"
down_revision = "0008_apps"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_TABLES = (
    "attendance_reviews",
    "attendance_checkins",
    "guardian_consents",
    "attendance_sessions",
    "attendance_roster",
    "access_schedules",
    "access_credentials",
    "attendance_classes",
    "access_sites",
)


def upgrade() -> None:
    op.create_table(
        "access_sites",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_secret", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_access_sites")),
    )
    op.create_table(
        "attendance_classes",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_attendance_classes")),
    )
    op.create_table(
        "access_credentials",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("subject_row", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["site"],
            ["access_sites.name"],
            name=op.f("fk_access_credentials_site_access_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_row"],
            ["subjects.row"],
            name=op.f("fk_access_credentials_subject_row_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_credentials")),
        sa.UniqueConstraint(
            "site", "kind", "digest", name="uq_access_credentials_site_kind_digest"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_access_credentials_subject_row"),
        "access_credentials",
        ["subject_row"],
        unique=False,
    )
    op.create_table(
        "access_schedules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("subject_row", sa.Integer(), nullable=True),
        sa.Column("weekdays", sa.String(length=7), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site"],
            ["access_sites.name"],
            name=op.f("fk_access_schedules_site_access_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_row"],
            ["subjects.row"],
            name=op.f("fk_access_schedules_subject_row_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_schedules")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_access_schedules_site"), "access_schedules", ["site"], unique=False)
    op.create_index(
        op.f("ix_access_schedules_subject_row"), "access_schedules", ["subject_row"], unique=False
    )
    op.create_table(
        "attendance_roster",
        sa.Column("class_name", sa.String(length=64), nullable=False),
        sa.Column("subject_row", sa.Integer(), nullable=False),
        sa.Column("birth_date", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(
            ["class_name"],
            ["attendance_classes.name"],
            name=op.f("fk_attendance_roster_class_name_attendance_classes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_row"],
            ["subjects.row"],
            name=op.f("fk_attendance_roster_subject_row_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("class_name", "subject_row", name=op.f("pk_attendance_roster")),
    )
    op.create_index(
        op.f("ix_attendance_roster_subject_row"), "attendance_roster", ["subject_row"], unique=False
    )
    op.create_table(
        "attendance_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("class_name", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("opens_at", _TS, nullable=False),
        sa.Column("starts_at", _TS, nullable=False),
        sa.Column("late_after", _TS, nullable=False),
        sa.Column("closes_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["class_name"],
            ["attendance_classes.name"],
            name=op.f("fk_attendance_sessions_class_name_attendance_classes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_sessions")),
    )
    op.create_table(
        "guardian_consents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_row", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("birth_date", sa.String(length=10), nullable=False),
        sa.Column("guardian_name", sa.String(length=255), nullable=False),
        sa.Column("guardian_relation", sa.String(length=64), nullable=False),
        sa.Column("guardian_contact", sa.String(length=255), nullable=False),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_row"],
            ["subjects.row"],
            name=op.f("fk_guardian_consents_subject_row_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardian_consents")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_guardian_consents_subject_row"), "guardian_consents", ["subject_row"], unique=False
    )
    op.create_table(
        "attendance_checkins",
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("subject_row", sa.Integer(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["attendance_sessions.id"],
            name=op.f("fk_attendance_checkins_session_id_attendance_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_row"],
            ["subjects.row"],
            name=op.f("fk_attendance_checkins_subject_row_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "subject_row", name=op.f("pk_attendance_checkins")),
    )
    op.create_index(
        op.f("ix_attendance_checkins_subject_row"),
        "attendance_checkins",
        ["subject_row"],
        unique=False,
    )
    op.create_table(
        "attendance_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("subject_row", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=128), nullable=False),
        sa.Column("score_band", sa.String(length=16), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["attendance_sessions.id"],
            name=op.f("fk_attendance_reviews_session_id_attendance_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_row"],
            ["subjects.row"],
            name=op.f("fk_attendance_reviews_subject_row_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_reviews")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_attendance_reviews_status", "attendance_reviews", ["status"], unique=False)
    op.create_index(
        op.f("ix_attendance_reviews_subject_row"),
        "attendance_reviews",
        ["subject_row"],
        unique=False,
    )


def downgrade() -> None:
    for table in _TABLES:
        op.drop_table(table)
