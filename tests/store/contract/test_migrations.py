"""Every Alembic revision upgrades and downgrades on every backend, and head is the models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from contract_backend import Backend

from facegate.store import migrate
from facegate.store.schema import Base


def _step(backend: Backend, action: str, revision: str) -> None:
    cfg = migrate._alembic_config()
    with backend.engine().begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def test_each_revision_up_and_down_then_head_matches_models(backend: Backend) -> None:
    revisions = [
        r.revision
        for r in reversed(
            list(ScriptDirectory.from_config(migrate._alembic_config()).walk_revisions())
        )
    ]
    engine = backend.engine()
    for revision in revisions:
        _step(backend, "upgrade", revision)
        assert migrate.current_revision(engine) == revision
    _step(backend, "downgrade", "base")
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    migrate.upgrade(engine)  # idempotent
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()
