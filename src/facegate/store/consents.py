"""Store queries for consents: grant (superseding the active one), revoke, history, and which
subjects a purpose may use now.

Mixed into :class:`facegate.store.sql.SqlStore`. A grant or a revocation appends to the change
feed in its own transaction (:mod:`facegate.store.changes`), so every process's search index
follows it by its next search.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from facegate.errors import InvalidRequestError, PurposeNotFoundError
from facegate.store.changes import record_changes
from facegate.store.protocol import Consent, ConsentEvidence
from facegate.store.schema import ConsentRow, PurposeRow, SubjectRow, TemplateRow
from facegate.store.transactions import Transactions

log = logging.getLogger(__name__)


def active_at(now: datetime) -> Any:
    """Consents in force at ``now``: not revoked, and not expired."""
    return (ConsentRow.revoked_at.is_(None)) & (
        or_(ConsentRow.expires_at.is_(None), ConsentRow.expires_at > now)
    )


def consent_required(s: Session, purpose: str) -> bool:
    """Whether ``purpose`` rests on consent (an unknown purpose does)."""
    row = s.get(PurposeRow, purpose)
    return row is None or bool(row.consent_required)


def consent_value(subject_id: str, row: ConsentRow) -> Consent:
    return Consent(
        subject_id,
        row.purpose,
        row.evidence,
        row.granted_at,
        row.expires_at,
        row.revoked_at,
        row.text,
        row.text_version,
        row.method,
        row.recorded_by,
    )


class ConsentQueries:
    """Grant, revoke and list consents; the subjects a purpose may use now."""

    _tx: Transactions
    _clock: Callable[[], datetime]

    def _subject_row(self, s: Session, subject_id: str) -> SubjectRow:
        raise NotImplementedError

    def grant_consent(
        self,
        subject_id: str,
        purpose: str,
        evidence: str | ConsentEvidence,
        expires_at: datetime | None = None,
    ) -> Consent:
        now = self._clock()
        if expires_at is not None and expires_at <= now:
            raise InvalidRequestError(
                f"expires_at {expires_at.isoformat()} is already past: a consent must expire "
                "in the future (the active consent, if any, is unchanged)"
            )
        proof = evidence if isinstance(evidence, ConsentEvidence) else ConsentEvidence(evidence)
        with self._tx.write() as s:
            subject = self._subject_row(s, subject_id)
            if s.get(PurposeRow, purpose) is None:
                raise PurposeNotFoundError(f"no purpose named {purpose!r}")
            current = s.scalar(
                select(ConsentRow).where(
                    (ConsentRow.subject_row == subject.row)
                    & (ConsentRow.purpose == purpose)
                    & active_at(now)
                )
            )
            if current is not None:
                current.revoked_at = now  # superseded by the new grant, kept as history
            row = ConsentRow(
                subject_row=subject.row,
                purpose=purpose,
                evidence=proof.evidence,
                granted_at=now,
                expires_at=expires_at,
                text=proof.text,
                text_version=proof.text_version,
                method=proof.method,
                recorded_by=proof.recorded_by,
            )
            s.add(row)
            record_changes(s, now, "subject", [subject.row], purpose)
        log.info("consent granted: subject %s purpose %s", subject_id, purpose)
        return consent_value(subject_id, row)

    def revoke_consent(self, subject_id: str, purpose: str) -> bool:
        now = self._clock()
        with self._tx.write() as s:
            subject = self._subject_row(s, subject_id)
            result = s.execute(
                update(ConsentRow)
                .where(
                    (ConsentRow.subject_row == subject.row)
                    & (ConsentRow.purpose == purpose)
                    & active_at(now)
                )
                .values(revoked_at=now)
            )
            changed = bool(getattr(result, "rowcount", 0))
            if changed:
                record_changes(s, now, "subject", [subject.row], purpose)
        log.info("consent revoked: subject %s purpose %s (%s)", subject_id, purpose, changed)
        return changed

    def consents(self, subject_id: str) -> list[Consent]:
        with self._tx.read() as s:
            subject = self._subject_row(s, subject_id)
            rows = s.scalars(
                select(ConsentRow)
                .where(ConsentRow.subject_row == subject.row)
                .order_by(ConsentRow.id)
            )
            return [consent_value(subject_id, r) for r in rows]

    def active_rows(self, purpose: str, rows: Sequence[int] | None = None) -> set[int]:
        """Subjects that ``purpose`` may use now: an active consent, or (for a purpose whose
        legal basis is not consent) templates enrolled for it."""
        with self._tx.read() as s:
            if consent_required(s, purpose):
                query = select(ConsentRow.subject_row).where(
                    (ConsentRow.purpose == purpose) & active_at(self._clock())
                )
                column = ConsentRow.subject_row
            else:
                query = select(TemplateRow.subject_row).where(TemplateRow.purpose == purpose)
                column = TemplateRow.subject_row
            if rows is not None:
                query = query.where(column.in_(list(rows)))
            return set(s.scalars(query))
