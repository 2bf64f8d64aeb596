"""ID-photo registration on real photos: the portrait on a photographed card, the
cross-capture operating point, and what the record keeps."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from id_card import id_card, jpeg, photographed, portrait_crop

from facegate.apps import NoticeText, set_notice
from facegate.apps.documents import find_portrait
from facegate.apps.registration import Registrar, registration_point, shipped_points
from facegate.config import RegistrationConfig
from facegate.errors import LivenessRequiredError
from facegate.gallery.service import Gallery
from facegate.imageio import decode
from facegate.liveness.evidence import LivenessEvidence
from facegate.pipeline.engine import FaceEngine
from facegate.store.protocol import Purpose
from facegate.store.schema import AppDecisionRow, utcnow
from facegate.types import ImageArray

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine()


def _largest(engine: FaceEngine, pixels: ImageArray):  # type: ignore[no-untyped-def]
    return max(engine.analyze(pixels).faces, key=lambda f: f.box.area)


@pytest.fixture(scope="module")
def selfie(shared_data: Path) -> bytes:
    """A frame of the Hamilton clip: Lin-Manuel Miranda, live on stage."""
    cap = cv2.VideoCapture(str(shared_data / "video" / "short_hamilton_clip.mp4"))
    for _ in range(93):
        ok, bgr = cap.read()
    cap.release()
    return bytes(cv2.imencode(".jpg", bgr)[1])


def card_of(engine: FaceEngine, photo: Path, height: int, seed: int = 1) -> bytes:
    pixels = decode(photo)
    return jpeg(
        photographed(id_card(portrait_crop(pixels, _largest(engine, pixels).box), height), seed)
    )


def test_a_small_printed_portrait_is_found_by_enlarging(engine: FaceEngine, examples: Path) -> None:
    card = decode(card_of(engine, examples / "lin-manuel-miranda.png", 45))
    assert engine.analyze(card).faces == []  # too small at the engine's own scale
    found = find_portrait(engine, card)
    assert found is not None and found.scale == 2
    # the box is in the photographed card's pixels, on the portrait (left part of the card)
    assert 150 < found.face.box.x1 < 350 and found.face.box.width < 60
    blank = decode(jpeg(photographed(np.full((540, 856, 3), 230, np.uint8))))
    assert find_portrait(engine, blank) is None


def test_the_operating_point_is_the_print_vs_live_one_unless_configured(engine: FaceEngine) -> None:
    shipped = shipped_points()["dlib"]
    point = registration_point(engine.calibration, "dlib", RegistrationConfig())
    assert point.name == shipped["name"] and point.threshold == shipped["threshold"]
    assert point.calibration == "dlib:print-live"
    own = registration_point(
        engine.calibration, "dlib", RegistrationConfig(operating_point="fmr=1e-3")
    )
    assert own.name == "fmr=0.001" and own.calibration == "dlib:shipped"
    assert registration_point(engine.calibration, "other", RegistrationConfig()).name == "fmr=0.001"


@pytest.fixture
def gallery(tmp_path: Path, engine: FaceEngine) -> Iterator[Gallery]:
    with Gallery.open(tmp_path, engine=engine) as g:
        g.define_purpose(Purpose("registration", "SIM registration", utcnow()))
        set_notice(g, "registration", NoticeText("Mobile Co", "dpo@mobile.example", "Ask staff."))
        yield g


def test_registration_accepts_the_holder_and_rejects_another(
    gallery: Gallery, engine: FaceEngine, examples: Path, selfie: bytes
) -> None:
    face = _largest(engine, decode(selfie))
    assert face.embedding is not None
    live = LivenessEvidence(
        "lv_1", True, "active-challenge-v1", "planar>=0.06", "t", face.embedding.vector
    )
    registrar = Registrar(gallery, RegistrationConfig(operating_point="fmr=1e-3"))
    card = card_of(engine, examples / "lin-manuel-miranda.png", 150)
    with pytest.raises(LivenessRequiredError):
        registrar.check(selfie, card, None)
    done = registrar.check(selfie, card, live)
    assert done.outcome == "accept" and done.record.operating_point == "fmr=0.001"
    assert done.record.detail["selfie_sha256"] == hashlib.sha256(selfie).hexdigest()
    assert done.record.detail["document_sha256"] == hashlib.sha256(card).hexdigest()
    assert done.record.detail["images_kept"] is False
    assert "liveness passed" in (done.record.liveness or "")
    other = registrar.check(selfie, card_of(engine, examples / "obama.jpg", 150), live)
    assert other.outcome == "reject"
    assert other.record.detail["reason"] == "the selfie does not match the portrait"
    blank = jpeg(photographed(np.full((540, 856, 3), 230, np.uint8)))
    none = registrar.check(selfie, blank, live)
    assert (
        none.outcome == "reject"
        and none.record.detail["reason"] == "no portrait found on the document"
    )
    with gallery.audit.transactions.read() as s:  # nothing but hashes: no image bytes stored
        details = [r.detail for r in s.query(AppDecisionRow)]
    assert len(details) == 3 and all(len(d) < 1000 for d in details)
    records = gallery.audit.records(operation="app.registration")
    assert [r.decision.split(" ")[0] for r in records] == ["accept", "reject", "reject"]
