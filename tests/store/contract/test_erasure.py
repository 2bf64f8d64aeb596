"""Erasure on every backend: read the rows back afterwards, nothing about the subject is left
and its wrapped data key is gone (crypto-shredding); the audit chain no longer names it."""

from __future__ import annotations

from contract_backend import Backend
from gallery_fakes import face_image
from sqlalchemy import text

_ROWS_OF = {
    "templates": "SELECT count(*) FROM templates WHERE subject_row = :row",
    "consents": "SELECT count(*) FROM consents WHERE subject_row = :row",
    "data_keys": "SELECT count(*) FROM data_keys WHERE subject_row = :row",
    "subjects": "SELECT count(*) FROM subjects WHERE row = :row",
}


def _counts(backend: Backend, row: int) -> dict[str, int]:
    engine = backend.engine()
    try:
        with engine.connect() as conn:
            return {
                t: int(conn.execute(text(q), {"row": row}).scalar_one())
                for t, q in _ROWS_OF.items()
            }
    finally:
        engine.dispose()


def test_erase_leaves_no_row_and_no_key(backend: Backend) -> None:
    with backend.gallery() as gallery:
        gallery.add_purpose("door")
        ann, bob = gallery.create_subject("Ann Example"), gallery.create_subject("Bob Example")
        for person, subject in enumerate((ann, bob)):
            gallery.grant_consent(subject.id, "door", "form")
            gallery.enroll(subject.id, [face_image(person, 0), face_image(person, 1)], "door")
        assert _counts(backend, ann.row) == {
            "templates": 2,
            "consents": 1,
            "data_keys": 1,
            "subjects": 1,
        }
        gallery.erase(ann.id)
        assert _counts(backend, ann.row) == dict.fromkeys(_ROWS_OF, 0)
        assert _counts(backend, bob.row)["templates"] == 2  # nobody else's rows went
        engine = backend.engine()
        with engine.connect() as conn:
            names = conn.execute(text("SELECT display_name FROM subjects")).scalars().all()
            audit = " ".join(
                conn.execute(text("SELECT subject_refs || decision FROM audit_chain")).scalars()
            )
        engine.dispose()
        assert names == ["Bob Example"]
        assert ann.id not in audit and "Ann" not in audit
        assert gallery.identify(face_image(0, 9), "door").faces[0].match is None
        match = gallery.identify(face_image(1, 9), "door").faces[0].match
        assert match is not None and match.subject.id == bob.id
        assert gallery.audit.verify().ok
