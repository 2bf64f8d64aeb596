"""FaceEngine: known answers on real photos, and the pipeline wiring with fake models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facegate.errors import FaceIndexError, ImageError, NoFaceError
from facegate.pipeline.calibration import Calibration
from facegate.pipeline.engine import FaceEngine, largest_face_index
from facegate.types import BBox, Face, FloatArray, ImageArray, Landmarks

CAL = Calibration("dlib", ((1e-1, 0.5), (1e-4, 0.9)), 10**6, "test")


class FakeDetector:
    name = "fake"

    def __init__(self, boxes: list[BBox]) -> None:
        self.boxes = boxes

    def load(self) -> None:
        pass

    def detect(self, image: ImageArray) -> list[tuple[BBox, float]]:
        return [(b, 1.0) for b in self.boxes]


class FakeLandmarker:
    num_points = 5

    def load(self) -> None:
        pass

    def landmarks(self, image: ImageArray, box: BBox) -> Landmarks:
        cx, cy = box.center
        w = box.width
        pts = [
            (cx + 0.3 * w, cy - 0.1 * w),
            (cx + 0.1 * w, cy - 0.1 * w),
            (cx - 0.3 * w, cy - 0.1 * w),
            (cx - 0.1 * w, cy - 0.1 * w),
            (cx, cy + 0.15 * w),
        ]
        return Landmarks(np.array(pts, dtype=np.float32))


class FakeEmbedder:
    chip_size = 150
    dim = 4

    def __init__(self) -> None:
        self.batches: list[int] = []

    def load(self) -> None:
        pass

    def embed(self, chips: ImageArray) -> FloatArray:
        self.batches.append(len(chips))
        means = chips.reshape(len(chips), -1, 3).mean(axis=1)
        vecs = np.concatenate([means, np.ones((len(chips), 1))], axis=1).astype(np.float32)
        out: FloatArray = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        return out


def fake_engine(boxes: list[BBox]) -> tuple[FaceEngine, FakeEmbedder]:
    embedder = FakeEmbedder()
    engine = FaceEngine(
        detector=FakeDetector(boxes),
        landmarker=FakeLandmarker(),
        embedder=embedder,
        calibration=CAL,
    )
    return engine, embedder


def test_analyze_embeds_all_faces_in_one_batch() -> None:
    image = np.zeros((200, 300, 3), np.uint8)
    image[:, 150:] = 255
    engine, embedder = fake_engine([BBox(20, 20, 120, 120), BBox(170, 20, 290, 140)])
    result = engine.analyze(image)
    assert (result.width, result.height) == (300, 200)
    assert embedder.batches == [2]
    vectors = [f.embedding.vector for f in result.faces if f.embedding is not None]
    assert len(vectors) == 2
    for v in vectors:
        assert v.dtype == np.float32
        assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-6)
    assert vectors[0] @ vectors[1] < 0.99  # dark face vs bright face


def test_no_face_is_an_empty_result_not_an_error() -> None:
    engine, embedder = fake_engine([])
    assert engine.analyze(np.zeros((64, 64, 3), np.uint8)).faces == []
    assert embedder.batches == []


def test_verify_picks_largest_face_and_reports_operating_point() -> None:
    engine, _ = fake_engine([BBox(0, 0, 40, 40), BBox(50, 50, 150, 150)])
    image = np.full((200, 200, 3), 120, np.uint8)
    result = engine.verify(image, image, operating_point="fmr=1e-4")
    assert result.match
    assert result.similarity == pytest.approx(1.0, abs=1e-5)
    assert result.operating_point.name == "fmr=0.0001"
    assert result.face_a.box == BBox(50, 50, 150, 150)
    with pytest.raises(FaceIndexError, match="out of range"):
        engine.verify(image, image, face_a=2)


def test_verify_without_face_raises() -> None:
    engine, _ = fake_engine([])
    with pytest.raises(NoFaceError, match="image A"):
        engine.verify(np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64, 3), np.uint8))


def test_largest_face_index() -> None:
    faces = [
        Face(BBox(0, 0, 10, 10), 1.0),
        Face(BBox(0, 0, 30, 10), 1.0),
        Face(BBox(0, 0, 5, 5), 1),
    ]
    assert largest_face_index(faces) == 1


def test_bad_input_raises_image_errors() -> None:
    engine, _ = fake_engine([])
    for bad in (b"", b"not an image at all", np.zeros((1, 1, 3), np.uint8)):
        with pytest.raises(ImageError):
            engine.detect(bad)


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine()


def test_two_people_has_two_faces(engine: FaceEngine, examples: Path) -> None:
    result = engine.detect(examples / "two_people.jpg")
    assert len(result.faces) == 2
    for face in result.faces:
        assert face.landmarks is not None and len(face.landmarks) == 5
        b = face.box
        assert 0 <= b.x1 < b.x2 <= result.width and 0 <= b.y1 < b.y2 <= result.height


def test_obama_matches_obama_not_biden(engine: FaceEngine, examples: Path) -> None:
    same = engine.verify(examples / "obama.jpg", examples / "obama2.jpg")
    other = engine.verify(examples / "obama.jpg", examples / "biden.jpg")
    assert same.match and not other.match
    assert same.similarity > other.similarity + 0.1
    assert same.operating_point.name == "fmr=0.0001"


def test_embedding_matches_dlib_reference(engine: FaceEngine, examples: Path) -> None:
    """The whole pipeline gives dlib's own descriptor (as face_recognition computes it)."""
    import dlib

    from facegate.models.files import model_path

    image = engine.decode(examples / "obama.jpg")
    rect = dlib.get_frontal_face_detector()(image, 1)[0]
    shape = dlib.shape_predictor(str(model_path("shape_predictor_5_face_landmarks.dat")))(
        image, rect
    )
    rec = dlib.face_recognition_model_v1(
        str(model_path("dlib_face_recognition_resnet_model_v1.dat"))
    )
    ref = np.asarray(rec.compute_face_descriptor(image, shape))
    ref = ref / np.linalg.norm(ref)
    ours = engine.analyze(image).faces[0].embedding
    assert ours is not None
    assert float(ours.vector @ ref) > 0.9999


