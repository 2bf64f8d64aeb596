"""Detection on a scaled copy: the plan, the copy, boxes mapped back; the engine uses it, and a
face in a 5x upscaled real photo is found at the same place with the same embedding."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.config import EngineConfig
from facegate.models.base import Detection
from facegate.pipeline.detect_scale import (
    DetectionPlan,
    UpsampleVariants,
    map_back,
    plan_detection,
    scaled_copy,
)
from facegate.pipeline.engine import FaceEngine
from facegate.types import BBox, ImageArray, Landmarks


def test_plan_scales_large_images_and_chooses_upsampling() -> None:
    small = plan_detection(853, 480, max_side=1600, min_face=40, max_upsample=1)
    assert small == DetectionPlan(1.0, 1)  # 40 px faces need one doubling to reach 80
    assert plan_detection(853, 480, max_side=1600, min_face=80, max_upsample=1).upsample == 0
    big = plan_detection(6000, 6000, max_side=1600, min_face=400, max_upsample=2)
    # 400 px faces would be 107 px at 1600 px: the copy shrinks until they are dlib's 80
    assert big.scale == pytest.approx(80 / 400)
    assert big.upsample == 0
    tall = plan_detection(3000, 12000, max_side=1500, min_face=160, max_upsample=2)
    assert tall.scale == pytest.approx(0.125) and tall.upsample == 2  # 20 px -> capped at 2
    assert plan_detection(100, 100, max_side=1600, min_face=1, max_upsample=0).upsample == 0


def test_plan_shrinks_for_large_faces_down_to_a_floor() -> None:
    """A 250x250 portrait whose faces matter from 40 px: libfacedetection (20 px native)
    detects on a 125x125 copy; the copy is never made smaller than 64 px."""
    portrait = plan_detection(250, 250, max_side=1600, min_face=40, max_upsample=1, native_min=20)
    assert portrait == DetectionPlan(0.5, 0)
    huge = plan_detection(250, 250, max_side=1600, min_face=200, max_upsample=1, native_min=20)
    assert huge.scale == pytest.approx(64 / 250) and huge.upsample == 0
    tiny = plan_detection(50, 40, max_side=1600, min_face=40, max_upsample=1, native_min=20)
    assert tiny == DetectionPlan(1.0, 0)  # already under 64 px: not scaled up, not shrunk


def test_scaled_copy_and_map_back() -> None:
    pixels = np.zeros((3000, 2000, 3), np.uint8)
    copy = scaled_copy(pixels, 0.25)
    assert copy.shape == (750, 500, 3) and copy.flags["C_CONTIGUOUS"]
    assert scaled_copy(pixels, 1.0) is pixels
    points = Landmarks(np.array([[10.0, 20.0], [30.0, 40.0]], np.float32))
    found = [
        Detection(BBox(10, 20, 110, 120), 0.9, points),
        Detection(BBox(450, 700, 520, 760), 0.5),
    ]
    back = map_back(found, 0.25, 2000, 3000)
    assert back[0].box == BBox(40, 80, 440, 480) and back[0].score == 0.9
    assert back[0].keypoints is not None
    np.testing.assert_allclose(back[0].keypoints.points, [[40, 80], [120, 160]])
    assert back[1].box == BBox(1800, 2800, 2000, 3000)  # clipped to the original
    assert map_back(found, 1.0, 2000, 3000) == found


class Recorder:
    """A detector that reports one box in the middle of what it is given, and records sizes."""

    name = "recorder"

    def __init__(self, upsample: int = 1) -> None:
        self.upsample = upsample
        self.seen: list[tuple[int, int, int]] = []
        self.loads = 0

    def load(self) -> None:
        self.loads += 1

    def detect(self, image: ImageArray) -> list[tuple[BBox, float]]:
        h, w = image.shape[:2]
        self.seen.append((w, h, self.upsample))
        return [(BBox(w * 0.25, h * 0.25, w * 0.75, h * 0.75), 1.0)]


def test_engine_detects_on_a_bounded_copy_and_maps_boxes_back() -> None:
    recorder = Recorder(upsample=1)
    config = EngineConfig(detect_max_side=1000, detect_min_face=400)
    engine = FaceEngine(config, detector=recorder)
    result = engine.detect(np.zeros((4000, 3000, 3), np.uint8), quality=False)
    (w, h, upsample), *_ = recorder.seen
    # never the 12 MP original; 400 px faces are 100 px at 1000 px, more than dlib's 80, so
    # the copy shrinks further, to 800 px, and needs no upsampling
    assert max(w, h) == 800
    assert upsample == 0
    assert result.faces[0].box == BBox(750, 1000, 2250, 3000)


def test_upsample_variants_share_the_loaded_model() -> None:
    base = Recorder(upsample=1)
    variants = UpsampleVariants()
    assert variants.get(base, 1) is base
    zero = variants.get(base, 0)
    assert zero is not base and zero.upsample == 0 and base.upsample == 1
    assert variants.get(base, 0) is zero and base.loads == 1


@pytest.mark.slow
def test_upscaled_real_photo_same_face_same_embedding(examples: Path, tmp_path: Path) -> None:
    photo = cv2.imread(str(examples / "obama.jpg"))[:, :, ::-1]
    big = cv2.resize(photo, None, fx=5, fy=5, interpolation=cv2.INTER_CUBIC)  # 4550x5685
    engine = FaceEngine(home=tmp_path)
    original = engine.analyze(np.ascontiguousarray(photo)).faces
    upscaled = engine.analyze(np.ascontiguousarray(big)).faces
    assert len(original) == 1 and len(upscaled) == 1
    a, b = original[0], upscaled[0]
    scaled = BBox(a.box.x1 * 5, a.box.y1 * 5, a.box.x2 * 5, a.box.y2 * 5)
    assert b.box.iou(scaled) > 0.8, (a.box, b.box)
    assert a.embedding is not None and b.embedding is not None
    assert float(np.dot(a.embedding.vector, b.embedding.vector)) > 0.95
