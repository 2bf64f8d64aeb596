"""Quality components respond to what they measure, and the engine reports the unified score."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.pipeline.quality import Quality, face_quality
from facegate.types import Landmarks


def _landmarks(eye_gap: float, nose_shift: float = 0.0) -> Landmarks:
    cx, cy = 200.0, 200.0
    half = eye_gap / 2
    pts = [
        (cx - half - 10, cy),
        (cx - half + 10, cy),
        (cx + half + 10, cy),
        (cx + half - 10, cy),
        (cx + nose_shift, cy + 40),
    ]
    return Landmarks(np.array(pts, dtype=np.float32))


def _textured_chip(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(60, 200, (150, 150, 3), dtype=np.uint8)


def test_components_respond_to_what_they_measure() -> None:
    chip = _textured_chip()
    good = face_quality(chip, _landmarks(80))
    assert good.size == 1.0 and good.frontal == pytest.approx(1.0)
    assert face_quality(chip, _landmarks(20)).size == 0.0
    assert face_quality(chip, _landmarks(80, nose_shift=38)).frontal < 0.2
    blurred = cv2.GaussianBlur(chip, (0, 0), 5)
    assert face_quality(blurred, _landmarks(80)).sharpness < good.sharpness
    dark = (chip * 0.1).astype(np.uint8)
    assert face_quality(dark, _landmarks(80)).exposure < 0.2
    flat = np.full((150, 150, 3), 128, np.uint8)
    assert face_quality(flat, _landmarks(80)).exposure == 0.0


def test_unified_score_is_a_geometric_mean_in_0_100() -> None:
    assert Quality(1, 1, 1, 1).score == pytest.approx(100.0)
    assert Quality(0.5, 0.5, 0.5, 0.5).score == pytest.approx(50.0)
    assert Quality(0.0, 1, 1, 1).score < 20.0


def test_engine_reports_quality_lower_for_small_faces(examples: Path) -> None:
    from facegate.pipeline.engine import FaceEngine

    engine = FaceEngine()
    big = engine.analyze(examples / "obama.jpg").faces[0]
    small = engine.analyze(examples / "obama-240p.jpg").faces[0]
    assert big.quality is not None and small.quality is not None
    assert 0.0 <= small.quality < big.quality <= 100.0
