"""The SQLAlchemy store: one SQLite file in WAL mode by default, or PostgreSQL (:mod:`.engines`).

Every public method is one transaction. Templates are sealed with the subject's data key
before they reach the database; the data key is stored only wrapped by the master key.
On SQLite, ``secure_delete`` is on (deleted rows are overwritten with zeros) and erasing a
subject ends with a WAL checkpoint that truncates the write-ahead log.

:class:`SqlStore` holds the engine, the master key and the clock, purposes, subjects, the
change feed and erasure; its other queries come from one mixin per responsibility:
:class:`~facegate.store.consents.ConsentQueries`, :class:`~facegate.store.templates.
TemplateQueries` and :class:`~facegate.store.lifecycle.LifecycleQueries` (policies, erasure
variants, retention).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facegate.errors import PurposeNotFoundError, StoreError, SubjectNotFoundError
from facegate.store import crypto, migrate
from facegate.store.changes import changes_since, latest_change, record_changes
from facegate.store.consents import ConsentQueries, active_at
from facegate.store.engines import DB_FILE_NAME as DB_FILE_NAME
from facegate.store.engines import check_reachable, store_engine
from facegate.store.engines import sqlite_engine as sqlite_engine
from facegate.store.lifecycle import LifecycleQueries, purpose_value, shred_wal
from facegate.store.protocol import Change, Purpose, Subject
from facegate.store.schema import (
    ConsentRow,
    DataKeyRow,
    MetaRow,
    PurposeRow,
    SubjectRow,
    utcnow,
)
from facegate.store.templates import TemplateQueries
from facegate.store.transactions import Transactions

log = logging.getLogger(__name__)

_KEY_CHECK = "master_key_check"


def _subject(row: SubjectRow) -> Subject:
    return Subject(row.id, row.row, row.display_name, row.external_id, row.created_at)


class SqlStore(ConsentQueries, TemplateQueries, LifecycleQueries):
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
                & active_at(self._clock())
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
