"""The gallery schema as SQLAlchemy 2 models (portable: SQLite and PostgreSQL).

Alembic migrations under ``facegate/store/migrations`` create exactly these tables; a test
compares the two. Only portable types are used (Integer, String, Text, Float, LargeBinary,
DateTime with time zone); template embeddings are stored sealed (see :mod:`.crypto`), never
in plain form, and source images are never stored, only their SHA-256.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A time zone-aware UTC timestamp on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class MetaRow(Base):
    """Store-wide values: schema facts and the master-key check value."""

    __tablename__ = "store_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class SubjectRow(Base):
    __tablename__ = "subjects"
    __table_args__ = {"sqlite_autoincrement": True}

    row: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    display_name: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class DataKeyRow(Base):
    """A subject's data key, wrapped by the master key. Deleting it shreds the templates."""

    __tablename__ = "data_keys"

    subject_row: Mapped[int] = mapped_column(
        Integer, ForeignKey("subjects.row", ondelete="CASCADE"), primary_key=True
    )
    wrapped: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    master_fingerprint: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class PurposeRow(Base):
    """A purpose and its policy (see :class:`facegate.privacy.purposes.PurposePolicy`)."""

    __tablename__ = "purposes"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    legal_basis: Mapped[str] = mapped_column(
        String(64), nullable=False, default="explicit-consent", server_default="explicit-consent"
    )
    legal_basis_reference: Mapped[str] = mapped_column(
        Text, nullable=False, default="", server_default=""
    )
    consent_required: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default="1"
    )
    retention_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    keep_images: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="0"
    )
    non_face_alternative: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default="1"
    )
    scopes: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    liveness_required: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    watchlist: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="0"
    )


class ConsentRow(Base):
    __tablename__ = "consents"
    __table_args__ = (
        Index("ix_consents_purpose_subject", "purpose", "subject_row"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_row: Mapped[int] = mapped_column(
        Integer, ForeignKey("subjects.row", ondelete="CASCADE"), nullable=False, index=True
    )
    purpose: Mapped[str] = mapped_column(
        String(64), ForeignKey("purposes.name", ondelete="RESTRICT"), nullable=False
    )
    evidence: Mapped[str] = mapped_column(Text, nullable=False, default="")
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    text_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    method: Mapped[str | None] = mapped_column(String(64), nullable=True)
    recorded_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class TemplateRow(Base):
    """A sealed template; ``purpose`` is the purpose it was enrolled for (NULL before 0003)."""

    __tablename__ = "templates"
    __table_args__ = (
        UniqueConstraint(
            "subject_row", "pack", "image_sha256", "purpose", name="uq_templates_subject_pack_sha"
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_row: Mapped[int] = mapped_column(
        Integer, ForeignKey("subjects.row", ondelete="CASCADE"), nullable=False, index=True
    )
    sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    pack: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    dim: Mapped[int] = mapped_column(Integer, nullable=False)
    quality: Mapped[float | None] = mapped_column(Float, nullable=True)
    image_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    purpose: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class ApiKeyRow(Base):
    """An HTTP API key: only the SHA-256 of its secret is stored (see facegate.server.keys)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    scopes: Mapped[str] = mapped_column(Text, nullable=False)
    purposes: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RequestLogRow(Base):
    """One biometric operation served over HTTP: who, which key, purpose, subject ids, outcome.

    The plain log written before revision 0003; no longer written (the tamper-evident chain in
    :class:`AuditRow` replaced it) and kept only so that older records are not lost. Erasing a
    subject deletes the rows that name it.
    """

    __tablename__ = "request_log"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    request_id: Mapped[str] = mapped_column(String(32), nullable=False)
    key_id: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    operation: Mapped[str] = mapped_column(String(32), nullable=False)
    purpose: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject_ids: Mapped[str] = mapped_column(Text, nullable=False, default="")
    decision: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[int] = mapped_column(Integer, nullable=False)


class AuditRow(Base):
    """One link of the audit chain (see :mod:`facegate.privacy.audit`).

    ``at`` is the exact ISO-8601 text the MAC covers; ``subject_refs`` are keyed pseudonyms of
    subject ids, space-separated. Never images, embeddings or names.
    """

    __tablename__ = "audit_chain"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    key_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    request_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    operation: Mapped[str] = mapped_column(String(32), nullable=False)
    purpose: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject_refs: Mapped[str] = mapped_column(Text, nullable=False, default="")
    decision: Mapped[str] = mapped_column(Text, nullable=False, default="")
    score_band: Mapped[str | None] = mapped_column(String(16), nullable=True)
    prev_mac: Mapped[str] = mapped_column(String(64), nullable=False)
    mac: Mapped[str] = mapped_column(String(64), nullable=False)


class ChangeRow(Base):
    """One entry of the change feed: a change to what a purpose's search may return.

    ``seq`` is allocated (previous + 1) inside the write transaction that makes the change,
    under the writer lock (:mod:`facegate.store.transactions`), so it grows in commit order
    and every process holding a search index can apply what it has not seen yet. ``kind`` is
    ``subject`` (templates or consents of ``subject_row`` changed, within ``purpose`` or in
    every purpose when it is NULL) or ``purpose`` (the purpose's policy or contents changed as
    a whole). Never names, embeddings or images.
    """

    __tablename__ = "change_feed"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    subject_row: Mapped[int | None] = mapped_column(Integer, nullable=True)
    purpose: Mapped[str | None] = mapped_column(String(64), nullable=True)


# applications (facegate.apps): decisions, notices, payment accounts


class AppDecisionRow(Base):
    """One application decision (a payment approved, a registration rejected, the alternative
    path chosen...), written in the same transaction as its audit record ``audit_seq``.

    ``subject_ref`` is the audit chain's keyed pseudonym of the subject id, never the id;
    ``detail`` is JSON of plain facts (amount band, image SHA-256s, method), never images,
    embeddings or names (see :mod:`facegate.apps.decisions`).
    """

    __tablename__ = "app_decisions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    app: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    purpose: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)
    operating_point: Mapped[str | None] = mapped_column(String(64), nullable=True)
    liveness: Mapped[str | None] = mapped_column(Text, nullable=True)
    subject_ref: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    audit_seq: Mapped[int] = mapped_column(Integer, nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="{}")


class AppNoticeRow(Base):
    """The notice a purpose shows people: who processes, how to reach them, how to refuse."""

    __tablename__ = "app_notices"

    purpose: Mapped[str] = mapped_column(
        String(64), ForeignKey("purposes.name", ondelete="CASCADE"), primary_key=True
    )
    processor: Mapped[str] = mapped_column(Text, nullable=False)
    contact: Mapped[str] = mapped_column(Text, nullable=False)
    alternative: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class PayAccountRow(Base):
    """A payer's account: the subject it pays for, the keyed tag of the second factor the
    payer types (an HMAC of the last digits of a phone number, never the digits) and the
    scrypt hash of the PIN used to step up or to pay without a face."""

    __tablename__ = "pay_accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject_row: Mapped[int] = mapped_column(
        Integer, ForeignKey("subjects.row", ondelete="CASCADE"), nullable=False, unique=True
    )
    phone_tag: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    pin_hash: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
