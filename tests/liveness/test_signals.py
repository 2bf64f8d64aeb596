"""The pure signal functions: on exact geometry, and on real frames and photos."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from facegate.eval.pad_sim import PlanePose, present
from facegate.liveness import signals
from facegate.liveness.observe import observe_frame
from facegate.pipeline.engine import FaceEngine

from .conftest import Recording


def _projected_model(yaw: float, pitch: float = 0.0) -> np.ndarray:
    """68 points whose six pose landmarks are the generic face rotated by ``yaw``/``pitch``
    and projected by the camera ``head_pose`` assumes (640x480, focal 640)."""
    y, p = math.radians(yaw), math.radians(pitch)
    # yaw > 0 is the subject's left: the nose moves towards the image's right.
    ry = np.array([[math.cos(y), 0, -math.sin(y)], [0, 1, 0], [math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    model = signals._MODEL_3D @ (ry @ rx).T + np.array([0.0, 0.0, 3000.0])
    image = 640.0 * model[:, :2] / model[:, 2:3] + np.array([320.0, 240.0])
    points = np.zeros((68, 2))
    points[list(signals._MODEL_INDEX)] = image
    return points


@pytest.mark.parametrize("yaw", [-30.0, -15.0, 0.0, 20.0, 35.0])
def test_head_pose_recovers_the_yaw_of_an_exact_projection(yaw: float) -> None:
    pose = signals.head_pose(_projected_model(yaw), (640, 480))
    assert pose.yaw == pytest.approx(yaw, abs=1.0)
    assert pose.pitch == pytest.approx(0.0, abs=1.0)


def test_head_pose_pitch_is_positive_when_the_face_tilts_down() -> None:
    assert signals.head_pose(_projected_model(0.0, 20.0), (640, 480)).pitch == pytest.approx(
        20.0, abs=1.0
    )


def test_planar_residual_is_zero_under_an_exact_homography(obama_points: np.ndarray) -> None:
    h = np.array([[0.9, 0.1, 12.0], [-0.05, 1.1, -7.0], [0.0004, -0.0002, 1.0]])
    moved = cv2.perspectiveTransform(obama_points.reshape(-1, 1, 2), h).reshape(-1, 2)
    assert signals.planar_residual(obama_points, moved) < 1e-6


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="68"):
        signals.eye_aspect_ratio(np.zeros((5, 2)))


@pytest.fixture(scope="module")
def obama_points(engine68: FaceEngine, examples) -> np.ndarray:  # type: ignore[no-untyped-def]
    face = engine68.analyze(examples / "obama.jpg").faces[0]
    assert face.landmarks68 is not None
    return face.landmarks68.points.astype(np.float64)


def test_open_eyes_and_a_frontal_head_on_a_real_photo(obama_points: np.ndarray) -> None:
    assert 0.2 < signals.eye_aspect_ratio(obama_points) < 0.45
    assert 0.0 <= signals.mouth_aspect_ratio(obama_points) < 0.35  # a smile, lips apart
    assert 0.6 < signals.mouth_width(obama_points) < 1.4
    assert abs(signals.head_pose(obama_points, (1280, 1600)).yaw) < 15
    assert signals.face_size(obama_points) > 100


def test_a_real_head_turn_shows_yaw_and_parallax(hamilton_turns: Recording) -> None:
    tracked = [(t, faces[0]) for t, faces in hamilton_turns if faces]
    first = tracked[0][1]
    assert first.yaw > 25  # frame 82: turned to his left
    turned = [f for _, f in tracked if f.yaw < -20]  # frames 98-115: turned to his right
    assert len(turned) >= 10
    residuals = [signals.planar_residual(first.points, f.points) for f in turned]
    assert float(np.median(residuals)) > 0.1


def test_a_tilted_photo_shows_little_yaw_and_stays_planar(
    engine68: FaceEngine, obama_print: np.ndarray
) -> None:
    background = np.full((480, 640, 3), 90, np.uint8)
    observed = []
    for tilt in (0.0, 20.0, 35.0, -20.0, -35.0):
        frame = present(obama_print, PlanePose(yaw=tilt, roll=2.0), (640, 480), background)
        faces = observe_frame(engine68, frame)
        assert len(faces) == 1
        observed.append(faces[0])
    # Eight landmarks on a 3-D face read a print tilted 35 degrees as a head turned far less
    # (foreshortening is not rotation); whatever yaw it fakes, the points stay on a plane.
    assert max(abs(o.yaw) for o in observed) < 17.5
    residuals = [signals.planar_residual(observed[0].points, o.points) for o in observed[1:]]
    assert max(residuals) < 0.05
