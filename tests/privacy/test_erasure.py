"""Erasure of a subject, of one template, of everything for a purpose: rows gone, key gone,
and nothing of the erased subject readable in the database files (main, WAL, journal)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from gallery_fakes import face_image, person_vector

from facegate.gallery.service import Gallery
from facegate.store.crypto import KEY_FILE_NAME, parse_key
from facegate.store.sql import DB_FILE_NAME


def _raw(home: Path) -> bytes:
    return b"".join(
        (home / (DB_FILE_NAME + s)).read_bytes()
        for s in ("", "-wal", "-journal", "-shm")
        if (home / (DB_FILE_NAME + s)).exists()
    )


def _secrets(home: Path, subject_id: str) -> list[bytes]:
    with sqlite3.connect(home / DB_FILE_NAME) as db:
        (row,) = db.execute("SELECT row FROM subjects WHERE id = ?", (subject_id,)).fetchone()
        sealed = [
            r[0] for r in db.execute("SELECT sealed FROM templates WHERE subject_row=?", (row,))
        ]
        wrapped = db.execute("SELECT wrapped FROM data_keys WHERE subject_row=?", (row,)).fetchone()
    return [*sealed, wrapped[0]]


def _people(gallery: Gallery) -> tuple[str, str]:
    gallery.add_purpose("door")
    gallery.add_purpose("till")
    ids = []
    for name, ext, person in (
        ("Zelda Erasable", "ext-zelda-0042", 0),
        ("Yuri Keeps", "ext-yuri", 1),
    ):
        s = gallery.create_subject(name, external_id=ext)
        for purpose in ("door", "till"):
            gallery.grant_consent(s.id, purpose, text=f"{name} agrees to {purpose}")
            gallery.enroll(s.id, [face_image(person, 0), face_image(person, 1)], purpose)
        ids.append(s.id)
    return ids[0], ids[1]


def test_erase_subject_leaves_nothing_readable(gallery: Gallery, tmp_path: Path) -> None:
    home = tmp_path / "data"
    zelda, yuri = _people(gallery)
    secrets = _secrets(home, zelda)
    plain = person_vector(0, 0).astype("<f4").tobytes()
    assert all(s in _raw(home) for s in secrets)
    gallery.erase(zelda)
    raw = _raw(home)
    for needle in [
        *secrets,
        zelda.encode(),
        b"Zelda Erasable",
        b"ext-zelda-0042",
        b"Zelda Erasable agrees",
    ]:
        assert needle not in raw
    assert plain[:32] not in raw
    assert b"Yuri Keeps" in raw and yuri.encode() in raw
    assert gallery.identify(face_image(0, 9), "door").faces[0].match is None
    # the key file cannot open a backup copy of the erased templates: their key is gone
    master = parse_key((home / KEY_FILE_NAME).read_text())
    assert master not in raw
    for blob in secrets[:-1]:
        with pytest.raises(InvalidTag):
            AESGCM(master).decrypt(blob[:12], blob[12:], None)
    (erase,) = gallery.audit.records(operation="erase")
    assert erase.subject_refs == (gallery.audit.subject_ref(zelda),) and gallery.audit.verify().ok


def test_erase_one_template(gallery: Gallery, tmp_path: Path) -> None:
    zelda, _ = _people(gallery)
    door = [t for t in gallery.templates(zelda) if t.purpose == "door"]
    sealed = _secrets(tmp_path / "data", zelda)[0]
    gallery.erase_template(door[0].id)
    assert door[0].id not in {t.id for t in gallery.templates(zelda)}
    assert len(gallery.templates(zelda)) == 3
    assert sealed not in _raw(tmp_path / "data")
    assert gallery.identify(face_image(0, 9), "door").faces[0].match is not None  # one left
    gallery.erase_template(door[1].id)
    assert gallery.identify(face_image(0, 9), "door").faces[0].match is None
    assert gallery.identify(face_image(0, 9), "till").faces[0].match is not None


def test_erase_everything_for_a_purpose(gallery: Gallery, tmp_path: Path) -> None:
    zelda, yuri = _people(gallery)
    only_door = gallery.create_subject("Xena Door-only", external_id="ext-xena")
    gallery.grant_consent(only_door.id, "door", "form")
    gallery.enroll(only_door.id, [face_image(2, 0)], "door")
    xena_secrets = _secrets(tmp_path / "data", only_door.id)
    done = gallery.erase_purpose("door")
    assert (done.templates, done.consents) == (5, 3) and done.erased_subjects == (only_door.id,)
    assert "door" not in {p.name for p in gallery.purposes()}
    assert {t.purpose for t in gallery.templates(zelda)} == {"till"}
    assert {c.purpose for c in gallery.consents(yuri)} == {"till"}
    raw = _raw(tmp_path / "data")
    for needle in [*xena_secrets, b"Xena Door-only", b"ext-xena", b"Zelda Erasable agrees to door"]:
        assert needle not in raw
    assert gallery.identify(face_image(1, 9), "till").faces[0].match is not None
