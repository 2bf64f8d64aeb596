"""Subjects, consents, templates and purposes: create, read, update, delete on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from contract_backend import Backend
from gallery_fakes import PACK, face_image

from facegate.errors import StoreError, SubjectNotFoundError
from facegate.store.protocol import Purpose


def test_subjects_consents_templates_round_trip(backend: Backend) -> None:
    with backend.gallery() as gallery:
        gallery.add_purpose("door")
        ann = gallery.create_subject("Ann Example", external_id="emp-1")
        bob = gallery.create_subject("Bob Example")
        assert gallery.subject("emp-1") == ann and gallery.subject(ann.id) == ann
        assert gallery.store.get_subject(bob.id).display_name == "Bob Example"
        assert [s.id for s in gallery.subjects()] == [ann.id, bob.id]
        with pytest.raises(StoreError):
            gallery.create_subject("Someone Else", external_id="emp-1")
        assert gallery.subjects("door") == []

        until = datetime.now(UTC) + timedelta(days=30)
        gallery.grant_consent(ann.id, "door", "form 1", until, text="I agree", method="kiosk")
        (consent,) = gallery.consents(ann.id)
        assert (consent.purpose, consent.text, consent.method) == ("door", "I agree", "kiosk")
        assert consent.expires_at == until.replace(microsecond=consent.expires_at.microsecond)
        assert [s.id for s in gallery.subjects("door")] == [ann.id]

        added = gallery.enroll(ann.id, [face_image(0, 0), face_image(0, 1)], "door").added
        assert len(added) == 2
        templates = gallery.templates(ann.id)
        assert {(t.pack, t.purpose) for t in templates} == {(PACK, "door")}
        assert gallery.store.subject_vectors(ann.id, PACK, "door").shape == (2, 128)
        match = gallery.identify(face_image(0, 9), "door").faces[0].match
        assert match is not None and match.subject.id == ann.id

        gallery.erase_template(templates[0].id)
        assert [t.id for t in gallery.templates(ann.id)] == [templates[1].id]
        assert gallery.revoke_consent(ann.id, "door") is True
        assert gallery.revoke_consent(ann.id, "door") is False
        assert gallery.subjects("door") == []
        assert gallery.identify(face_image(0, 9), "door").faces[0].match is None
        assert gallery.consents(ann.id)[0].revoked_at is not None


def test_purpose_policy_update_and_erase(backend: Backend) -> None:
    with backend.gallery() as gallery:
        now = datetime.now(UTC)
        gallery.define_purpose(Purpose("till", "payment", now, retention_days=90))
        gallery.define_purpose(Purpose("till", "payment at the till", now, retention_days=30))
        (till,) = gallery.purposes()
        assert (till.description, till.retention_days, till.consent_required) == (
            "payment at the till",
            30,
            True,
        )
        ann = gallery.create_subject("Ann Example")
        gallery.grant_consent(ann.id, "till", "form")
        gallery.enroll(ann.id, [face_image(1, 0)], "till")
        erased = gallery.erase_purpose("till")
        assert (erased.templates, erased.consents, erased.erased_subjects) == (1, 1, (ann.id,))
        assert gallery.purposes() == []
        with pytest.raises(SubjectNotFoundError):
            gallery.store.get_subject(ann.id)


def test_reopened_store_keeps_everything(backend: Backend) -> None:
    with backend.gallery() as gallery:
        gallery.add_purpose("door")
        ann = gallery.create_subject("Ann Example")
        gallery.grant_consent(ann.id, "door", "form")
        gallery.enroll(ann.id, [face_image(2, 0)], "door")
    with backend.gallery() as gallery:
        match = gallery.identify(face_image(2, 5), "door").faces[0].match
        assert match is not None and match.subject.id == ann.id
        assert gallery.audit.verify().ok
