"""Encryption at rest, crypto-shredding on erase (checked in the raw files), master keys."""

from __future__ import annotations

import base64
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from gallery_fakes import FakeEngine, face_image, person_vector

from facegate.errors import MasterKeyError
from facegate.gallery.service import Gallery
from facegate.store.crypto import KEY_FILE_NAME, MASTER_KEY_ENV, parse_key
from facegate.store.sql import DB_FILE_NAME


def _raw_store_bytes(home: Path) -> bytes:
    """Every byte the database keeps on disk: main file, WAL and rollback journal."""
    out = b""
    for suffix in ("", "-wal", "-journal", "-shm"):
        path = home / (DB_FILE_NAME + suffix)
        if path.exists():
            out += path.read_bytes()
    return out


def _secrets_of(home: Path, subject_id: str) -> tuple[list[bytes], bytes]:
    with sqlite3.connect(home / DB_FILE_NAME) as db:
        (row,) = db.execute("SELECT row FROM subjects WHERE id = ?", (subject_id,)).fetchone()
        sealed = [
            r[0] for r in db.execute("SELECT sealed FROM templates WHERE subject_row=?", (row,))
        ]
        (wrapped,) = db.execute(
            "SELECT wrapped FROM data_keys WHERE subject_row=?", (row,)
        ).fetchone()
    return sealed, wrapped


def test_embeddings_never_stored_in_plain_form(tmp_path: Path) -> None:
    with Gallery.open(tmp_path, engine=FakeEngine()) as gallery:
        gallery.add_purpose("door")
        alice = gallery.create_subject("Alice Example")
        gallery.grant_consent(alice.id, "door", "form")
        gallery.enroll(alice.id, [face_image(0, 0)], "door")
        raw = _raw_store_bytes(tmp_path)
    plain = person_vector(0, 0).astype("<f4").tobytes()
    assert plain not in raw and plain[:64] not in raw


def test_erase_shreds_rows_key_and_file_contents(tmp_path: Path) -> None:
    with Gallery.open(tmp_path, engine=FakeEngine()) as gallery:
        gallery.add_purpose("door")
        alice = gallery.create_subject("Alice Example")
        bob = gallery.create_subject("Bob Example")
        for subject, person in ((alice, 0), (bob, 1)):
            gallery.grant_consent(subject.id, "door", "form")
            gallery.enroll(subject.id, [face_image(person, 0), face_image(person, 1)], "door")
        sealed, wrapped = _secrets_of(tmp_path, alice.id)
        assert len(sealed) == 2 and _raw_store_bytes(tmp_path).count(wrapped) >= 1
        gallery.erase(alice.id)
        face = gallery.identify(face_image(0, 5), "door").faces[0]
        assert face.match is None
        assert alice.id not in {c.subject.id for c in face.candidates}
        raw = _raw_store_bytes(tmp_path)
        for secret in [*sealed, wrapped, alice.id.encode(), b"Alice Example"]:
            assert secret not in raw
        assert b"Bob Example" in raw  # the other subject is untouched
    with sqlite3.connect(tmp_path / DB_FILE_NAME) as db:
        counts = [
            db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("subjects", "data_keys", "consents", "templates")
        ]
    assert counts == [1, 1, 1, 2]
    # Even with a backup copy of the erased ciphertext, the key file cannot open it.
    master = parse_key((tmp_path / KEY_FILE_NAME).read_text())
    for blob in sealed:
        with pytest.raises(InvalidTag):
            AESGCM(master).decrypt(blob[:12], blob[12:], None)


def test_key_file_is_created_private_and_wrong_key_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MASTER_KEY_ENV, raising=False)
    Gallery.open(tmp_path, engine=FakeEngine()).close()
    key_file = tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    monkeypatch.setenv(MASTER_KEY_ENV, base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(MasterKeyError, match="does not open this store"):
        Gallery.open(tmp_path, engine=FakeEngine())
    monkeypatch.setenv(MASTER_KEY_ENV, key_file.read_text().strip())
    Gallery.open(tmp_path, engine=FakeEngine()).close()
    monkeypatch.delenv(MASTER_KEY_ENV)
    key_file.chmod(0o644)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        Gallery.open(tmp_path, engine=FakeEngine())


def test_env_key_means_no_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MASTER_KEY_ENV, os.urandom(32).hex())
    Gallery.open(tmp_path, engine=FakeEngine()).close()
    assert not (tmp_path / KEY_FILE_NAME).exists()
    monkeypatch.setenv(MASTER_KEY_ENV, "too-short")
    with pytest.raises(MasterKeyError, match="32 bytes"):
        Gallery.open(tmp_path, engine=FakeEngine())
