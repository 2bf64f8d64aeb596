"""ArcFace five-point alignment: the points from 68 landmarks and the similarity transform."""

from __future__ import annotations

import numpy as np
import pytest

from facegate.pipeline.align import (
    ARCFACE_TEMPLATE_112,
    arcface_chip,
    arcface_points_from_68,
    arcface_transform,
)
from facegate.types import Landmarks


def test_points_from_68_are_eye_means_nose_tip_and_mouth_corners() -> None:
    pts = np.zeros((68, 2), np.float32)
    pts[36:42] = [[10, 20], [12, 18], [14, 18], [16, 20], [14, 22], [12, 22]]  # mean (13, 20)
    pts[42:48] = [[40, 21], [42, 19], [44, 19], [46, 21], [44, 23], [42, 23]]  # mean (43, 21)
    pts[30] = [28, 35]
    pts[48] = [18, 50]
    pts[54] = [38, 51]
    five = arcface_points_from_68(Landmarks(pts))
    assert five.dtype == np.float32 and five.shape == (5, 2)
    np.testing.assert_allclose(five, [[13, 20], [43, 21], [28, 35], [18, 50], [38, 51]])
    np.testing.assert_array_equal(arcface_points_from_68(pts), five)


def test_points_from_68_rejects_other_layouts() -> None:
    with pytest.raises(ValueError, match="68, 2"):
        arcface_points_from_68(np.zeros((5, 2)))


def test_transform_of_scaled_shifted_template_is_hand_computed_inverse() -> None:
    # The face is the template, twice as large, moved by (10, 20): the image -> chip map is
    # x' = (x - 10) / 2, y' = (y - 20) / 2.
    points = ARCFACE_TEMPLATE_112 * 2 + [10, 20]
    np.testing.assert_allclose(arcface_transform(points), [[0.5, 0, -5], [0, 0.5, -10]], atol=1e-9)


def test_transform_of_rotated_template_is_hand_computed_inverse() -> None:
    # Rotated by +90 degrees about the origin: (x, y) -> (-y, x). The inverse is
    # (x, y) -> (y, -x), i.e. [[0, 1, 0], [-1, 0, 0]].
    points = ARCFACE_TEMPLATE_112 @ np.array([[0.0, 1.0], [-1.0, 0.0]])
    np.testing.assert_allclose(points[0], [-51.6963, 38.2946])
    np.testing.assert_allclose(arcface_transform(points), [[0, 1, 0], [-1, 0, 0]], atol=1e-9)


def test_transform_scales_template_with_chip_size() -> None:
    np.testing.assert_allclose(
        arcface_transform(ARCFACE_TEMPLATE_112, 224), [[2, 0, 0], [0, 2, 0]], atol=1e-9
    )


def test_chip_puts_the_marked_points_on_the_template() -> None:
    rng = np.random.default_rng(0)
    image = np.zeros((400, 300, 3), np.uint8)
    angle, scale, shift = 0.2, 2.3, np.array([60.0, 90.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = ARCFACE_TEMPLATE_112 @ rot.T + shift
    colours = rng.integers(60, 255, size=(5, 3), dtype=np.uint8)
    for (x, y), colour in zip(np.round(points).astype(int), colours, strict=True):
        image[y - 4 : y + 5, x - 4 : x + 5] = colour  # a 9x9 patch, about 4x4 in the chip
    chip = arcface_chip(image, points)
    assert chip.shape == (112, 112, 3) and chip.dtype == np.uint8
    for (x, y), colour in zip(np.round(ARCFACE_TEMPLATE_112).astype(int), colours, strict=True):
        np.testing.assert_array_equal(chip[y, x], colour)
    assert chip[0, 0].tolist() == [0, 0, 0]


def test_chip_of_template_points_is_the_image_itself() -> None:
    image = np.random.default_rng(1).integers(0, 255, size=(112, 112, 3), dtype=np.uint8)
    np.testing.assert_array_equal(arcface_chip(image, ARCFACE_TEMPLATE_112), image)


def test_chip_rejects_bad_points() -> None:
    image = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(ValueError, match="5, 2"):
        arcface_chip(image, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="finite"):
        arcface_chip(image, np.full((5, 2), np.nan))
