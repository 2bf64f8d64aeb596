"""The log of biometric operations served over HTTP.

Each identify, verify, enrol, consent change, export and erasure, allowed or refused, adds a
row: time, request id, API key id, operation, purpose, subject ids, decision and HTTP status.
It holds ids only, never images, embeddings or names. It is a plain table, not a tamper-evident
chain: rows could be edited by whoever can write the database. ``GET /v1/audit`` serves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from facegate.store.schema import RequestLogRow, utcnow


@dataclass(frozen=True, slots=True)
class LogEntry:
    request_id: str
    key_id: str
    operation: str
    purpose: str | None
    subject_ids: Sequence[str]
    decision: str
    status: int = 200


def _entry_dict(row: RequestLogRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "request_id": row.request_id,
        "key_id": row.key_id,
        "operation": row.operation,
        "purpose": row.purpose,
        "subject_ids": row.subject_ids.split() if row.subject_ids else [],
        "decision": row.decision,
        "status": row.status,
    }


class RequestLog:
    """Append and page through request log rows (newest first)."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def record(self, entry: LogEntry, at: datetime | None = None) -> None:
        row = RequestLogRow(
            at=at or utcnow(),
            request_id=entry.request_id,
            key_id=entry.key_id,
            operation=entry.operation,
            purpose=entry.purpose,
            subject_ids=" ".join(entry.subject_ids),
            decision=entry.decision[:64],
            status=entry.status,
        )
        with self._sessions.begin() as s:
            s.add(row)

    def page(
        self,
        *,
        limit: int,
        before: int | None = None,
        key_id: str | None = None,
        subject_id: str | None = None,
        operation: str | None = None,
    ) -> list[dict[str, Any]]:
        query = select(RequestLogRow).order_by(RequestLogRow.id.desc()).limit(limit)
        if before is not None:
            query = query.where(RequestLogRow.id < before)
        if key_id is not None:
            query = query.where(RequestLogRow.key_id == key_id)
        if subject_id is not None:
            query = query.where(RequestLogRow.subject_ids.contains(subject_id))
        if operation is not None:
            query = query.where(RequestLogRow.operation == operation)
        with self._sessions() as s:
            return [_entry_dict(r) for r in s.scalars(query)]
