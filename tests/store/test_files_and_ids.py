"""The data dir is private (0700, database files 0600) and template ids are never reused."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from alembic import command
from gallery_fakes import FakeEngine, face_image

from facegate.gallery.service import Gallery
from facegate.server.keys import KeyStore
from facegate.store import migrate
from facegate.store.sql import DB_FILE_NAME, sqlite_engine


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _people(gallery: Gallery, n: int) -> list[str]:
    gallery.add_purpose("door")
    ids = []
    for person in range(n):
        subject = gallery.create_subject(f"person {person}")
        gallery.grant_consent(subject.id, "door", "form")
        gallery.enroll(subject.id, [face_image(person, 0), face_image(person, 1)], "door")
        ids.append(subject.id)
    return ids


def test_new_data_dir_and_database_files_are_private(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    with Gallery.open(home, engine=FakeEngine()) as gallery:
        _people(gallery, 1)
        files = [home / DB_FILE_NAME, home / "master.key"]
        files += [p for p in home.glob(DB_FILE_NAME + "-*")]
        assert _mode(home) == 0o700
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
        assert any(p.name.endswith("-wal") for p in files)


def test_key_store_first_creates_a_private_data_dir(tmp_path: Path) -> None:
    home = tmp_path / "keys-first"
    KeyStore.open(home).close()
    assert _mode(home) == 0o700 and _mode(home / DB_FILE_NAME) == 0o600


def test_existing_database_readable_by_others_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE_NAME
    path.touch(mode=0o644)
    path.chmod(0o644)
    sqlite_engine(path).dispose()
    assert _mode(path) == 0o600


def test_template_ids_are_never_reused_after_erasure(tmp_path: Path) -> None:
    with Gallery.open(tmp_path, engine=FakeEngine()) as gallery:
        (sid,) = _people(gallery, 1)
        highest = max(t.id for t in gallery.templates(sid))
        gallery.erase_template(highest)
        gallery.erase(sid)
        (again,) = _people(gallery, 1)
        assert min(t.id for t in gallery.templates(again)) > highest


def test_upgraded_database_does_not_reuse_an_erased_id(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / DB_FILE_NAME)
    cfg = migrate._alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004_change_feed")  # the schema before template ids were kept
    engine.dispose()
    with Gallery.open(tmp_path, engine=FakeEngine()) as gallery:
        (sid,) = _people(gallery, 1)
        highest = max(t.id for t in gallery.templates(sid))
        gallery.erase_template(highest)
        (other,) = _people(gallery, 1)
        assert min(t.id for t in gallery.templates(other)) > highest


def test_a_second_engine_never_opens_a_database_file_this_process_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing any descriptor of a file drops all of this process's POSIX locks on it,
    SQLite's included (another process could then delete the WAL under this one)."""
    path = tmp_path / DB_FILE_NAME
    first = sqlite_engine(path)
    with first.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")

        def refuse(*args: object, **kwargs: object) -> int:
            raise AssertionError("the database file was opened outside SQLite")

        monkeypatch.setattr("facegate.store.engines.os.open", refuse)
        sqlite_engine(path).dispose()  # what KeyStore.open does beside an open gallery
    first.dispose()
