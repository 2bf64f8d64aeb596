"""BlazeFace: anchors, letterbox, weighted NMS, and both models on real photos."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from facegate.errors import ModelFileMissingError
from facegate.imageio import decode
from facegate.models import blazeface_files
from facegate.models.base import KeypointDetector
from facegate.models.blazeface import BACK, FULL, letterbox, ssd_anchors, weighted_nms
from facegate.models.detectors import build_standalone_detector


@pytest.fixture(scope="module")
def blazeface_home(
    blazeface_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    home = tmp_path_factory.mktemp("blazeface-home")
    sources = home / "models" / "sources"
    sources.mkdir(parents=True)
    for entry in blazeface_files.values():
        shutil.copy(entry, sources / entry.stem)  # the fixture names files by their SHA-256
    assert blazeface_files_installed(home)
    return home


def blazeface_files_installed(home: Path) -> bool:
    return blazeface_files.installed(home)


def test_anchor_layouts() -> None:
    back, full = ssd_anchors(BACK), ssd_anchors(FULL)
    assert back.shape == (896, 2) and full.shape == (2304, 2)
    assert back[0].tolist() == [1 / 32, 1 / 32] and back[1].tolist() == [1 / 32, 1 / 32]
    assert np.all((back > 0) & (back < 1)) and np.all((full > 0) & (full < 1))


def test_letterbox_keeps_aspect() -> None:
    batch, (scale, pad_x, pad_y) = letterbox(np.full((100, 200, 3), 255, np.uint8), 256)
    assert batch.shape == (1, 3, 256, 256) and scale == 1.28
    assert (pad_x, pad_y) == (0.0, 64.0)
    assert batch[0, 0, 0, 0] == -1.0 and batch[0, 0, 128, 128] == 1.0


def test_weighted_nms_merges_overlapping_rows() -> None:
    rows = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], float)
    merged = weighted_nms(rows, np.array([0.9, 0.3, 0.8]))
    assert [s for _, s in merged] == [0.9, 0.8]
    assert merged[0][0][0] == pytest.approx(0.25)  # (0 * 0.9 + 1 * 0.3) / 1.2


def test_weighted_nms_ends_on_empty_and_nan_rows() -> None:
    # an empty box has IoU 0 with itself: it must still leave the queue (it once looped forever)
    rows = np.array([[5, 5, 5, 9], [0, 0, 10, 10], [np.nan] * 4], float)
    merged = weighted_nms(rows, np.array([0.9, 0.8, 0.7]))
    assert [s for _, s in merged] == [0.9, 0.8, 0.7]
    assert merged[0][0].tolist() == [5, 5, 5, 9]


def test_not_installed_says_how(tmp_path: Path) -> None:
    with pytest.raises(ModelFileMissingError, match="models install blazeface"):
        build_standalone_detector("blazeface-back", tmp_path)


@pytest.mark.parametrize("name", ["blazeface-back", "blazeface-full"])
def test_two_people(name: str, blazeface_home: Path, examples: Path) -> None:
    detector = build_standalone_detector(name, blazeface_home)
    assert isinstance(detector, KeypointDetector)
    found = detector.detect_keypoints(decode(examples / "two_people.jpg"))
    assert len(found) == 2
    for face in found:
        assert 120 < face.box.width < 200 and 120 < face.box.height < 200
        pts = face.keypoints.points if face.keypoints is not None else np.zeros((0, 2))
        assert pts.shape == (6, 2)
        right_eye, left_eye, nose = pts[0], pts[1], pts[2]
        assert right_eye[0] < nose[0] < left_eye[0]  # the subject's right is the image's left
    assert detector.detect(np.full((200, 300, 3), 127, np.uint8)) == []
