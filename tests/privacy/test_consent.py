"""Consent: explicit, with evidence; needed for enrolment, identification and verification;
expiry and revocation take effect at once, also while a search is running."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from gallery_fakes import FakeEngine, face_image

from facegate.errors import ConsentRequiredError, StoreError, SubjectNotFoundError
from facegate.gallery.service import Gallery
from facegate.imageio import ImageSource
from facegate.privacy.audit import Actor
from facegate.privacy.purposes import PurposeConfig
from facegate.types import DetectResult


def _who(gallery: Gallery, person: int, purpose: str = "door") -> str | None:
    face = gallery.identify(face_image(person, 9), purpose).faces[0]
    return face.match.subject.id if face.match else None


def test_consent_needs_evidence_and_keeps_it(gallery: Gallery) -> None:
    gallery.add_purpose("door")
    ann = gallery.create_subject("Ann")
    with pytest.raises(StoreError, match="consent needs evidence"):
        gallery.grant_consent(ann.id, "door")
    assert gallery.audit.records()[-1].decision == "refused: StoreError"
    consent = gallery.grant_consent(
        ann.id,
        "door",
        "form 2025-113",
        text="I agree that my face opens the door of block 7. I may withdraw at any time.",
        text_version="v3",
        method="signed-form",
        actor=Actor("a1b2c3d4e5f6"),
    )
    (stored,) = gallery.consents(ann.id)
    assert stored == consent
    assert (stored.text_version, stored.method, stored.recorded_by) == (
        "v3",
        "signed-form",
        "a1b2c3d4e5f6",
    )
    assert stored.text is not None and stored.text.startswith("I agree that my face")
    assert stored.granted_at == gallery.store.clock()  # type: ignore[attr-defined]


def test_no_enrolment_identification_or_verification_without_consent(gallery: Gallery) -> None:
    gallery.add_purpose("door")
    ann = gallery.create_subject("Ann")
    with pytest.raises(ConsentRequiredError):
        gallery.enroll(ann.id, [face_image(0, 0)], "door")
    gallery.grant_consent(ann.id, "door", "form")
    gallery.enroll(ann.id, [face_image(0, 0)], "door")
    assert _who(gallery, 0) == ann.id
    gallery.revoke_consent(ann.id, "door")
    assert _who(gallery, 0) is None
    with pytest.raises(SubjectNotFoundError):  # reads as an unknown id to the purpose
        gallery.verify(face_image(0, 9), ann.id, "door")
    with pytest.raises(ConsentRequiredError):
        gallery.enroll(ann.id, [face_image(0, 1)], "door")
    refused = [r.operation for r in gallery.audit.records() if r.decision.startswith("refused")]
    assert refused == ["enroll", "verify", "enroll"]


def test_consent_expiry_follows_the_clock(gallery: Gallery, clock: object) -> None:
    gallery.add_purpose("door")
    ann = gallery.create_subject("Ann")
    until = clock() + timedelta(days=30)  # type: ignore[operator]
    gallery.grant_consent(ann.id, "door", "form", expires_at=until)
    gallery.enroll(ann.id, [face_image(0, 0)], "door")
    assert _who(gallery, 0) == ann.id
    clock.advance(days=30, seconds=1)  # type: ignore[attr-defined]
    assert _who(gallery, 0) is None
    with pytest.raises(SubjectNotFoundError):  # reads as an unknown id to the purpose
        gallery.verify(face_image(0, 9), ann.id, "door")


def test_purpose_with_a_legal_basis_other_than_consent(gallery: Gallery) -> None:
    policy = PurposeConfig(
        name="watchlist:site-3",
        legal_basis="substantial-public-interest",
        legal_basis_reference="(the statute and clause the controller relies on)",
        consent_required=False,
        retention_days=30,
    )
    gallery.define_purpose(policy.to_purpose())
    ann = gallery.create_subject("Ann")
    gallery.enroll(ann.id, [face_image(0, 0)], "watchlist:site-3")
    assert _who(gallery, 0, "watchlist:site-3") == ann.id
    assert gallery.verify(face_image(0, 9), ann.id, "watchlist:site-3").match
    assert gallery.audit.records()[0].decision.startswith("no consent: substantial-public-interest")


class BlockingEngine(FakeEngine):
    """Holds ``analyze`` until the test releases it, to revoke consent mid-search."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.release = threading.Event()
        self.block = False

    def analyze(self, image: ImageSource) -> DetectResult:
        if self.block:
            self.started.set()
            assert self.release.wait(10)
        return super().analyze(image)


def test_revocation_while_a_search_runs(tmp_path: Path) -> None:
    engine = BlockingEngine()
    with Gallery.open(tmp_path, engine=engine) as gallery:
        gallery.add_purpose("door")
        ann = gallery.create_subject("Ann")
        gallery.grant_consent(ann.id, "door", "form")
        gallery.enroll(ann.id, [face_image(0, 0), face_image(0, 1)], "door")
        assert _who(gallery, 0) == ann.id
        engine.block = True
        results: list[str | None] = []
        search = threading.Thread(target=lambda: results.append(_who(gallery, 0)))
        search.start()
        assert engine.started.wait(10)
        gallery.revoke_consent(ann.id, "door")  # while the search is inside analyze
        engine.release.set()
        search.join(10)
        engine.block = False
        assert results == [None]  # the running search re-checks consent before answering
        assert _who(gallery, 0) is None  # and so does the next one
