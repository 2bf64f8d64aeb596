"""The Alembic migrations create exactly the SQLAlchemy models; SQLite runs in WAL mode."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from facegate.store import migrate
from facegate.store.schema import Base
from facegate.store.sql import DB_FILE_NAME, sqlite_engine


def test_migrations_match_models_and_pragmas(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / DB_FILE_NAME)
    migrate.upgrade(engine)
    migrate.upgrade(engine)  # idempotent
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        pragmas = {
            p: conn.exec_driver_sql(f"PRAGMA {p}").scalar()
            for p in ("journal_mode", "foreign_keys", "secure_delete")
        }
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "secure_delete": 1}
    engine.dispose()
