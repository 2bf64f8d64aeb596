"""An audit record keeps its whole decision (no cut at 128 characters), and the migration
that widened the column will not downgrade while a longer decision would be cut."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from contract_backend import Backend

from facegate.privacy.audit import AuditEvent
from facegate.store import migrate


def test_long_decision_is_kept_whole_and_signed(backend: Backend) -> None:
    decision = "key 0123abcd created: scopes identify; purposes " + ",".join(
        f"access:site-{i:03d}" for i in range(60)
    )
    assert len(decision) > 900
    with backend.gallery() as gallery:
        seq = gallery.record(AuditEvent("key.create", None, (), decision))
        (found,) = [r for r in gallery.audit.records() if r.seq == seq]
        assert found.decision == decision
        assert gallery.audit.verify().ok


def test_downgrade_refuses_while_a_decision_is_too_long(backend: Backend) -> None:
    with backend.gallery() as gallery:
        gallery.record(AuditEvent("key.create", None, (), "x" * 129))
    cfg = migrate._alembic_config()
    widened = ScriptDirectory.from_config(cfg).get_revision("0010_audit_decision_text")
    engine = backend.engine()
    try:
        with pytest.raises(RuntimeError, match="1 audit records have decisions longer"):
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, str(widened.down_revision))
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()
