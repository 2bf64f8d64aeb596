"""Database engines for the store: one SQLite file by default, or PostgreSQL by URL.

``FACEGATE_STORE__URL`` (:class:`facegate.config.StoreConfig`) picks the database: unset, the
embedded default, ``gallery.db`` in the data dir; ``postgresql+psycopg://user@host/db`` (psycopg
3, the ``postgres`` extra), one PostgreSQL database shared by any number of ``facegate serve``
workers and command-line tools. Both run the same Alembic migrations and the same queries.

PostgreSQL sessions run at READ COMMITTED (its default, pinned here): every write transaction
first takes the writer row lock (:mod:`facegate.store.transactions`) and each statement after
it sees everything committed before the lock was granted, which is what numbering the audit
chain and the change feed in commit order needs. Errors never carry bound parameters.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from facegate.errors import ConfigError, StoreError

DB_FILE_NAME = "gallery.db"
POSTGRES_DRIVER = "postgresql+psycopg"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=FULL",
        "foreign_keys=ON",
        "secure_delete=ON",
        "busy_timeout=10000",
    ):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def _private_database(path: Path) -> None:
    """Create the data dir (0700) and the database file (0600) before SQLite does, so the
    file never exists with wider permissions; SQLite gives its -wal and -shm files the
    database file's mode. Existing database files readable by others are tightened."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        # Never open and close a database file this process may already hold: closing any
        # descriptor of a file drops every POSIX lock the process has on it, SQLite's too.
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass  # another process created it first
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if name.exists() and name.stat().st_mode & 0o077:
            os.chmod(name, 0o600)


def sqlite_engine(path: Path) -> Engine:
    """An engine for one SQLite file (mode 0600, in a 0700 data dir when it creates it)
    with the pragmas the store relies on."""
    _private_database(path)
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": 10.0},
        hide_parameters=True,  # errors and logs never carry consent texts, names, evidence
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def postgres_engine(url: str, pool_size: int = 10) -> Engine:
    """An engine on the PostgreSQL database at ``url`` (``postgresql+psycopg://...``)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"store URL is not a database URL: {exc}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername=POSTGRES_DRIVER)
    if parsed.drivername != POSTGRES_DRIVER:
        raise ConfigError(
            f"store URL driver {parsed.drivername!r} is not supported: use "
            f"{POSTGRES_DRIVER}://user@host/database (or leave it unset for SQLite)"
        )
    try:
        return create_engine(
            parsed,
            isolation_level="READ COMMITTED",
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,  # a worker survives a database restart
            hide_parameters=True,
        )
    except (ImportError, NoSuchModuleError) as exc:
        raise ConfigError("PostgreSQL needs psycopg 3: pip install 'facegate[postgres]'") from exc


def store_engine(home: Path, url: str | None) -> Engine:
    """The store's engine: PostgreSQL at ``url``, else the SQLite file in ``home``."""
    if url:
        return postgres_engine(url)
    return sqlite_engine(home / DB_FILE_NAME)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def check_reachable(engine: Engine) -> None:
    """Connect once, so that a database that is down or refuses us fails with one clear line
    (never the password) rather than on the first query."""
    if is_sqlite(engine):
        return
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        where = engine.url.render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise StoreError(f"cannot reach the store database {where}: {reason}") from exc
