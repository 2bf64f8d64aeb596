"""Persistence of attendance: classes, rosters, sessions, check-ins, review cases, guardians.

Every method joins the write transaction open in its context, so a change and its audit
record commit together (see :mod:`facegate.store.transactions`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from facegate.apps.attendance import Window
from facegate.errors import AppRecordNotFoundError, StoreError
from facegate.store.schema import SubjectRow
from facegate.store.schema_apps import (
    AttendanceClassRow,
    AttendanceSessionRow,
    CheckInRow,
    GuardianConsentRow,
    ReviewCaseRow,
    RosterRow,
)
from facegate.store.transactions import Transactions


@dataclass(frozen=True, slots=True)
class ClassInfo:
    name: str
    purpose: str
    description: str


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str
    class_name: str
    title: str
    kind: str  # "class" or "exam"
    window: Window

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "class": self.class_name,
            "title": self.title,
            "kind": self.kind,
            "opens_at": self.window.opens_at.isoformat(),
            "starts_at": self.window.starts_at.isoformat(),
            "late_after": self.window.late_after.isoformat(),
            "closes_at": self.window.closes_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ReviewCase:
    id: int
    session_id: str
    subject_id: str
    reason: str
    score_band: str | None
    created_at: datetime
    status: str  # open, accepted, rejected
    decided_by: str | None
    note: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "session_id": self.session_id,
            "subject_id": self.subject_id,
            "reason": self.reason,
            "score_band": self.score_band,
            "created_at": self.created_at.isoformat(),
            "status": self.status,
            "decided_by": self.decided_by,
            "note": self.note,
        }


def _session(row: AttendanceSessionRow) -> SessionInfo:
    window = Window(row.opens_at, row.starts_at, row.late_after, row.closes_at)
    return SessionInfo(row.id, row.class_name, row.title, row.kind, window)


def _case(row: ReviewCaseRow, subject_id: str) -> ReviewCase:
    return ReviewCase(
        row.id,
        row.session_id,
        subject_id,
        row.reason,
        row.score_band,
        row.created_at,
        row.status,
        row.decided_by,
        row.note,
    )


class AttendanceStore:
    def __init__(self, tx: Transactions, clock: Callable[[], datetime]) -> None:
        self.tx = tx
        self._clock = clock

    # classes and rosters

    def put_class(self, info: ClassInfo) -> ClassInfo:
        with self.tx.write() as s:
            row = s.get(AttendanceClassRow, info.name)
            if row is None:
                row = AttendanceClassRow(name=info.name, created_at=self._clock())
                s.add(row)
            row.purpose, row.description = info.purpose, info.description
            return info

    def get_class(self, name: str) -> ClassInfo:
        with self.tx.read() as s:
            row = s.get(AttendanceClassRow, name)
            if row is None:
                raise AppRecordNotFoundError(f"no class {name!r}")
            return ClassInfo(row.name, row.purpose, row.description)

    def list_classes(self) -> list[ClassInfo]:
        with self.tx.read() as s:
            rows = s.scalars(select(AttendanceClassRow).order_by(AttendanceClassRow.name))
            return [ClassInfo(r.name, r.purpose, r.description) for r in rows]

    def put_roster(self, class_name: str, subject_row: int, birth: date | None) -> None:
        with self.tx.write() as s:
            row = s.get(RosterRow, (class_name, subject_row))
            if row is None:
                row = RosterRow(class_name=class_name, subject_row=subject_row)
                s.add(row)
            row.birth_date = birth.isoformat() if birth else None

    def remove_from_roster(self, class_name: str, subject_row: int) -> bool:
        with self.tx.write() as s:
            row = s.get(RosterRow, (class_name, subject_row))
            if row is not None:
                s.delete(row)
            return row is not None

    def roster(self, class_name: str) -> list[tuple[str, str, date | None, int]]:
        """(subject id, display name, birth date, subject row) of everyone on the roster."""
        query = (
            select(SubjectRow.id, SubjectRow.display_name, RosterRow.birth_date, SubjectRow.row)
            .join(RosterRow, RosterRow.subject_row == SubjectRow.row)
            .where(RosterRow.class_name == class_name)
        )
        with self.tx.read() as s:
            return [
                (sid, name, date.fromisoformat(born) if born else None, row)
                for sid, name, born, row in s.execute(query)
            ]

    # sessions and check-ins

    def add_session(self, class_name: str, title: str, kind: str, window: Window) -> SessionInfo:
        with self.tx.write() as s:
            if s.get(AttendanceClassRow, class_name) is None:
                raise AppRecordNotFoundError(f"no class {class_name!r}")
            row = AttendanceSessionRow(
                id="as_" + secrets.token_hex(8),
                class_name=class_name,
                title=title,
                kind=kind,
                opens_at=window.opens_at,
                starts_at=window.starts_at,
                late_after=window.late_after,
                closes_at=window.closes_at,
            )
            s.add(row)
            s.flush()
            return _session(row)

    def get_session(self, session_id: str) -> SessionInfo:
        with self.tx.read() as s:
            row = s.get(AttendanceSessionRow, session_id)
            if row is None:
                raise AppRecordNotFoundError(f"no attendance session {session_id!r}")
            return _session(row)

    def sessions(self, class_name: str) -> list[SessionInfo]:
        query = select(AttendanceSessionRow).where(AttendanceSessionRow.class_name == class_name)
        with self.tx.read() as s:
            rows = s.scalars(query.order_by(AttendanceSessionRow.opens_at))
            return [_session(r) for r in rows]

    def check_in(
        self, session_id: str, subject_row: int, at: datetime, method: str, status: str
    ) -> bool:
        """Record a check-in; False (nothing changed) when the subject already checked in."""
        with self.tx.write() as s:
            row = s.get(CheckInRow, (session_id, subject_row))
            if row is not None and row.status != "review":
                return False
            if row is None:
                row = CheckInRow(session_id=session_id, subject_row=subject_row)
                s.add(row)
            row.at, row.method, row.status = at, method, status
            return True

    def clear_pending(self, session_id: str, subject_row: int) -> None:
        with self.tx.write() as s:
            row = s.get(CheckInRow, (session_id, subject_row))
            if row is not None and row.status == "review":
                s.delete(row)

    def checkins(self, session_id: str) -> dict[str, tuple[datetime, str, str]]:
        query = (
            select(SubjectRow.id, CheckInRow.at, CheckInRow.method, CheckInRow.status)
            .join(CheckInRow, CheckInRow.subject_row == SubjectRow.row)
            .where(CheckInRow.session_id == session_id)
        )
        with self.tx.read() as s:
            return {sid: (at, method, status) for sid, at, method, status in s.execute(query)}

    # review cases

    def open_case(self, session_id: str, subject_row: int, reason: str, band: str | None) -> int:
        with self.tx.write() as s:
            row = ReviewCaseRow(
                session_id=session_id,
                subject_row=subject_row,
                reason=reason[:128],
                score_band=band,
                created_at=self._clock(),
                status="open",
            )
            s.add(row)
            s.flush()
            return row.id

    def cases(self, status: str | None = None, session_id: str | None = None) -> list[ReviewCase]:
        query = select(ReviewCaseRow, SubjectRow.id).join(
            SubjectRow, SubjectRow.row == ReviewCaseRow.subject_row
        )
        if status is not None:
            query = query.where(ReviewCaseRow.status == status)
        if session_id is not None:
            query = query.where(ReviewCaseRow.session_id == session_id)
        with self.tx.read() as s:
            return [_case(r, sid) for r, sid in s.execute(query.order_by(ReviewCaseRow.id))]

    def decide_case(self, case_id: int, status: str, by: str, note: str) -> tuple[ReviewCase, int]:
        """Close an open case; returns it and the subject's row."""
        with self.tx.write() as s:
            row = s.get(ReviewCaseRow, case_id)
            if row is None:
                raise AppRecordNotFoundError(f"no review case {case_id}")
            if row.status != "open":
                raise StoreError(f"review case {case_id} is already {row.status}")
            row.status, row.decided_by, row.note = status, by, note[:2000]
            row.decided_at = self._clock()
            subject_id = s.scalars(
                select(SubjectRow.id).where(SubjectRow.row == row.subject_row)
            ).one()
            s.flush()
            return _case(row, subject_id), row.subject_row

    # guardians

    def add_guardian(
        self, subject_row: int, purpose: str, birth: date, guardian: tuple[str, str, str], by: str
    ) -> int:
        name, relation, contact = guardian
        with self.tx.write() as s:
            row = GuardianConsentRow(
                subject_row=subject_row,
                purpose=purpose,
                birth_date=birth.isoformat(),
                guardian_name=name,
                guardian_relation=relation,
                guardian_contact=contact,
                recorded_at=self._clock(),
                recorded_by=by,
            )
            s.add(row)
            s.flush()
            return row.id

    def guardians(self, subject_row: int, purpose: str) -> list[dict[str, str]]:
        query = select(GuardianConsentRow).where(
            GuardianConsentRow.subject_row == subject_row, GuardianConsentRow.purpose == purpose
        )
        with self.tx.read() as s:
            return [
                {
                    "guardian_name": r.guardian_name,
                    "guardian_relation": r.guardian_relation,
                    "guardian_contact": r.guardian_contact,
                    "birth_date": r.birth_date,
                    "recorded_at": r.recorded_at.isoformat(),
                    "recorded_by": r.recorded_by,
                }
                for r in s.scalars(query.order_by(GuardianConsentRow.id))
            ]
