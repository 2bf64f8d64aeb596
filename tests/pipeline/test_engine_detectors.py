"""FaceEngine with detectors that bring their own keypoints, and the detector choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facegate.config import EngineConfig
from facegate.errors import ModelFileMissingError
from facegate.models.base import Detection
from facegate.pipeline.engine import FaceEngine
from facegate.types import BBox, ImageArray, Landmarks

from .test_engine import CAL, FakeEmbedder, FakeLandmarker


class FakeKeypointDetector:
    name = "fake-kp"
    keypoint_layout = "arcface5"

    def load(self) -> None:
        pass

    def detect_keypoints(self, image: ImageArray) -> list[Detection]:
        pts = np.array([[40, 50], [80, 50], [60, 70], [45, 90], [75, 90]], np.float32)
        return [Detection(BBox(20, 20, 100, 110), 0.97, Landmarks(pts))]

    def detect(self, image: ImageArray) -> list[tuple[BBox, float]]:
        return [(d.box, d.score) for d in self.detect_keypoints(image)]


def test_keypoints_reach_the_face_and_its_json() -> None:
    engine = FaceEngine(
        detector=FakeKeypointDetector(),
        landmarker=FakeLandmarker(),
        embedder=FakeEmbedder(),
        calibration=CAL,
    )
    face = engine.analyze(np.zeros((150, 150, 3), np.uint8)).faces[0]
    assert face.keypoints is not None and face.embedding is not None
    assert face.to_dict()["keypoints"][0] == [40.0, 50.0]
    assert face.landmarks is not None and len(face.landmarks) == 5  # dlib's 5 points as before


def test_a_detector_that_is_not_installed_is_a_clear_error(tmp_path: Path) -> None:
    engine = FaceEngine(EngineConfig(detector="mtcnn"), home=tmp_path)
    with pytest.raises(ModelFileMissingError, match="models install mtcnn"):
        engine.detect(np.zeros((64, 64, 3), np.uint8))


def test_landmarks_see_the_adapted_box_the_face_keeps_its_own() -> None:
    from facegate.pipeline.box_adapt import LANDMARK_BOX_ADAPTERS

    seen: list[BBox] = []

    class Recorder(FakeLandmarker):
        def landmarks(self, image: ImageArray, box: BBox) -> Landmarks:
            seen.append(box)
            return super().landmarks(image, box)

    detector = FakeKeypointDetector()
    detector.name = "mtcnn"  # type: ignore[misc]
    engine = FaceEngine(
        detector=detector, landmarker=Recorder(), embedder=FakeEmbedder(), calibration=CAL
    )
    face = engine.detect(np.zeros((150, 150, 3), np.uint8)).faces[0]
    assert face.box == BBox(20, 20, 100, 110)
    assert seen == [LANDMARK_BOX_ADAPTERS["mtcnn"].apply(face.box, 150, 150)] != [face.box]
