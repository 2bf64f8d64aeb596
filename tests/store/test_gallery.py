"""Gallery behaviour with a fake engine: consent scoping, open-set decisions, bad input."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from gallery_fakes import FakeEngine, face_image

from facegate.errors import (
    AmbiguousSubjectError,
    ConfigError,
    ConsentRequiredError,
    CorruptImageError,
    EnrollmentError,
    InvalidRequestError,
    LowQualityFaceError,
    MultipleFacesError,
    NoFaceError,
    PurposeNotFoundError,
    SubjectNotFoundError,
)
from facegate.gallery.service import Gallery
from facegate.store.protocol import Subject


def _open(path: Path) -> Gallery:
    return Gallery.open(path, engine=FakeEngine())


def _enrol_people(gallery: Gallery, people: range, purpose: str = "door") -> list[Subject]:
    gallery.add_purpose(purpose)
    subjects = []
    for person in people:
        subject = gallery.create_subject(f"person {person}")
        gallery.grant_consent(subject.id, purpose, "form")
        gallery.enroll(subject.id, [face_image(person, 0), face_image(person, 1)], purpose)
        subjects.append(subject)
    return subjects


def _who(gallery: Gallery, image: np.ndarray, purpose: str = "door") -> str | None:
    face = gallery.identify(image, purpose).faces[0]
    return face.match.subject.display_name if face.match else None


def test_identify_known_unknown_and_candidates(tmp_path: Path) -> None:
    with _open(tmp_path) as gallery:
        _enrol_people(gallery, range(20))
        result = gallery.identify(face_image(3, 9), "door", top_k=3)
        face = result.faces[0]
        assert face.match is not None and face.match.subject.display_name == "person 3"
        assert [c.subject.display_name for c in face.candidates] == ["person 3"]  # none below
        assert face.candidates[0].similarity > 0.8
        assert face.operating_point.name == "fpir=0.01" and result.gallery_size == 20
        stranger = gallery.identify(face_image(500, 0), "door", top_k=20).faces[0]
        assert stranger.match is None and stranger.candidates == []  # unknown lists nobody
        assert stranger.similarity is not None
        two = gallery.identify(face_image(4, 5, faces=2), "door")
        assert [f.match.subject.display_name for f in two.faces if f.match] == [
            "person 4",
            "person 5",
        ]
        assert gallery.identify(face_image(4, 5, faces=0), "door").faces == []


def test_threshold_rises_with_gallery_size(tmp_path: Path) -> None:
    with _open(tmp_path) as gallery:
        _enrol_people(gallery, range(2))
        small = gallery.identify(face_image(1, 3), "door").faces[0].operating_point.threshold
        _enrol_people(gallery, range(2, 40))
        large = gallery.identify(face_image(1, 3), "door").faces[0].operating_point.threshold
        assert large > small


def test_search_is_scoped_to_purpose_and_revocation_is_immediate(tmp_path: Path) -> None:
    with _open(tmp_path) as gallery:
        alice, bob = _enrol_people(gallery, range(2))
        gallery.add_purpose("till")
        assert _who(gallery, face_image(0, 4), "till") is None
        gallery.grant_consent(alice.id, "till", "app opt-in")
        # templates are bound to the purpose they were enrolled for: door's are not till's
        assert _who(gallery, face_image(0, 4), "till") is None
        gallery.enroll(alice.id, [face_image(0, 0)], "till")
        assert _who(gallery, face_image(0, 4), "till") == "person 0"
        assert gallery.revoke_consent(alice.id, "door")
        assert not gallery.revoke_consent(alice.id, "door")
        assert _who(gallery, face_image(0, 4), "door") is None
        assert _who(gallery, face_image(0, 4), "till") == "person 0"
        assert [s.id for s in gallery.subjects("door")] == [bob.id]
        gallery.grant_consent(alice.id, "door", "asked again")
        assert _who(gallery, face_image(0, 4), "door") == "person 0"


def test_expired_consent_is_not_searched_or_enrolled(tmp_path: Path) -> None:
    now = [datetime.now(UTC)]
    with Gallery.open(tmp_path, engine=FakeEngine(), clock=lambda: now[0]) as gallery:
        (alice,) = _enrol_people(gallery, range(1))
        soon = now[0] + timedelta(seconds=1)
        gallery.grant_consent(alice.id, "door", "expires soon", expires_at=soon)
        now[0] += timedelta(seconds=2)
        assert _who(gallery, face_image(0, 4)) is None
        with pytest.raises(ConsentRequiredError):
            gallery.enroll(alice.id, [face_image(0, 7)], "door")


def test_consent_already_expired_is_refused_and_keeps_the_active_one(tmp_path: Path) -> None:
    with _open(tmp_path) as gallery:
        (alice,) = _enrol_people(gallery, range(1))
        before = gallery.consents(alice.id)
        past = datetime.now(UTC) - timedelta(seconds=1)
        with pytest.raises(InvalidRequestError):
            gallery.grant_consent(alice.id, "door", "expired", expires_at=past)
        assert gallery.consents(alice.id) == before and before[0].revoked_at is None
        assert _who(gallery, face_image(0, 4)) == "person 0"
        refused = gallery.audit.records(operation="consent.grant", newest_first=True)[0]
        assert refused.decision.startswith("refused")


def test_results_survive_restart(tmp_path: Path) -> None:
    with _open(tmp_path) as gallery:
        subjects = _enrol_people(gallery, range(10))
        gallery.revoke_consent(subjects[2].id, "door")
        before = [gallery.identify(face_image(p, 8), "door").to_dict() for p in range(11)]
    with _open(tmp_path) as gallery:
        after = [gallery.identify(face_image(p, 8), "door").to_dict() for p in range(11)]
        assert gallery.index_stats()["door"].templates == 18
    assert after == before
    assert before[2]["faces"][0]["subject"] is None and before[3]["faces"][0]["subject"]


def test_bad_input_is_specific_and_writes_nothing(tmp_path: Path) -> None:
    with _open(tmp_path) as gallery:
        (alice,) = _enrol_people(gallery, range(1))
        bob = gallery.create_subject("bob")
        cases: list[tuple[object, type[Exception]]] = [
            (face_image(7, 0, faces=0), NoFaceError),
            (face_image(7, 0, faces=2), MultipleFacesError),
            (face_image(7, 0, size=20), LowQualityFaceError),
            (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40, CorruptImageError),
        ]
        for image, error in cases:
            with pytest.raises(EnrollmentError) as info:
                gallery.enroll(alice.id, [face_image(0, 5), image], "door")  # type: ignore[list-item]
            assert [type(e) for _, e in info.value.failures] == [error]
        assert len(gallery.templates(alice.id)) == 2
        with pytest.raises(SubjectNotFoundError):
            gallery.enroll("0" * 32, [face_image(0, 5)], "door")
        with pytest.raises(PurposeNotFoundError):
            gallery.enroll(alice.id, [face_image(0, 5)], "gym")
        with pytest.raises(PurposeNotFoundError):
            gallery.identify(face_image(0, 5), "gym")
        with pytest.raises(ConsentRequiredError):
            gallery.enroll(bob.id, [face_image(1, 0)], "door")
        with pytest.raises(ConfigError):
            gallery.add_purpose("Bad Name")
        assert gallery.templates(bob.id) == []


def test_skip_failures_and_already_enrolled(tmp_path: Path) -> None:
    with _open(tmp_path) as gallery:
        (alice,) = _enrol_people(gallery, range(1))
        result = gallery.enroll(
            alice.id,
            [face_image(0, 0), face_image(0, 6), face_image(0, 6, faces=0)],
            "door",
            skip_failures=True,
        )
        assert len(result.added) == 1 and result.already_enrolled == ["image 1"]
        assert len(result.failures) == 1 and len(gallery.templates(alice.id)) == 3


def test_duplicate_warning_names_the_other_subject(tmp_path: Path) -> None:
    with _open(tmp_path) as gallery:
        alice, bob = _enrol_people(gallery, range(2))
        result = gallery.enroll(bob.id, [face_image(0, 3)], "door")  # alice's face
        assert [w.other_subject_id for w in result.warnings] == [alice.id]
        assert gallery.enroll(bob.id, [face_image(1, 3)], "door").warnings == []


def test_verify_and_subject_lookup(tmp_path: Path) -> None:
    with _open(tmp_path) as gallery:
        alice, bob = _enrol_people(gallery, range(2))
        assert gallery.verify(face_image(0, 9), alice.id, "door").match
        assert not gallery.verify(face_image(0, 9), bob.id, "door").match
        with pytest.raises(NoFaceError):
            gallery.verify(face_image(0, 9, faces=0), alice.id, "door")
        assert gallery.subject("person 0").id == alice.id
        assert gallery.subject(alice.id).id == alice.id
        gallery.create_subject("person 0")
        with pytest.raises(AmbiguousSubjectError):
            gallery.subject("person 0")
        with pytest.raises(SubjectNotFoundError):
            gallery.subject("nobody")


def test_concurrent_identify_during_enrolment(tmp_path: Path) -> None:
    with _open(tmp_path) as gallery:
        _enrol_people(gallery, range(5))
        errors: list[BaseException] = []

        def search() -> None:
            try:
                for i in range(30):
                    assert _who(gallery, face_image(i % 5, 20 + i)) == f"person {i % 5}"
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        readers = [threading.Thread(target=search) for _ in range(3)]
        for t in readers:
            t.start()
        _enrol_people(gallery, range(5, 15))
        for t in readers:
            t.join()
        assert not errors
        assert gallery.index_stats()["door"].subjects == 15


def test_unknown_lists_nobody_unless_asked_and_audited(tmp_path: Path) -> None:
    with _open(tmp_path) as gallery:
        _enrol_people(gallery, range(20))
        stranger = gallery.identify(face_image(500, 0), "door", top_k=20).faces[0]
        assert stranger.match is None and stranger.to_dict()["candidates"] == []
        listed = gallery.identify(face_image(500, 0), "door", top_k=20, below_threshold=True)
        assert len(listed.faces[0].candidates) == 20
        record = gallery.audit.records(operation="identify", newest_first=True, limit=1)[0]
        assert "below threshold" in record.decision and len(record.subject_refs) == 20


def test_top_k_has_a_maximum(tmp_path: Path) -> None:
    from facegate.errors import InvalidRequestError
    from facegate.gallery.service import MAX_TOP_K

    with _open(tmp_path) as gallery:
        _enrol_people(gallery, range(2))
        for bad in (0, MAX_TOP_K + 1, 100):
            with pytest.raises(InvalidRequestError):
                gallery.identify(face_image(1, 9), "door", top_k=bad)
