"""The SQLAlchemy store: one SQLite file in WAL mode by default, or PostgreSQL (:mod:`.engines`).

Every public method is one transaction. Templates are sealed with the subject's data key
before they reach the database; the data key is stored only wrapped by the master key.
On SQLite, ``secure_delete`` is on (deleted rows are overwritten with zeros) and erasing a
subject ends with a WAL checkpoint that truncates the write-ahead log.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facegate.errors import (
    InvalidRequestError,
    PurposeNotFoundError,
    StoreCorruptError,
    StoreError,
    SubjectNotFoundError,
)
from facegate.store import crypto, migrate
from facegate.store.changes import changes_since, latest_change, record_changes
from facegate.store.engines import DB_FILE_NAME as DB_FILE_NAME
from facegate.store.engines import check_reachable, store_engine
from facegate.store.engines import sqlite_engine as sqlite_engine
from facegate.store.lifecycle import LifecycleQueries, purpose_value, shred_wal
from facegate.store.protocol import (
    Change,
    Consent,
    ConsentEvidence,
    IntArray,
    NewTemplate,
    Purpose,
    Subject,
    TemplateInfo,
)
from facegate.store.schema import (
    ConsentRow,
    DataKeyRow,
    MetaRow,
    PurposeRow,
    SubjectRow,
    TemplateRow,
    utcnow,
)
from facegate.store.transactions import Transactions
from facegate.types import FloatArray

log = logging.getLogger(__name__)

_KEY_CHECK = "master_key_check"


def _active(now: datetime) -> Any:
    return (ConsentRow.revoked_at.is_(None)) & (
        or_(ConsentRow.expires_at.is_(None), ConsentRow.expires_at > now)
    )


def _usable_for(purpose: str) -> Any:
    """Templates enrolled for ``purpose``, or before templates were bound to one (NULL)."""
    return or_(TemplateRow.purpose == purpose, TemplateRow.purpose.is_(None))


def _subject(row: SubjectRow) -> Subject:
    return Subject(row.id, row.row, row.display_name, row.external_id, row.created_at)


def _consent(subject_id: str, row: ConsentRow) -> Consent:
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


def _template(subject_id: str, row: TemplateRow) -> TemplateInfo:
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


class SqlStore(LifecycleQueries):
    """A :class:`facegate.store.protocol.Store` on any SQLAlchemy engine.

    ``clock`` gives "now" for every timestamp and consent check (tests pass a fake one).
    """

    def __init__(
        self,
        engine: Engine,
        master_key: crypto.MasterKey,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self._master = master_key
        self._clock = clock
        self._tx = Transactions(engine)
        check_reachable(engine)
        migrate.upgrade(engine)
        self._check_master_key()

    @classmethod
    def open_sqlite(
        cls, home: Path, master_key: crypto.MasterKey, clock: Callable[[], datetime] = utcnow
    ) -> SqlStore:
        return cls(sqlite_engine(home / DB_FILE_NAME), master_key, clock)

    @classmethod
    def open(
        cls,
        home: Path,
        master_key: crypto.MasterKey,
        url: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> SqlStore:
        """The store at ``url`` (PostgreSQL), else the SQLite file in data dir ``home``."""
        return cls(store_engine(home, url), master_key, clock)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def transactions(self) -> Transactions:
        """The store's transactions; the audit chain and the change feed join them."""
        return self._tx

    def transaction(self) -> AbstractContextManager[object]:
        """One transaction that every store write (and audit record) inside it joins."""
        return self._tx.write()

    @property
    def master_key(self) -> crypto.MasterKey:
        return self._master

    @property
    def clock(self) -> Callable[[], datetime]:
        return self._clock

    def close(self) -> None:
        self._engine.dispose()

    def _check_master_key(self) -> None:
        with self._tx.write() as s:
            row = s.get(MetaRow, _KEY_CHECK)
            if row is None:
                s.add(MetaRow(key=_KEY_CHECK, value=self._master.check_value()))
                return
            self._master.verify_check_value(row.value)

    # purposes

    def add_purpose(self, name: str, description: str = "") -> Purpose:
        with self._tx.write() as s:
            row = s.get(PurposeRow, name)
            if row is None:
                row = PurposeRow(name=name, description=description, created_at=self._clock())
                s.add(row)
                s.flush()
            return purpose_value(row)

    def get_purpose(self, name: str) -> Purpose:
        with self._tx.read() as s:
            row = s.get(PurposeRow, name)
            if row is None:
                raise PurposeNotFoundError(f"no purpose named {name!r}")
            return purpose_value(row)

    def list_purposes(self) -> list[Purpose]:
        with self._tx.read() as s:
            rows = s.scalars(select(PurposeRow).order_by(PurposeRow.name))
            return [purpose_value(r) for r in rows]

    # subjects

    def create_subject(self, display_name: str, external_id: str | None = None) -> Subject:
        subject_id = uuid.uuid4().hex
        try:
            with self._tx.write() as s:
                row = SubjectRow(
                    id=subject_id,
                    external_id=external_id,
                    display_name=display_name,
                    created_at=self._clock(),
                )
                s.add(row)
                s.flush()
                wrapped = self._master.wrap(subject_id, crypto.new_data_key())
                s.add(
                    DataKeyRow(
                        subject_row=row.row,
                        wrapped=wrapped,
                        master_fingerprint=self._master.fingerprint,
                        created_at=self._clock(),
                    )
                )
        except IntegrityError as exc:
            raise StoreError(f"a subject with external id {external_id!r} exists") from exc
        log.info("created subject %s", subject_id)
        return _subject(row)

    def _subject_row(self, s: Session, subject_id: str) -> SubjectRow:
        row = s.scalar(select(SubjectRow).where(SubjectRow.id == subject_id))
        if row is None:
            raise SubjectNotFoundError(f"no subject with id {subject_id!r}")
        return row

    def get_subject(self, subject_id: str) -> Subject:
        with self._tx.read() as s:
            return _subject(self._subject_row(s, subject_id))

    def find_subjects(self, ref: str) -> list[Subject]:
        """Subjects whose id, external id or display name is ``ref`` (id matches first)."""
        with self._tx.read() as s:
            for column in (SubjectRow.id, SubjectRow.external_id):
                row = s.scalar(select(SubjectRow).where(column == ref))
                if row is not None:
                    return [_subject(row)]
            rows = s.scalars(
                select(SubjectRow).where(SubjectRow.display_name == ref).order_by(SubjectRow.row)
            )
            return [_subject(r) for r in rows]

    def list_subjects(self, purpose: str | None = None) -> list[Subject]:
        query = select(SubjectRow).order_by(SubjectRow.row)
        if purpose is not None:
            consented = exists().where(
                (ConsentRow.subject_row == SubjectRow.row)
                & (ConsentRow.purpose == purpose)
                & _active(self._clock())
            )
            query = query.where(consented)
        with self._tx.read() as s:
            return [_subject(r) for r in s.scalars(query)]

    def subjects_by_row(self, rows: Sequence[int]) -> dict[int, Subject]:
        if not rows:
            return {}
        with self._tx.read() as s:
            found = s.scalars(select(SubjectRow).where(SubjectRow.row.in_(list(rows))))
            return {r.row: _subject(r) for r in found}

    # consents

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
                    & _active(now)
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
        return _consent(subject_id, row)

    def revoke_consent(self, subject_id: str, purpose: str) -> bool:
        now = self._clock()
        with self._tx.write() as s:
            subject = self._subject_row(s, subject_id)
            result = s.execute(
                update(ConsentRow)
                .where(
                    (ConsentRow.subject_row == subject.row)
                    & (ConsentRow.purpose == purpose)
                    & _active(now)
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
            return [_consent(subject_id, r) for r in rows]

    def _consent_required(self, s: Session, purpose: str) -> bool:
        row = s.get(PurposeRow, purpose)
        return row is None or bool(row.consent_required)

    def active_rows(self, purpose: str, rows: Sequence[int] | None = None) -> set[int]:
        """Subjects that ``purpose`` may use now: an active consent, or (for a purpose whose
        legal basis is not consent) templates enrolled for it."""
        with self._tx.read() as s:
            if self._consent_required(s, purpose):
                query = select(ConsentRow.subject_row).where(
                    (ConsentRow.purpose == purpose) & _active(self._clock())
                )
                column = ConsentRow.subject_row
            else:
                query = select(TemplateRow.subject_row).where(TemplateRow.purpose == purpose)
                column = TemplateRow.subject_row
            if rows is not None:
                query = query.where(column.in_(list(rows)))
            return set(s.scalars(query))

    # templates

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
            return [_template(subject_id, r) for r in rows]

    def templates(self, subject_id: str) -> list[TemplateInfo]:
        with self._tx.read() as s:
            subject = self._subject_row(s, subject_id)
            rows = s.scalars(
                select(TemplateRow)
                .where(TemplateRow.subject_row == subject.row)
                .order_by(TemplateRow.id)
            )
            return [_template(subject_id, r) for r in rows]

    def subject_vectors(self, subject_id: str, pack: str, purpose: str | None = None) -> FloatArray:
        """The subject's decrypted templates of ``pack`` (usable for ``purpose``, if given)."""
        with self._tx.read() as s:
            subject = self._subject_row(s, subject_id)
            dek = self._data_key(s, subject)
            where = (TemplateRow.subject_row == subject.row) & (TemplateRow.pack == pack)
            if purpose is not None:
                where = where & _usable_for(purpose)
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
            & _active(self._clock())
        )
        with self._tx.read() as s:
            if not self._consent_required(s, purpose):
                consented = TemplateRow.purpose == purpose
        query = (
            select(TemplateRow.subject_row, SubjectRow.id, DataKeyRow.wrapped, TemplateRow.sealed)
            .join(SubjectRow, SubjectRow.row == TemplateRow.subject_row)
            .join(DataKeyRow, DataKeyRow.subject_row == TemplateRow.subject_row)
            .where((TemplateRow.pack == pack) & consented & _usable_for(purpose))
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

    # change feed

    def latest_change(self) -> int:
        """The change feed's highest sequence number (see :mod:`facegate.store.changes`)."""
        with self._tx.read() as s:
            return latest_change(s)

    def changes_since(self, seq: int, limit: int = 1000) -> list[Change]:
        with self._tx.read() as s:
            return changes_since(s, seq, limit)

    # erasure

    def erase_subject(self, subject_id: str) -> None:
        """Delete the subject's templates, consents, data key and record; shred the WAL."""
        with self._tx.write() as s:
            subject = self._subject_row(s, subject_id)
            self._delete_subject(s, subject)
            record_changes(s, self._clock(), "subject", [subject.row], None)
        self._tx.after_commit(lambda: shred_wal(self._engine))
        log.info("erased subject %s", subject_id)