def test_faceless_photo_gives_empty_result(engine: FaceEngine) -> None:
    yy, xx = np.mgrid[0:240, 0:320]
    landscape = np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=-1).astype(np.uint8)
    assert engine.analyze(landscape).faces == []


def test_analyze_many_matches_analyze_and_batches_once() -> None:
    images = [np.full((120, 160, 3), v, np.uint8) for v in (10, 128, 250)]
    engine, embedder = fake_engine([BBox(10, 10, 90, 90)])
    many = engine.analyze_many(images, workers=2)
    assert embedder.batches == [3]
    for image, result in zip(images, many, strict=True):
        single = engine.analyze(image).faces[0].embedding
        assert single is not None and result.faces[0].embedding is not None
        np.testing.assert_allclose(result.faces[0].embedding.vector, single.vector, atol=1e-6)
    assert engine.analyze_many([]) == []


def test_locate_then_add_landmarks_gives_what_detect_gives() -> None:
    engine, _ = fake_engine([BBox(20, 20, 120, 120), BBox(170, 20, 290, 140)])
    image = np.zeros((200, 300, 3), np.uint8)
    located = engine.locate(image)
    assert [f.box for f in located] == [BBox(20, 20, 120, 120), BBox(170, 20, 290, 140)]
    assert all(f.landmarks is None and f.quality is None for f in located)
    completed = engine.add_landmarks(image, located)
    detected = engine.detect(image, quality=False).faces
    for mine, theirs in zip(completed, detected, strict=True):
        assert mine.landmarks is not None and theirs.landmarks is not None
        assert np.array_equal(mine.landmarks.points, theirs.landmarks.points)
    assert engine.add_landmarks(image, completed) == completed  # already there: unchanged
