"""Run the gallery's Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

import logging
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)
_MIGRATION_LOCK = 0x66616365  # "face": the advisory lock key of schema upgrades


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("facegate.store") / "migrations"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _serialise(conn: Connection) -> None:
    """Let one process at a time migrate: several workers may open a new store at once.

    PostgreSQL: a transaction-level advisory lock (its DDL is transactional, so the whole
    upgrade commits or not at all). SQLite: the write lock, taken before the first read, so
    the upgrade is one transaction there too.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade(engine: Engine) -> None:
    """Bring the database behind ``engine`` to the newest schema revision."""
    head = head_revision()
    if current_revision(engine) == head:
        return
    cfg = _alembic_config()
    with engine.begin() as conn:
        _serialise(conn)
        if MigrationContext.configure(conn).get_current_revision() == head:
            return  # another process upgraded it while this one waited
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    log.info("store schema upgraded to revision %s", head)
