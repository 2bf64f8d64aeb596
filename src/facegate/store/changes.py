"""The change feed: what changed in what a search may return, numbered in commit order.

Each write that changes a purpose's searchable set (templates added or erased, a consent
granted or revoked, a subject, purpose or policy erased or changed) appends a
:class:`Change` in its own transaction, with ``seq`` = the previous highest + 1. Write
transactions hold the writer lock (:mod:`facegate.store.transactions`), so sequence numbers are
allocated, and become visible, in commit order on SQLite and PostgreSQL alike: a reader that
has applied everything up to ``seq`` N never misses a change numbered below a later one.

Every process that keeps a search index polls :func:`latest_change` (one primary-key lookup)
before each search and applies :func:`changes_since` when it moved. Plain SQL, the same on
SQLite and PostgreSQL, and no database-specific notification, by choice: PostgreSQL's
LISTEN/NOTIFY delivers a notification asynchronously, after the writer's commit has returned
(measured in ``bench/store_backends.py``: a fraction of a millisecond on loopback, more under
load), so a search another worker starts just after an erasure or a revocation returned could
still use the old index; and notifications sent while a listener is reconnecting are lost, so
polling would be needed beside it anyway. Polling at each search guarantees that a write whose
commit has returned counts in every process's next search, for the price of one indexed query
(docs/BENCHMARKS.md, "Store backends").

The feed is bounded: each time its sequence passes a multiple of :data:`PRUNE_EVERY`, the write
that passes it also deletes every change older than the newest :data:`KEEP` (one range delete
on the primary key, in the same transaction). The newest change is never deleted, so sequence
numbers keep growing. A poller loses nothing to pruning: one that is up to ``KEEP`` changes
behind reads them all; one further behind would reload its indexes from the store anyway
(:mod:`facegate.gallery.feed` rebuilds when more than a batch is pending), and it also
rebuilds when the first change it reads is not the one after the last it applied (a gap
left by pruning).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from facegate.store.protocol import Change
from facegate.store.schema import ChangeRow

KEEP = 10_000
"""The newest changes always kept (ten times what a poller reads in one batch)."""

PRUNE_EVERY = 1_000
"""Older changes are deleted each time the sequence passes a multiple of this."""


def record_changes(
    s: Session,
    at: datetime,
    kind: str,
    subject_rows: Sequence[int | None] = (None,),
    purpose: str | None = None,
) -> None:
    """Append one change per subject row (``kind`` ``subject`` or ``purpose``) to the feed,
    and prune it when its sequence passes a multiple of :data:`PRUNE_EVERY`."""
    last = s.scalar(select(func.max(ChangeRow.seq))) or 0
    for offset, row in enumerate(subject_rows, start=1):
        s.add(ChangeRow(seq=last + offset, at=at, kind=kind, subject_row=row, purpose=purpose))
    s.flush()
    newest = last + len(subject_rows)
    if newest // PRUNE_EVERY != last // PRUNE_EVERY:
        prune_changes(s, newest, KEEP)


def prune_changes(s: Session, newest: int, keep: int) -> None:
    """Delete the changes older than the newest ``keep`` (at least the newest one stays)."""
    s.execute(delete(ChangeRow).where(ChangeRow.seq <= newest - max(keep, 1)))


def latest_change(s: Session) -> int:
    """The highest sequence number in the feed (0 when empty): one index lookup."""
    return int(s.scalar(select(func.max(ChangeRow.seq))) or 0)


def changes_since(s: Session, seq: int, limit: int) -> list[Change]:
    """Changes after ``seq``, oldest first, at most ``limit``."""
    rows = s.scalars(
        select(ChangeRow).where(ChangeRow.seq > seq).order_by(ChangeRow.seq).limit(limit)
    )
    return [Change(r.seq, r.kind, r.subject_row, r.purpose) for r in rows]
