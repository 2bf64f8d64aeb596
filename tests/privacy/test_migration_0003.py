"""Revision 0003 upgrades a 0002 database in place: rows kept, templates unbound (NULL)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from gallery_fakes import FakeEngine, face_image

from facegate.gallery.service import Gallery
from facegate.store import migrate
from facegate.store.sql import DB_FILE_NAME, sqlite_engine


def test_upgrade_from_0002_keeps_data(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / DB_FILE_NAME)
    cfg = migrate._alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002_api_keys")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO purposes (name, description, created_at) VALUES ('door', '', "
            "'2024-01-01 00:00:00')"
        )
    engine.dispose()
    with Gallery.open(tmp_path, engine=FakeEngine()) as gallery:
        (door,) = gallery.purposes()
        assert door.consent_required and door.legal_basis == "explicit-consent"
        ann = gallery.create_subject("Ann")
        gallery.grant_consent(ann.id, "door", "form")
        gallery.enroll(ann.id, [face_image(0, 0)], "door")
        assert gallery.identify(face_image(0, 3), "door").faces[0].match is not None
        assert gallery.audit.verify().ok
