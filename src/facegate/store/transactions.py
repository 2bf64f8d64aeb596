"""One database transaction per unit of work, joined by every write inside it.

A gallery write (an enrolment, a consent change, an erasure, a purpose policy, an API key) and
the audit record that describes it must commit together or not at all. :class:`Transactions`
makes that possible without passing sessions around: :meth:`Transactions.write` opens a
transaction, or joins the one this thread (this context) already has open, so the store's
methods and :meth:`facegate.privacy.audit.AuditChain.append` called inside one
``with transactions.write():`` block share one commit.

Every write transaction starts by updating the ``writer`` row of ``store_meta``. That plain
``UPDATE`` serialises writers on any database: on SQLite it takes the write lock before the
first read (so a transaction never reads, then fails to upgrade to a writer), on PostgreSQL it
takes a row lock held to commit, in every process on the database, and at READ COMMITTED
(:mod:`facegate.store.engines`) each later statement of the transaction sees every commit made
before the lock was granted. Everything a write transaction allocates (audit sequence numbers,
change-feed sequence numbers) is therefore allocated in commit order, and no two audit records
can name the same predecessor: a writer that skipped the lock would read the same head as
another and collide with it on the ``seq`` primary key (and fail) rather than fork the chain.

Work that must only happen after the commit (truncating SQLite's write-ahead log after an
erasure) is queued with :meth:`Transactions.after_commit`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

WRITER_KEY = "writer"
_LOCK = text("UPDATE store_meta SET value = value WHERE key = :key")


def _autocommit(engine: Engine) -> Engine:
    return engine.execution_options(isolation_level="AUTOCOMMIT")


@dataclass(slots=True)
class _Open:
    session: Session
    after_commit: list[Callable[[], None]] = field(default_factory=list)


class Transactions:
    """Sessions on ``engine``: one shared write transaction per context, plain reads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # Reads outside a write need no transaction of their own on PostgreSQL: at READ
        # COMMITTED every statement has its own snapshot anyway, and autocommit saves the
        # BEGIN and ROLLBACK round trips. SQLite reads keep the one-snapshot session.
        readers = engine if engine.dialect.name == "sqlite" else _autocommit(engine)
        self._readers = sessionmaker(readers, expire_on_commit=False)
        self._open: ContextVar[_Open | None] = ContextVar(f"facegate_tx_{id(self)}", default=None)
        self._lock = threading.Lock()

    @property
    def in_transaction(self) -> bool:
        return self._open.get() is not None

    @contextmanager
    def write(self) -> Iterator[Session]:
        """The open write transaction of this context, or a new one (committed on exit)."""
        current = self._open.get()
        if current is not None:
            yield current.session
            return
        opened = _Open(self._sessions())
        token = self._open.set(opened)
        try:
            # threads of this process queue here rather than in SQLite's busy handler
            with self._lock, opened.session.begin():
                self._take_writer_lock(opened.session)
                yield opened.session
        finally:
            self._open.reset(token)
            opened.session.close()
        for action in opened.after_commit:
            action()

    @contextmanager
    def read(self, snapshot: bool = False) -> Iterator[Session]:
        """The open write transaction of this context (to see its own writes), or a new
        read-only session; ``snapshot``: in a transaction of its own (streamed results)."""
        current = self._open.get()
        if current is not None:
            yield current.session
            return
        with (self._sessions if snapshot else self._readers)() as s:
            yield s

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the open transaction commits (at once if none is open)."""
        current = self._open.get()
        if current is None:
            action()
        else:
            current.after_commit.append(action)

    @staticmethod
    def _take_writer_lock(s: Session) -> None:
        s.execute(_LOCK, {"key": WRITER_KEY})  # the row is created by migration 0004
