"""Store queries for the data lifecycle: purpose policies, erasure variants, retention sweeps.

Mixed into :class:`facegate.store.sql.SqlStore`. Every deletion runs in one transaction; on
SQLite ``secure_delete`` zeroes the freed pages and :func:`shred_wal` then checkpoints and
truncates the write-ahead log, so deleted rows leave no readable copy in the database files.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from facegate.errors import PurposeNotFoundError, StoreError
from facegate.store.changes import record_changes
from facegate.store.consents import active_at
from facegate.store.protocol import Purpose, PurposeErasure, SweepResult, TemplateInfo
from facegate.store.schema import (
    ConsentRow,
    DataKeyRow,
    PurposeRow,
    RequestLogRow,
    SubjectRow,
    TemplateRow,
)
from facegate.store.templates import template_value
from facegate.store.transactions import Transactions

log = logging.getLogger(__name__)
_CHUNK = 500


def purpose_value(row: PurposeRow) -> Purpose:
    return Purpose(
        row.name,
        row.description,
        row.created_at,
        row.legal_basis,
        row.legal_basis_reference,
        bool(row.consent_required),
        row.retention_days,
        bool(row.keep_images),
        bool(row.non_face_alternative),
        tuple(v for v in row.scopes.split(",") if v),
        row.liveness_required,
        bool(row.watchlist),
    )


def shred_wal(engine: Engine, attempts: int = 20) -> None:
    """Checkpoint the WAL into the main file and truncate it (SQLite only).

    A reader holding an old snapshot can keep the checkpoint from completing; retry briefly
    and say so in the log if it still cannot finish (the next erase or close finishes it).
    """
    if engine.dialect.name != "sqlite":
        return
    for attempt in range(attempts):
        with engine.connect() as conn:
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
        if busy is None or not busy[0]:
            return
        time.sleep(0.01 * (attempt + 1))
    log.warning("WAL checkpoint after erasure blocked by a reader; it completes on a later one")


def _delete_ids(s: Session, ids: Sequence[int]) -> None:
    for start in range(0, len(ids), _CHUNK):
        s.execute(delete(TemplateRow).where(TemplateRow.id.in_(ids[start : start + _CHUNK])))


class LifecycleQueries:
    """Purpose policies, erasure of a template or a purpose, retention sweeps, counts."""

    _engine: Engine
    _tx: Transactions
    _clock: Callable[[], datetime]

    def _subject_row(self, s: Session, subject_id: str) -> SubjectRow:
        raise NotImplementedError

    def _delete_subject(self, s: Session, subject: SubjectRow) -> None:
        """Every row about ``subject``, its wrapped data key last-but-one, then the subject."""
        for table in (TemplateRow, ConsentRow, DataKeyRow):
            s.execute(delete(table).where(table.subject_row == subject.row))
        s.execute(delete(RequestLogRow).where(RequestLogRow.subject_ids.contains(subject.id)))
        s.execute(delete(SubjectRow).where(SubjectRow.row == subject.row))

    def define_purpose(self, purpose: Purpose) -> Purpose:
        """Create or update a purpose and its policy (``created_at`` is kept on update)."""
        with self._tx.write() as s:
            row = s.get(PurposeRow, purpose.name)
            if row is None:
                row = PurposeRow(name=purpose.name, created_at=self._clock())
                s.add(row)
            row.description = purpose.description
            row.legal_basis = purpose.legal_basis
            row.legal_basis_reference = purpose.legal_basis_reference
            row.consent_required = purpose.consent_required
            row.retention_days = purpose.retention_days
            row.keep_images = purpose.keep_images
            row.non_face_alternative = purpose.non_face_alternative
            row.scopes = ",".join(purpose.scopes)
            row.liveness_required = purpose.liveness_required
            row.watchlist = purpose.watchlist
            s.flush()
            record_changes(s, self._clock(), "purpose", [None], purpose.name)
            return purpose_value(row)

    def erase_template(self, template_id: int) -> TemplateInfo:
        """Delete one template (its row is zeroed on disk); returns what it was."""
        with self._tx.write() as s:
            row = s.get(TemplateRow, template_id)
            if row is None:
                raise StoreError(f"no template with id {template_id}")
            subject = s.get(SubjectRow, row.subject_row)
            info = template_value(subject.id if subject is not None else "", row)
            owner = row.subject_row
            s.delete(row)
            record_changes(s, self._clock(), "subject", [owner], info.purpose)
        self._tx.after_commit(lambda: shred_wal(self._engine))
        return info

    def erase_purpose(self, purpose: str) -> PurposeErasure:
        """Delete the purpose, its templates and consents.

        Subjects left with no template and no active consent are erased whole (data key too).
        """
        with self._tx.write() as s:
            if s.get(PurposeRow, purpose) is None:
                raise PurposeNotFoundError(f"no purpose named {purpose!r}")
            touched = set(
                s.scalars(select(TemplateRow.subject_row).where(TemplateRow.purpose == purpose))
            ) | set(s.scalars(select(ConsentRow.subject_row).where(ConsentRow.purpose == purpose)))
            templates = s.execute(delete(TemplateRow).where(TemplateRow.purpose == purpose))
            consents = s.execute(delete(ConsentRow).where(ConsentRow.purpose == purpose))
            s.execute(delete(PurposeRow).where(PurposeRow.name == purpose))
            erased = self._erase_orphans(s, touched)
            affected = s.scalars(select(SubjectRow.id).where(SubjectRow.row.in_(touched))).all()
            record_changes(s, self._clock(), "purpose", [None], purpose)
        self._tx.after_commit(lambda: shred_wal(self._engine))
        return PurposeErasure(
            purpose,
            int(getattr(templates, "rowcount", 0)),
            int(getattr(consents, "rowcount", 0)),
            tuple(erased),
            tuple(sorted(set(affected) | set(erased))),
        )

    def _erase_orphans(self, s: Session, rows: set[int], now: datetime | None = None) -> list[str]:
        """Erase subjects in ``rows`` with no template and no active consent left."""
        erased: list[str] = []
        when = now or self._clock()
        for subject in s.scalars(select(SubjectRow).where(SubjectRow.row.in_(sorted(rows)))):
            has_template = s.scalar(
                select(func.count()).where(TemplateRow.subject_row == subject.row)
            )
            has_active = s.scalar(
                select(func.count()).where(
                    (ConsentRow.subject_row == subject.row) & active_at(when)
                )
            )
            if has_template or has_active:
                continue
            erased.append(subject.id)
            self._delete_subject(s, subject)
        return erased

    def sweep(self, now: datetime, pending_grace: timedelta) -> SweepResult:
        """Delete templates past their purpose's retention or without the consent their
        purpose needs (revoked, expired); erase subjects left with nothing.

        A subject that never had a consent is kept for ``pending_grace`` after creation (the
        time between creating a subject and recording its consent), then erased.
        """
        with self._tx.write() as s:
            policies = list(s.scalars(select(PurposeRow)))
            past: list[tuple[int, int]] = []
            for p in policies:
                if p.retention_days is None:
                    continue
                cutoff = now - timedelta(days=p.retention_days)
                query = select(TemplateRow.id, TemplateRow.subject_row).where(
                    (TemplateRow.purpose == p.name) & (TemplateRow.created_at < cutoff)
                )
                past += [(int(i), int(r)) for i, r in s.execute(query)]
            _delete_ids(s, [i for i, _ in past])
            unconsented = self._unconsented_templates(s, now, policies)
            _delete_ids(s, [i for i, _ in unconsented])
            touched = {r for _, r in past} | {r for _, r in unconsented}
            erased = self._erase_orphans(s, touched, now=now)
            stale = set(
                s.scalars(select(SubjectRow.row).where(SubjectRow.created_at < now - pending_grace))
            )
            erased += self._erase_orphans(s, stale - touched, now=now)
            affected = s.scalars(select(SubjectRow.id).where(SubjectRow.row.in_(touched))).all()
            if touched:  # subjects erased for having nothing left were in no index
                record_changes(s, now, "subject", sorted(touched), None)
        if past or unconsented or erased:
            self._tx.after_commit(lambda: shred_wal(self._engine))
        return SweepResult(len(past), len(unconsented), tuple(erased), tuple(sorted(affected)))

    def _unconsented_templates(
        self, s: Session, now: datetime, policies: Sequence[PurposeRow]
    ) -> list[tuple[int, int]]:
        needs_consent = [p.name for p in policies if p.consent_required]
        own = exists().where(
            (ConsentRow.subject_row == TemplateRow.subject_row)
            & (ConsentRow.purpose == TemplateRow.purpose)
            & active_at(now)
        )
        any_active = exists().where(
            (ConsentRow.subject_row == TemplateRow.subject_row) & active_at(now)
        )
        query = select(TemplateRow.id, TemplateRow.subject_row).where(
            or_(
                TemplateRow.purpose.in_(needs_consent) & ~own,
                TemplateRow.purpose.is_(None) & ~any_active,
            )
        )
        return [(int(i), int(r)) for i, r in s.execute(query)]

    def purpose_counts(self) -> dict[str, tuple[int, int]]:
        """Per purpose: subjects with an active consent now, templates enrolled for it."""
        now = self._clock()
        with self._tx.read() as s:
            subjects = dict(
                s.execute(
                    select(ConsentRow.purpose, func.count(func.distinct(ConsentRow.subject_row)))
                    .where(active_at(now))
                    .group_by(ConsentRow.purpose)
                ).all()
            )
            templates = dict(
                s.execute(
                    select(TemplateRow.purpose, func.count())
                    .where(TemplateRow.purpose.is_not(None))
                    .group_by(TemplateRow.purpose)
                ).all()
            )
            names = s.scalars(select(PurposeRow.name)).all()
        return {n: (int(subjects.get(n, 0)), int(templates.get(n, 0))) for n in names}
