"""Alignment must reproduce dlib.get_face_chip: the embedder was trained on those chips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facegate.imageio import decode
from facegate.models.files import model_path
from facegate.pipeline.align import (
    MEAN_FACE_5,
    chip_details,
    face_chip,
    pyramid_down,
    quick_face_chip,
    similarity_transform,
)
from facegate.types import Landmarks

dlib = pytest.importorskip("dlib")


@pytest.fixture(scope="module")
def dlib_models() -> tuple[object, object]:
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(model_path("shape_predictor_5_face_landmarks.dat"))),
    )


def test_similarity_transform_recovers_known_transform() -> None:
    angle, scale, shift = 0.3, 2.5, np.array([10.0, -4.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = MEAN_FACE_5 * 100
    m, t = similarity_transform(src, src @ rot.T + shift)
    np.testing.assert_allclose(m, rot, atol=1e-9)
    np.testing.assert_allclose(t, shift, atol=1e-9)


def test_chip_details_of_canonical_landmarks_is_identity() -> None:
    size, padding = 150, 0.25
    pts = ((padding + MEAN_FACE_5) / (2 * padding + 1) * size).astype(np.float32)
    details = chip_details(Landmarks(pts), size, padding)
    assert abs(details.angle) < 1e-6
    assert details.right - details.left == pytest.approx(size - 1, abs=1e-4)


def test_pyramid_down_shape_and_flat_image() -> None:
    flat = np.full((101, 64, 3), 200, dtype=np.uint8)
    down = pyramid_down(flat)
    assert down.shape == (49, 30, 3)
    assert np.all(down == 200)
    assert pyramid_down(np.zeros((8, 8, 3), np.uint8)).shape == (0, 0, 3)


def test_wrong_landmark_count_is_rejected() -> None:
    with pytest.raises(ValueError, match="5 dlib landmarks"):
        face_chip(np.zeros((50, 50, 3), np.uint8), Landmarks(np.zeros((68, 2), np.float32)))


@pytest.mark.parametrize(
    "name",
    ["obama.jpg", "biden.jpg", "two_people.jpg", "obama-240p.jpg", "obama-1080p.jpg"],
)
def test_chip_matches_dlib_get_face_chip(
    examples: Path, dlib_models: tuple[object, object], name: str
) -> None:
    detector, predictor = dlib_models
    image = decode(examples / name)
    rects = detector(image, 1)  # type: ignore[operator]
    assert len(rects) > 0
    for rect in rects:
        shape = predictor(image, rect)  # type: ignore[operator]
        reference = dlib.get_face_chip(image, shape, size=150, padding=0.25)
        pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
        mine = face_chip(image, Landmarks(pts))
        diff = np.abs(reference.astype(np.int16) - mine.astype(np.int16))
        assert mine.shape == (150, 150, 3)
        assert diff.mean() < 1.0, f"{name}: mean abs diff {diff.mean():.3f}"


def test_chip_matches_dlib_for_rotated_face(
    examples: Path, dlib_models: tuple[object, object]
) -> None:
    """A tilted face exercises the rotation and pyramid paths."""
    import cv2

    image = decode(examples / "obama.jpg")
    h, w = image.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0)
    tilted = np.ascontiguousarray(cv2.warpAffine(image, turn, (w, h)))
    detector, predictor = dlib_models
    rect = dlib.rectangle(300, 150, 700, 550)
    shape = predictor(tilted, rect)  # type: ignore[operator]
    reference = dlib.get_face_chip(tilted, shape, size=150, padding=0.25)
    pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
    diff = np.abs(reference.astype(np.int16) - face_chip(tilted, Landmarks(pts)).astype(np.int16))
    assert diff.mean() < 1.0


@pytest.mark.parametrize(
    "name", ["obama.jpg", "two_people.jpg", "obama-240p.jpg", "obama-1080p.jpg"]
)
def test_quick_chip_is_close_to_the_exact_chip_and_scores_alike(
    examples: Path, dlib_models: tuple[object, object], name: str
) -> None:
    """OpenCV's chip (video shot ranking) frames the face as dlib's does: small pixel
    differences, quality within a few points."""
    from facegate.pipeline.quality import face_quality

    detector, predictor = dlib_models
    image = decode(examples / name)
    for rect in detector(image, 1):  # type: ignore[operator]
        shape = predictor(image, rect)  # type: ignore[operator]
        marks = Landmarks(np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32))
        exact, quick = face_chip(image, marks), quick_face_chip(image, marks)
        assert quick.shape == exact.shape and quick.dtype == np.uint8
        assert np.abs(exact.astype(np.int16) - quick.astype(np.int16)).mean() < 4.0
        q_exact, q_quick = face_quality(exact, marks).score, face_quality(quick, marks).score
        assert abs(q_exact - q_quick) < 5.0, (name, q_exact, q_quick)


@pytest.mark.parametrize("name", ["obama.jpg", "two_people.jpg", "obama-1080p.jpg"])
def test_fast_chip_is_within_one_grey_level_of_dlibs(
    examples: Path, dlib_models: tuple[object, object], name: str
) -> None:
    """OpenCV's chip (``method="fast"``) samples where dlib does, with dlib's pyramid (the
    1080p face goes through it), truncation and black outside: a grey level at most, rarely."""
    detector, predictor = dlib_models
    image = decode(examples / name)
    for rect in detector(image, 1):  # type: ignore[operator]
        shape = predictor(image, rect)  # type: ignore[operator]
        reference = dlib.get_face_chip(image, shape, size=150, padding=0.25)
        marks = Landmarks(np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32))
        fast = face_chip(image, marks, method="fast")
        diff = np.abs(reference.astype(np.int16) - fast.astype(np.int16))
        assert fast.shape == (150, 150, 3) and fast.dtype == np.uint8
        assert diff.max() <= 1 and diff.mean() < 0.01, (name, diff.max(), diff.mean())


def test_fast_chip_leaves_the_image_black_as_dlib_does(examples: Path) -> None:
    """A face cut by the image border: samples outside it are black in both chips."""
    image = decode(examples / "obama.jpg")
    marks = Landmarks(
        np.array([[560, 300], [520, 302], [420, 300], [460, 302], [490, 380]], np.float32)
    )
    cut = np.ascontiguousarray(image[:, 470:])  # the face's left half is gone
    shifted = Landmarks(marks.points - np.array([470, 0], np.float32))
    exact = face_chip(cut, shifted)
    fast = face_chip(cut, shifted, method="fast")
    assert (exact == 0).all(axis=2).mean() > 0.2  # a black band where the image ends
    assert np.abs(exact.astype(np.int16) - fast.astype(np.int16)).max() <= 1
