"""Retention: the sweeper deletes templates past their purpose's retention or consent, and
subjects left with nothing; a controllable clock stands in for time passing."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from gallery_fakes import face_image

from facegate.gallery.service import Gallery
from facegate.privacy.purposes import PurposeConfig


def _door(gallery: Gallery, days: int | None = 90) -> None:
    gallery.define_purpose(PurposeConfig(name="door", retention_days=days).to_purpose())


def _enrolled(gallery: Gallery, name: str, person: int, purpose: str = "door") -> str:
    subject = gallery.create_subject(name)
    gallery.grant_consent(subject.id, purpose, "form")
    gallery.enroll(subject.id, [face_image(person, 0), face_image(person, 1)], purpose)
    return subject.id


def test_templates_past_retention_are_swept(gallery: Gallery, clock: object) -> None:
    _door(gallery, days=90)
    ann = _enrolled(gallery, "Ann", 0)
    clock.advance(days=60)  # type: ignore[attr-defined]
    bob = _enrolled(gallery, "Bob", 1)
    assert gallery.sweep().templates == 0
    clock.advance(days=31)  # Ann's templates are 91 days old, Bob's 31
    done = gallery.sweep()
    assert done.templates_past_retention == 2 and done.affected_subjects == (ann,)
    assert gallery.templates(ann) == [] and len(gallery.templates(bob)) == 2
    assert gallery.identify(face_image(0, 9), "door").faces[0].match is None
    assert gallery.identify(face_image(1, 9), "door").faces[0].match is not None
    record = gallery.audit.records(operation="retention.sweep")[-1]
    assert "2 past retention" in record.decision
    assert record.subject_refs == (gallery.audit.subject_ref(ann),)


def test_expired_or_revoked_consent_is_swept_and_empty_subjects_erased(
    gallery: Gallery, clock: object
) -> None:
    _door(gallery, days=None)
    ann = _enrolled(gallery, "Ann", 0)
    bob = _enrolled(gallery, "Bob", 1)
    cy = gallery.create_subject("Cy")
    gallery.grant_consent(cy.id, "door", "form", expires_at=clock() + timedelta(days=10))  # type: ignore[operator]
    gallery.enroll(cy.id, [face_image(2, 0)], "door")
    gallery.revoke_consent(ann, "door")
    clock.advance(days=11)  # type: ignore[attr-defined]
    done = gallery.sweep()
    assert done.templates_without_consent == 3
    assert set(done.erased_subjects) == {ann, cy.id}
    assert [s.id for s in gallery.subjects()] == [bob]


def test_subjects_never_consented_are_erased_after_the_grace(
    gallery: Gallery, clock: object
) -> None:
    waiting = gallery.create_subject("Waiting")
    assert gallery.sweep(pending_grace=timedelta(days=1)).erased_subjects == ()
    clock.advance(days=2)  # type: ignore[attr-defined]
    assert gallery.sweep(pending_grace=timedelta(days=1)).erased_subjects == (waiting.id,)


def test_sweep_from_the_command_line(tmp_path: Path, capsys: object) -> None:
    import pytest

    from facegate.cli.main import main

    data = tmp_path / "data"
    from gallery_fakes import FakeEngine

    with Gallery.open(data, engine=FakeEngine()) as gallery:
        _door(gallery, days=1)
        ann = _enrolled(gallery, "Ann", 0)
    with sqlite3.connect(data / "gallery.db") as db:  # enrolled two days ago
        db.execute("UPDATE templates SET created_at = datetime('now', '-2 days')")
    with pytest.raises(SystemExit) as done:
        main(["privacy", "sweep", "--data", str(data), "--json"])
    assert done.value.code == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert '"templates_past_retention":2' in out
    with Gallery.open(data, engine=FakeEngine()) as gallery:
        assert gallery.templates(ann) == []  # consent still active: the subject stays
