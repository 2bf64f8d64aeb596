"""Store queries for templates: sealed on the way in, opened on the way out.

Mixed into :class:`facegate.store.sql.SqlStore`. A template is sealed with its subject's data
key (AES-GCM, bound to the subject id and the pack) before it reaches the database; the data
key is stored only wrapped by the master key (:mod:`facegate.store.crypto`). Reads decrypt in
this process and never hand out a sealed blob.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from facegate.errors import StoreCorruptError
from facegate.store import crypto
from facegate.store.changes import record_changes
from facegate.store.consents import active_at, consent_required
from facegate.store.protocol import IntArray, NewTemplate, TemplateInfo
from facegate.store.schema import ConsentRow, DataKeyRow, SubjectRow, TemplateRow
from facegate.store.transactions import Transactions
from facegate.types import FloatArray


def usable_for(purpose: str) -> Any:
    """Templates enrolled for ``purpose``, or before templates were bound to one (NULL)."""
    return or_(TemplateRow.purpose == purpose, TemplateRow.purpose.is_(None))


def template_value(subject_id: str, row: TemplateRow) -> TemplateInfo:
    return TemplateInfo(
        row.id,
        subject_id,
        row.pack,
        row.dim,
        row.quality,
        row.image_sha256,
        row.created_at,
        row.purpose,
    )


class TemplateQueries:
    """Add, list and decrypt templates; stream a purpose's vectors for its search index."""

    _tx: Transactions
    _master: crypto.MasterKey
    _clock: Callable[[], datetime]

    def _subject_row(self, s: Session, subject_id: str) -> SubjectRow:
        raise NotImplementedError

    def _data_key(self, s: Session, subject: SubjectRow) -> bytes:
        key_row = s.get(DataKeyRow, subject.row)
        if key_row is None:
            raise StoreCorruptError(f"subject {subject.id} has no data key")
        return self._master.unwrap(subject.id, key_row.wrapped)

    def add_templates(
        self, subject_id: str, templates: Sequence[NewTemplate], purpose: str | None = None
    ) -> list[TemplateInfo]:
        """Seal and store ``templates`` for ``purpose`` in one transaction.

        A template already stored for the subject, pack, image and purpose is skipped.
        """
        now = self._clock()
        with self._tx.write() as s:
            subject = self._subject_row(s, subject_id)
            dek = self._data_key(s, subject)
            existing = s.execute(
                select(TemplateRow.pack, TemplateRow.image_sha256).where(
                    (TemplateRow.subject_row == subject.row) & (TemplateRow.purpose == purpose)
                    if purpose is not None
                    else (TemplateRow.subject_row == subject.row) & TemplateRow.purpose.is_(None)
                )
            )
            seen = {(pack, sha) for pack, sha in existing}
            rows: list[TemplateRow] = []
            for t in templates:
                if (t.pack, t.image_sha256) in seen:
                    continue
                seen.add((t.pack, t.image_sha256))
                sealed = crypto.seal_vector(dek, subject.id, t.pack, t.vector)
                rows.append(
                    TemplateRow(
                        subject_row=subject.row,
                        sealed=sealed,
                        pack=t.pack,
                        dim=int(t.vector.shape[0]),
                        quality=t.quality,
                        image_sha256=t.image_sha256,
                        created_at=now,
                        purpose=purpose,
                    )
                )
            s.add_all(rows)
            s.flush()
            if rows:
                record_changes(s, now, "subject", [subject.row], purpose)
            return [template_value(subject_id, r) for r in rows]

    def templates(self, subject_id: str) -> list[TemplateInfo]:
        with self._tx.read() as s:
            subject = self._subject_row(s, subject_id)
            rows = s.scalars(
                select(TemplateRow)
                .where(TemplateRow.subject_row == subject.row)
                .order_by(TemplateRow.id)
            )
            return [template_value(subject_id, r) for r in rows]

    def subject_vectors(self, subject_id: str, pack: str, purpose: str | None = None) -> FloatArray:
        """The subject's decrypted templates of ``pack`` (usable for ``purpose``, if given)."""
        with self._tx.read() as s:
            subject = self._subject_row(s, subject_id)
            dek = self._data_key(s, subject)
            where = (TemplateRow.subject_row == subject.row) & (TemplateRow.pack == pack)
            if purpose is not None:
                where = where & usable_for(purpose)
            sealed = s.scalars(
                select(TemplateRow.sealed).where(where).order_by(TemplateRow.id)
            ).all()
            vectors = [crypto.open_vector(dek, subject_id, pack, blob) for blob in sealed]
        if not vectors:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack(vectors).astype(np.float32, copy=False)

    def iter_purpose_vectors(
        self, purpose: str, pack: str, batch: int = 4096
    ) -> Iterator[tuple[IntArray, FloatArray]]:
        """Decrypted ``(subject rows, vectors)`` of every subject consented for ``purpose``."""
        consented: Any = exists().where(
            (ConsentRow.subject_row == TemplateRow.subject_row)
            & (ConsentRow.purpose == purpose)
            & active_at(self._clock())
        )
        with self._tx.read() as s:
            if not consent_required(s, purpose):
                consented = TemplateRow.purpose == purpose
        query = (
            select(TemplateRow.subject_row, SubjectRow.id, DataKeyRow.wrapped, TemplateRow.sealed)
            .join(SubjectRow, SubjectRow.row == TemplateRow.subject_row)
            .join(DataKeyRow, DataKeyRow.subject_row == TemplateRow.subject_row)
            .where((TemplateRow.pack == pack) & consented & usable_for(purpose))
            .order_by(TemplateRow.subject_row, TemplateRow.id)
        )
        with self._tx.read(snapshot=True) as s:
            result = s.execute(query.execution_options(yield_per=batch))
            for chunk in result.partitions(batch):
                yield self._open_chunk(pack, chunk)

    def _open_chunk(self, pack: str, chunk: Sequence[Any]) -> tuple[IntArray, FloatArray]:
        rows = np.empty(len(chunk), dtype=np.int64)
        vectors: list[FloatArray] = []
        dek_row, dek = -1, b""
        for i, (subject_row, subject_id, wrapped, sealed) in enumerate(chunk):
            if subject_row != dek_row:
                dek_row, dek = subject_row, self._master.unwrap(subject_id, wrapped)
            rows[i] = subject_row
            vectors.append(crypto.open_vector(dek, subject_id, pack, sealed))
        return rows, np.stack(vectors).astype(np.float32, copy=False)
