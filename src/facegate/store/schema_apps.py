"""Tables of the access-control and attendance applications (same metadata as the gallery).

Rows that concern a person reference ``subjects.row`` with ``ON DELETE CASCADE``: erasing a
subject deletes its schedules, cards and PINs, roster entries, check-ins, review cases and
guardian records with it. Card numbers and PINs are stored only as keyed hashes, a site's
webhook secret only sealed by the master key; never images or embeddings.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from facegate.store.schema import Base, UTCDateTime

_SUBJECT = "subjects.row"


class AccessSiteRow(Base):
    """A gate, door or housing block: its purpose, time zone and door webhook."""

    __tablename__ = "access_sites"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(64), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class AccessScheduleRow(Base):
    """When a subject (or, with no subject, everyone consented for the site) may pass."""

    __tablename__ = "access_schedules"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(
        String(64), ForeignKey("access_sites.name", ondelete="CASCADE"), nullable=False, index=True
    )
    subject_row: Mapped[int | None] = mapped_column(
        Integer, ForeignKey(_SUBJECT, ondelete="CASCADE"), nullable=True, index=True
    )
    weekdays: Mapped[str] = mapped_column(String(7), nullable=False)
    start_minute: Mapped[int] = mapped_column(Integer, nullable=False)
    end_minute: Mapped[int] = mapped_column(Integer, nullable=False)


class AccessCredentialRow(Base):
    """A card number or PIN of a subject at a site, as a keyed hash (the alternative path)."""

    __tablename__ = "access_credentials"
    __table_args__ = (
        UniqueConstraint("site", "kind", "digest", name="uq_access_credentials_site_kind_digest"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(
        String(64), ForeignKey("access_sites.name", ondelete="CASCADE"), nullable=False
    )
    subject_row: Mapped[int] = mapped_column(
        Integer, ForeignKey(_SUBJECT, ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class AttendanceClassRow(Base):
    """A class (or an exam's cohort): the purpose its check-ins search."""

    __tablename__ = "attendance_classes"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(64), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class RosterRow(Base):
    """One subject on a class's roster; ``birth_date`` (ISO) when known, for the guardian rule."""

    __tablename__ = "attendance_roster"

    class_name: Mapped[str] = mapped_column(
        String(64), ForeignKey("attendance_classes.name", ondelete="CASCADE"), primary_key=True
    )
    subject_row: Mapped[int] = mapped_column(
        Integer, ForeignKey(_SUBJECT, ondelete="CASCADE"), primary_key=True, index=True
    )
    birth_date: Mapped[str | None] = mapped_column(String(10), nullable=True)


class AttendanceSessionRow(Base):
    """One lesson or exam sitting with its check-in window."""

    __tablename__ = "attendance_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    class_name: Mapped[str] = mapped_column(
        String(64), ForeignKey("attendance_classes.name", ondelete="CASCADE"), nullable=False
    )
    title: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    late_after: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class CheckInRow(Base):
    """A subject's check-in to a session: when, how (face, staff check), and the status."""

    __tablename__ = "attendance_checkins"

    session_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("attendance_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    subject_row: Mapped[int] = mapped_column(
        Integer, ForeignKey(_SUBJECT, ondelete="CASCADE"), primary_key=True, index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(8), nullable=False)


class ReviewCaseRow(Base):
    """A suspected impostor at an exam check-in, waiting for (or decided by) a person."""

    __tablename__ = "attendance_reviews"
    __table_args__ = (
        Index("ix_attendance_reviews_status", "status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("attendance_sessions.id", ondelete="CASCADE"), nullable=False
    )
    subject_row: Mapped[int] = mapped_column(
        Integer, ForeignKey(_SUBJECT, ondelete="CASCADE"), nullable=False, index=True
    )
    reason: Mapped[str] = mapped_column(String(128), nullable=False)
    score_band: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class GuardianConsentRow(Base):
    """A guardian's consent for a minor, with the guardian's details (next to the consent)."""

    __tablename__ = "guardian_consents"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_row: Mapped[int] = mapped_column(
        Integer, ForeignKey(_SUBJECT, ondelete="CASCADE"), nullable=False, index=True
    )
    purpose: Mapped[str] = mapped_column(String(64), nullable=False)
    birth_date: Mapped[str] = mapped_column(String(10), nullable=False)
    guardian_name: Mapped[str] = mapped_column(String(255), nullable=False)
    guardian_relation: Mapped[str] = mapped_column(String(64), nullable=False)
    guardian_contact: Mapped[str] = mapped_column(String(255), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(64), nullable=False)
